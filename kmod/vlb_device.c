// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-loopback device lifecycle and the per-device file descriptor.
 *
 * VLB_IOC_CREATE validates the request, builds the IOVA domain and the
 * devices, returns a per-device fd and registers the virtio device from a
 * work item, so the driver's probe (which sends control messages) never
 * runs in the thread that must answer them. The fd carries the control
 * channel (read/write/poll) and the per-device ioctls. Closing it detaches
 * the device: control messages fail at once, the data plane goes on, and
 * after the grace period the device is removed unless VLB_IOC_REATTACH
 * bound a new fd to it by name.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/ratelimit.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>

#include "vlb_abi_check.h"
#include "vlb_device.h"

unsigned int vlb_msg_timeout_ms = 5000;
module_param_named(msg_timeout_ms, vlb_msg_timeout_ms, uint, 0644);
MODULE_PARM_DESC(msg_timeout_ms, "How long the kernel waits for a control reply (ms)");

static unsigned int vlb_grace_period_ms = 10000;
module_param_named(grace_period_ms, vlb_grace_period_ms, uint, 0644);
MODULE_PARM_DESC(grace_period_ms, "How long a detached device waits for REATTACH (ms)");

/*
 * A fault injection point for the test suite: widens the window between a
 * removal's start and its teardown, which CREATE, REATTACH and unload must
 * respect (tests/vm/cases/transport_lifecycle.sh). Off unless root sets it.
 */
static unsigned int vlb_test_remove_delay_ms;
module_param_named(test_remove_delay_ms, vlb_test_remove_delay_ms, uint, 0644);
MODULE_PARM_DESC(test_remove_delay_ms, "Testing only: sleep this long (ms, 10000 at most) as every removal starts");

/*
 * Every device by name, from CREATE until its removal is complete;
 * vlb_devices_lock also orders attach-state changes (@state is written
 * under it and under the device's msg_lock, so either lock reads it).
 */
static LIST_HEAD(vlb_devices);
static DEFINE_MUTEX(vlb_devices_lock);

/*
 * Register and remove works run here, not on the system workqueue, so that
 * unload can wait for every one of them (destroy_workqueue() drains it):
 * none may run the module's code after vlb_exit(). Unbound, since a probe
 * may sleep on its device for as long as that device's bounds allow.
 */
static struct workqueue_struct *vlb_dev_wq;

static void vlb_device_release(struct kref *ref)
{
	struct vlb_device *vd = container_of(ref, struct vlb_device, ref);

	kfree(vd->vqs);
	kfree(vd);
}

static void vlb_device_put(struct vlb_device *vd)
{
	kref_put(&vd->ref, vlb_device_release);
}

static void vlb_parent_release(struct device *dev)
{
	vlb_device_put(container_of(dev, struct vlb_device, parent));
}

static void vlb_vdev_release(struct device *dev)
{
	vlb_device_put(to_vlb(dev_to_virtio(dev)));
}

/*
 * Queues removal after @delay jiffies, or at once (advancing a pending
 * grace period) if @delay is 0. A queued remove_work holds a reference,
 * dropped by the work or by whoever cancels it. Any context.
 */
static void vlb_queue_removal(struct vlb_device *vd, unsigned long delay)
{
	bool was_pending;

	kref_get(&vd->ref);
	if (delay)
		was_pending = !queue_delayed_work(vlb_dev_wq, &vd->remove_work, delay);
	else
		was_pending = mod_delayed_work(vlb_dev_wq, &vd->remove_work, 0);
	if (was_pending)
		vlb_device_put(vd);	/* the queued work holds one already */
}

/* --------------------------------------------------- control channel */

/* Fails every message still waiting; called under msg_lock. */
static void vlb_fail_pending(struct vlb_device *vd, int err)
{
	struct vlb_pending_msg *p, *n;

	list_for_each_entry_safe(p, n, &vd->msg_queue, node) {
		list_del_init(&p->node);
		p->result = err;
		p->done = true;
	}
	list_for_each_entry_safe(p, n, &vd->msg_sent, node) {
		list_del_init(&p->node);
		p->result = err;
		p->done = true;
	}
	wake_up_all(&vd->msg_waiters);
}

/*
 * The device misbehaved or is gone. From now on every request in flight
 * and every new one completes with an error (vlb_transport.c); control
 * messages fail at once, and the device is removed without waiting for
 * its fd to close: a broken device cannot be resumed, and its driver (the
 * hwrng core's reader, a console's busy-wait) must not wait on it. Any
 * context.
 */
void vlb_mark_broken(struct vlb_device *vd, const char *why)
{
	unsigned long flags;
	unsigned int i;
	bool first, remove;

	spin_lock_irqsave(&vd->msg_lock, flags);
	first = !vd->broken;
	vd->broken = true;
	vlb_fail_pending(vd, -EIO);
	remove = first && vd->state < VLB_REMOVING;
	spin_unlock_irqrestore(&vd->msg_lock, flags);
	if (!first)
		return;
	atomic64_inc(&vd->stats.broken);
	pr_warn_ratelimited("%s: device broken: %s\n", vd->name, why);
	wake_up_interruptible_poll(&vd->msg_readers, EPOLLIN | EPOLLERR);
	for (i = 0; i < vd->params.num_queues; i++)
		vlb_vq_interrupt(&vd->vqs[i]);
	if (remove)
		vlb_queue_removal(vd, 0);
}

int vlb_send_msg(struct vlb_device *vd, struct vlb_msg *msg)
{
	struct vlb_pending_msg p = { .msg = *msg };
	long left;
	int ret;

	might_sleep();
	mutex_lock(&vd->msg_mutex);
	spin_lock_irq(&vd->msg_lock);
	if (vd->state != VLB_ATTACHED || vd->broken) {
		spin_unlock_irq(&vd->msg_lock);
		ret = -ENOTCONN;
		goto out;
	}
	p.msg.seq = ++vd->next_seq;
	p.msg.flags = VLB_MSG_F_REPLY;
	list_add_tail(&p.node, &vd->msg_queue);
	spin_unlock_irq(&vd->msg_lock);
	wake_up_interruptible_poll(&vd->msg_readers, EPOLLIN | EPOLLRDNORM);

	left = wait_event_timeout(vd->msg_waiters, READ_ONCE(p.done),
				  msecs_to_jiffies(vlb_msg_timeout_ms));

	spin_lock_irq(&vd->msg_lock);
	if (!p.done) {
		list_del(&p.node);
		spin_unlock_irq(&vd->msg_lock);
		atomic64_inc(&vd->stats.msg_timeouts);
		vlb_mark_broken(vd, "no reply to a control message in time");
		ret = -ETIMEDOUT;
		goto out;
	}
	ret = p.result;
	spin_unlock_irq(&vd->msg_lock);
out:
	mutex_unlock(&vd->msg_mutex);
	return ret;
}

static ssize_t vlb_dev_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct vlb_device *vd = file->private_data;
	struct vlb_pending_msg *p;
	struct vlb_msg msg;
	int ret;

	if (count < sizeof(msg))
		return -EINVAL;
	spin_lock_irq(&vd->msg_lock);
	while (list_empty(&vd->msg_queue)) {
		spin_unlock_irq(&vd->msg_lock);
		if (READ_ONCE(vd->gone))
			return -ENODEV;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(vd->msg_readers,
					       !list_empty(&vd->msg_queue) ||
					       READ_ONCE(vd->gone));
		if (ret)
			return ret;
		spin_lock_irq(&vd->msg_lock);
	}
	p = list_first_entry(&vd->msg_queue, struct vlb_pending_msg, node);
	msg = p->msg;
	list_move_tail(&p->node, &vd->msg_sent);
	spin_unlock_irq(&vd->msg_lock);

	/* The sender times out if this fails; nothing else to undo. */
	if (copy_to_user(buf, &msg, sizeof(msg)))
		return -EFAULT;
	return sizeof(msg);
}

static ssize_t vlb_dev_write(struct file *file, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	struct vlb_device *vd = file->private_data;
	struct vlb_pending_msg *p;
	struct vlb_reply reply;
	const char *why;
	int ret;

	if (count != sizeof(reply))
		return -EINVAL;
	if (copy_from_user(&reply, buf, sizeof(reply)))
		return -EFAULT;
	ret = vlb_check_reply(&reply, &why);
	if (ret) {
		pr_debug("%s: %s\n", vd->name, why);
		return ret;
	}
	spin_lock_irq(&vd->msg_lock);
	list_for_each_entry(p, &vd->msg_sent, node) {
		if (p->msg.seq != reply.seq)
			continue;
		list_del_init(&p->node);
		p->result = reply.result;
		p->done = true;
		wake_up_all(&vd->msg_waiters);
		spin_unlock_irq(&vd->msg_lock);
		return sizeof(reply);
	}
	spin_unlock_irq(&vd->msg_lock);
	/* No message read with that seq is waiting (late, or never sent). */
	return -ENOENT;
}

static __poll_t vlb_dev_poll(struct file *file, poll_table *wait)
{
	struct vlb_device *vd = file->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &vd->msg_readers, wait);
	spin_lock_irq(&vd->msg_lock);
	if (!list_empty(&vd->msg_queue))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (vd->broken)
		mask |= EPOLLERR;
	if (READ_ONCE(vd->gone))
		mask |= EPOLLERR | EPOLLHUP;
	spin_unlock_irq(&vd->msg_lock);
	return mask;
}

/* ------------------------------------------------------------ ioctls */

static long vlb_dev_set_eventfd(struct vlb_device *vd, void __user *argp,
				bool call)
{
	struct vlb_vq_eventfd e;
	const char *why;
	int ret;

	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	ret = vlb_check_vq_eventfd(&e, vd->params.num_queues, &why);
	if (ret) {
		pr_debug("%s: %s\n", vd->name, why);
		return ret;
	}
	return vlb_set_vq_eventfd(vd, array_index_nospec(e.index, vd->params.num_queues),
				  e.fd, call);
}

static long vlb_dev_config_update(struct vlb_device *vd, void __user *argp)
{
	struct vlb_config_update *u;
	bool driver_ok;
	const char *why;
	int ret;

	u = memdup_user(argp, sizeof(*u));
	if (IS_ERR(u))
		return PTR_ERR(u);
	ret = vlb_check_config_update(u, vd->params.config_size, &why);
	if (ret) {
		pr_debug("%s: %s\n", vd->name, why);
		goto out;
	}
	/*
	 * The space it makes must pass the checks CREATE made: apply it to a
	 * copy, check that, and only then commit, all under config_lock so
	 * that two updates cannot combine into an unchecked one. (@u->data
	 * is reused as the copy.)
	 */
	driver_ok = READ_ONCE(vd->status) & VIRTIO_CONFIG_S_DRIVER_OK;
	/* Each one reaches the driver, and some drivers log every one. */
	if (driver_ok && !__ratelimit(&vd->config_changes)) {
		ret = -EAGAIN;
		goto out;
	}
	spin_lock_irq(&vd->config_lock);
	memmove(u->data + u->offset, u->data, u->len);
	memcpy(u->data, vd->config, u->offset);
	memcpy(u->data + u->offset + u->len, vd->config + u->offset + u->len,
	       vd->params.config_size - u->offset - u->len);
	/* A selection window's selection is the driver's, whatever this says. */
	if (vd->type->select_window)
		memcpy(u->data, vd->config, min_t(u32, 2, vd->params.config_size));
	ret = vlb_check_config_change(&vd->params, vd->config, u->data,
				      !vd->config_answered, &why);
	if (!ret) {
		if (vd->type->mask_config)
			vd->type->mask_config(u->data, vd->params.config_size);
		memcpy(vd->config, u->data, vd->params.config_size);
		vd->config_generation++;
		vd->config_answered = true;
	}
	spin_unlock_irq(&vd->config_lock);
	if (ret) {
		pr_debug("%s: config update refused: %s\n", vd->name, why);
		goto out;
	}
	if (driver_ok)
		virtio_config_changed(&vd->vdev);
out:
	kfree(u);
	return ret;
}

static long vlb_dev_vq_interrupt(struct vlb_device *vd, void __user *argp)
{
	struct vlb_vq_index v;
	const char *why;
	int ret;

	if (copy_from_user(&v, argp, sizeof(v)))
		return -EFAULT;
	ret = vlb_check_vq_index(&v, vd->params.num_queues, &why);
	if (ret)
		return ret;
	vlb_vq_interrupt(&vd->vqs[array_index_nospec(v.index, vd->params.num_queues)]);
	return 0;
}

static long vlb_dev_get_state(struct vlb_device *vd, void __user *argp)
{
	struct vlb_dev_state *s;
	long ret = 0;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	/* Pairs with vlb_set_status(): FEATURES_OK means they are stored. */
	s->status = smp_load_acquire(&vd->status);
	if (s->status & VIRTIO_CONFIG_S_FEATURES_OK)
		s->driver_features = vd->driver_features & ~VLB_F_ACCESS_PLATFORM;
	s->broken = READ_ONCE(vd->broken);
	s->params = vd->params;
	spin_lock_irq(&vd->config_lock);
	memcpy(s->params.config, vd->config, vd->params.config_size);
	spin_unlock_irq(&vd->config_lock);
	if (copy_to_user(argp, s, sizeof(*s)))
		ret = -EFAULT;
	kfree(s);
	return ret;
}

static long vlb_dev_get_vq_state(struct vlb_device *vd,
				 struct vlb_vq_state __user *argp)
{
	struct vlb_vq_state *s;
	u32 index;
	long ret = 0;

	if (get_user(index, &argp->index))
		return -EFAULT;
	if (index >= vd->params.num_queues)
		return -EINVAL;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->index = index;
	vlb_vq_get_state(&vd->vqs[array_index_nospec(index, vd->params.num_queues)], s);
	if (copy_to_user(argp, s, sizeof(*s)))
		ret = -EFAULT;
	kfree(s);
	return ret;
}

/* The ioctls that reach the device itself; see @gone_rwsem. */
static long vlb_dev_ioctl_live(struct vlb_device *vd, unsigned int cmd,
			       void __user *argp)
{
	switch (cmd) {
	case VLB_DEV_SET_VQ_KICK:
		return vlb_dev_set_eventfd(vd, argp, false);
	case VLB_DEV_SET_VQ_CALL:
		return vlb_dev_set_eventfd(vd, argp, true);
	case VLB_DEV_GET_IOVA_FD:
		return vlb_iova_get_fd(vd->iova);
	case VLB_DEV_CONFIG_UPDATE:
		return vlb_dev_config_update(vd, argp);
	case VLB_DEV_VQ_INTERRUPT:
		return vlb_dev_vq_interrupt(vd, argp);
	case VLB_DEV_GET_VQ_STATE:
		return vlb_dev_get_vq_state(vd, argp);
	default:
		return -ENOTTY;
	}
}

static long vlb_dev_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct vlb_device *vd = file->private_data;
	void __user *argp = (void __user *)arg;
	struct vlb_stats stats;
	long ret;

	/* What the device was stays readable after its removal. */
	switch (cmd) {
	case VLB_DEV_GET_STATS:
		vlb_stats_read(&vd->stats, &stats);
		return copy_to_user(argp, &stats, sizeof(stats)) ? -EFAULT : 0;
	case VLB_DEV_GET_STATE:
		return vlb_dev_get_state(vd, argp);
	}
	down_read(&vd->gone_rwsem);
	ret = vd->gone ? -ENODEV : vlb_dev_ioctl_live(vd, cmd, argp);
	up_read(&vd->gone_rwsem);
	return ret;
}

/* ------------------------------------------------ attach and removal */

/*
 * Moves @vd to REMOVING if it is to be removed: always with @forced
 * (unload), else when its grace period ran out (DETACHED) or it broke.
 * Checked and changed under vlb_devices_lock, so a REATTACH either wins
 * (the device stays) or finds it REMOVING (EIO): never a new fd on a
 * device being torn down.
 */
static bool vlb_start_removal(struct vlb_device *vd, bool forced)
{
	bool remove;

	mutex_lock(&vlb_devices_lock);
	remove = vd->state == VLB_DETACHED ||
		 (vd->state == VLB_ATTACHED && (forced || READ_ONCE(vd->broken)));
	if (remove) {
		spin_lock_irq(&vd->msg_lock);
		vd->state = VLB_REMOVING;
		spin_unlock_irq(&vd->msg_lock);
	}
	mutex_unlock(&vlb_devices_lock);
	return remove;
}

/* Takes down a device in REMOVING; it leaves the registry last. */
static void vlb_device_remove(struct vlb_device *vd)
{
	unsigned int i;

	pr_info("%s: removing\n", vd->name);
	if (READ_ONCE(vlb_test_remove_delay_ms))
		msleep(min(READ_ONCE(vlb_test_remove_delay_ms), 10000U));
	/* Nothing an fd holder does reaches the device from here on. */
	down_write(&vd->gone_rwsem);
	vd->gone = true;
	up_write(&vd->gone_rwsem);
	wake_up_interruptible_poll(&vd->msg_readers, EPOLLIN | EPOLLERR | EPOLLHUP);
	/*
	 * Complete what is in flight and fail what comes before waiting for
	 * the probe: a probe may itself wait on I/O the device never answers.
	 */
	vlb_mark_broken(vd, "removed");
	vlb_fail_inflight(vd);
	flush_work(&vd->register_work);
	vlb_fail_inflight(vd);
	if (vd->vdev_registered)
		unregister_virtio_device(&vd->vdev);
	vlb_deadline_stop(vd);
	for (i = 0; i < vd->params.num_queues; i++)
		vlb_vq_release_eventfds(&vd->vqs[i]);
	vlb_iova_destroy(vd->iova);
	vd->iova = NULL;
	device_del(&vd->parent);

	/* Only now may the name be created again. */
	mutex_lock(&vlb_devices_lock);
	spin_lock_irq(&vd->msg_lock);
	vd->state = VLB_REMOVED;
	spin_unlock_irq(&vd->msg_lock);
	list_del(&vd->node);
	mutex_unlock(&vlb_devices_lock);
	put_device(&vd->parent);
	pr_info("%s: removed\n", vd->name);
	vlb_device_put(vd);	/* the registry's reference */
}

static void vlb_remove_work(struct work_struct *work)
{
	struct vlb_device *vd = container_of(to_delayed_work(work),
					     struct vlb_device, remove_work);

	/* A reattach may have won the race for the lock. */
	if (vlb_start_removal(vd, false)) {
		if (!READ_ONCE(vd->broken))
			pr_info("%s: grace period over\n", vd->name);
		vlb_device_remove(vd);
	}
	vlb_device_put(vd);	/* the queued work's, vlb_queue_removal() */
}

static int vlb_dev_release(struct inode *inode, struct file *file)
{
	struct vlb_device *vd = file->private_data;

	mutex_lock(&vlb_devices_lock);
	if (vd->state == VLB_ATTACHED) {
		spin_lock_irq(&vd->msg_lock);
		vd->state = VLB_DETACHED;
		vlb_fail_pending(vd, -ENOTCONN);
		spin_unlock_irq(&vd->msg_lock);
		pr_info("%s: detached, removal in %u ms unless reattached\n",
			vd->name, vlb_grace_period_ms);
		/* At least a jiffy: 0 would advance a removal, not queue one. */
		vlb_queue_removal(vd, msecs_to_jiffies(vlb_grace_period_ms) ?: 1);
	}
	mutex_unlock(&vlb_devices_lock);
	vlb_device_put(vd);
	return 0;
}

static const struct file_operations vlb_dev_fops = {
	.owner		= THIS_MODULE,
	.read		= vlb_dev_read,
	.write		= vlb_dev_write,
	.poll		= vlb_dev_poll,
	.unlocked_ioctl	= vlb_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= vlb_dev_release,
	.llseek		= noop_llseek,
};

/* Called with vlb_devices_lock held; takes a reference for the file. */
static int vlb_dev_open_fd(struct vlb_device *vd)
{
	int fd;

	kref_get(&vd->ref);
	fd = anon_inode_getfd("[virtio-loopback]", &vlb_dev_fops, vd,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0)
		vlb_device_put(vd);
	return fd;
}

static void vlb_register_work(struct work_struct *work)
{
	struct vlb_device *vd = container_of(work, struct vlb_device,
					     register_work);
	int ret;

	/* Removed before it was registered: nothing to probe. */
	if (READ_ONCE(vd->gone))
		return;
	kref_get(&vd->ref);	/* the virtio device's */
	ret = register_virtio_device(&vd->vdev);
	if (ret) {
		pr_err("%s: cannot register the virtio device: %d\n", vd->name, ret);
		put_device(&vd->vdev.dev);
		return;
	}
	vd->vdev_registered = true;
	vlb_console_probed(vd);
}

static struct vlb_device *vlb_find_locked(const char *name)
{
	struct vlb_device *vd;

	lockdep_assert_held(&vlb_devices_lock);
	list_for_each_entry(vd, &vlb_devices, node)
		if (!strncmp(vd->name, name, VLB_NAME_MAX))
			return vd;
	return NULL;
}

/*
 * True if @dev hangs directly off the virtio device of a registered
 * loopback device: a disk virtio_blk added for it. Pointers are compared,
 * never followed: a deleted disk outlives its parent while it is open, and
 * that parent may be freed memory by now. Sleeps.
 */
bool vlb_is_child_of_a_device(const struct device *dev)
{
	const struct device *parent = READ_ONCE(dev->parent);
	struct vlb_device *vd;
	bool found = false;

	if (!parent)
		return false;
	mutex_lock(&vlb_devices_lock);
	list_for_each_entry(vd, &vlb_devices, node) {
		if (parent == &vd->vdev.dev) {
			found = true;
			break;
		}
	}
	mutex_unlock(&vlb_devices_lock);
	return found;
}

static struct vlb_device *vlb_device_alloc(const struct vlb_create *c)
{
	struct vlb_device *vd;
	unsigned int i;

	vd = kzalloc(sizeof(*vd), GFP_KERNEL);
	if (!vd)
		return ERR_PTR(-ENOMEM);
	kref_init(&vd->ref);
	vd->params = *c;
	vd->type = vlb_type_find(c->device_id);	/* checked by vlb_check_create */
	memcpy(vd->name, c->name, VLB_NAME_MAX);
	memcpy(vd->config, c->config, c->config_size);
	if (vd->type->mask_config)
		vd->type->mask_config(vd->config, c->config_size);
	spin_lock_init(&vd->config_lock);
	spin_lock_init(&vd->gate_lock);
	spin_lock_init(&vd->msg_lock);
	INIT_LIST_HEAD(&vd->msg_queue);
	INIT_LIST_HEAD(&vd->msg_sent);
	init_waitqueue_head(&vd->msg_readers);
	init_waitqueue_head(&vd->msg_waiters);
	mutex_init(&vd->msg_mutex);
	mutex_init(&vd->eventfd_lock);
	init_rwsem(&vd->gone_rwsem);
	INIT_DELAYED_WORK(&vd->remove_work, vlb_remove_work);
	INIT_WORK(&vd->register_work, vlb_register_work);
	vd->state = VLB_ATTACHED;
	vd->config_answered = true;	/* nothing selected yet */
	vlb_deadline_init(vd);
	/* 20 config changes a second: a device may not flood its driver. */
	ratelimit_state_init(&vd->config_changes, HZ, 20);
	ratelimit_set_flags(&vd->config_changes, RATELIMIT_MSG_ON_RELEASE);

	vd->vqs = kcalloc(c->num_queues, sizeof(*vd->vqs), GFP_KERNEL);
	if (!vd->vqs) {
		kfree(vd);
		return ERR_PTR(-ENOMEM);
	}
	for (i = 0; i < c->num_queues; i++)
		vlb_vq_init(vd, &vd->vqs[i], i);
	return vd;
}

long vlb_ioctl_create(const struct vlb_scope *scope, void __user *argp)
{
	struct vlb_create *c;
	struct vlb_device *vd;
	const char *why;
	int ret, fd;

	c = memdup_user(argp, sizeof(*c));
	if (IS_ERR(c))
		return PTR_ERR(c);
	/* Another device is refused before its request is even parsed. */
	ret = scope ? vlb_scope_allows_device(scope, c->device_id, c->name,
					      &why) : 0;
	if (!ret)
		ret = vlb_check_create(c, &why);
	if (!ret && scope)
		ret = vlb_scope_allows_create(scope, c, &why);
	if (ret) {
		if (scope && ret == -EPERM)
			pr_warn_ratelimited("CREATE refused: %s (scoped to '%s')\n",
					    why, scope->name);
		else
			pr_debug("CREATE refused: %s\n", why);
		goto out_free;
	}
	/* Tell user space what the driver will be offered. */
	if (copy_to_user(argp, c, sizeof(*c))) {
		ret = -EFAULT;
		goto out_free;
	}
	vd = vlb_device_alloc(c);
	if (IS_ERR(vd)) {
		ret = PTR_ERR(vd);
		goto out_free;
	}
	vd->created_scoped = scope;	/* REATTACH will ask for a scope too */
	vd->iova = vlb_iova_create(c->iova_size, c->max_granted_pages,
				   c->bounce_threshold, c->bounce_pool_pages,
				   &vd->stats);
	if (IS_ERR(vd->iova)) {
		ret = PTR_ERR(vd->iova);
		vd->iova = NULL;
		goto out_put;
	}
	/* vlb_iova_destroy() undoes it before the queues can go. */
	vlb_iova_set_owner(vd->iova, vd, vlb_call_in_device);

	device_initialize(&vd->parent);
	kref_get(&vd->ref);	/* dropped by vlb_parent_release */
	vd->parent.release = vlb_parent_release;
	ret = dev_set_name(&vd->parent, "vlb-%s", vd->name);
	if (ret)
		goto out_parent;
	vlb_iova_attach_dma_dev(vd->iova, &vd->parent);

	vd->vdev.dev.parent = &vd->parent;
	vd->vdev.dev.release = vlb_vdev_release;
	vd->vdev.config = &vlb_config_ops;
	vd->vdev.id.device = c->device_id;
	vd->vdev.id.vendor = c->vendor_id;

	mutex_lock(&vlb_devices_lock);
	if (vlb_find_locked(vd->name)) {
		mutex_unlock(&vlb_devices_lock);
		ret = -EEXIST;
		goto out_parent;
	}
	ret = device_add(&vd->parent);
	if (ret) {
		mutex_unlock(&vlb_devices_lock);
		goto out_parent;
	}
	fd = vlb_dev_open_fd(vd);
	if (fd < 0) {
		mutex_unlock(&vlb_devices_lock);
		device_del(&vd->parent);
		ret = fd;
		goto out_parent;
	}
	list_add_tail(&vd->node, &vlb_devices);	/* the registry owns the initial ref */
	/*
	 * Queued before the lock goes: a removal (which flushes this work)
	 * needs the lock to start, so it cannot finish before the work is
	 * queued and free the device under it.
	 */
	queue_work(vlb_dev_wq, &vd->register_work);
	mutex_unlock(&vlb_devices_lock);

	pr_info("%s: created (virtio id %u, %u queue(s) of %u)\n", vd->name,
		c->device_id, c->num_queues, c->queue_size_max);
	kfree(c);
	return fd;

out_parent:
	vlb_iova_destroy(vd->iova);
	put_device(&vd->parent);
out_put:
	vlb_device_put(vd);
out_free:
	kfree(c);
	return ret;
}

/* Why a file scoped as @scope (or unscoped) may not take over @vd, or NULL. */
static const char *vlb_reattach_denied(const struct vlb_scope *scope,
				       const struct vlb_device *vd)
{
	if (scope && vd->params.device_id != scope->device_id)
		return "device_id: not the type this file is scoped to";
	if (!scope && vd->created_scoped)
		return "created through a scoped file; reattach through one";
	return NULL;
}

long vlb_ioctl_reattach(const struct vlb_scope *scope, void __user *argp)
{
	struct vlb_reattach r;
	struct vlb_device *vd;
	const char *why;
	bool broken;
	int ret;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	ret = vlb_check_reattach(&r, &why);
	if (ret) {
		pr_debug("REATTACH refused: %s\n", why);
		return ret;
	}
	/* Before the lookup: a scoped file learns nothing of other devices. */
	if (scope && vlb_scope_allows_name(scope, r.name, &why)) {
		pr_warn_ratelimited("REATTACH of '%s' refused: %s (scoped to '%s')\n",
				    r.name, why, scope->name);
		return -EPERM;
	}
	mutex_lock(&vlb_devices_lock);
	vd = vlb_find_locked(r.name);
	why = vd ? vlb_reattach_denied(scope, vd) : NULL;
	if (!vd) {
		ret = -ENOENT;
	} else if (why) {
		pr_warn_ratelimited("REATTACH of '%s' refused: %s\n", r.name, why);
		ret = -EPERM;
	} else if (vd->state == VLB_ATTACHED) {
		ret = -EBUSY;
	} else if (vd->state != VLB_DETACHED || READ_ONCE(vd->broken)) {
		/* Nothing to resume: being removed, or broken and about to be. */
		ret = -EIO;
	} else {
		ret = vlb_dev_open_fd(vd);
		if (ret >= 0) {
			/*
			 * A removal work already running finds ATTACHED
			 * (vlb_start_removal) and stands down.
			 */
			if (cancel_delayed_work(&vd->remove_work))
				vlb_device_put(vd);
			/*
			 * It may have broken since the check above, its removal
			 * queued and just cancelled: queue that again.
			 */
			spin_lock_irq(&vd->msg_lock);
			vd->state = VLB_ATTACHED;
			broken = vd->broken;
			spin_unlock_irq(&vd->msg_lock);
			if (broken)
				vlb_queue_removal(vd, 0);
			pr_info("%s: reattached\n", vd->name);
		}
	}
	mutex_unlock(&vlb_devices_lock);
	return ret;
}

int vlb_devices_init(void)
{
	/*
	 * No WQ_MEM_RECLAIM: removal runs drivers' remove, which flush work
	 * on queues without it, and flushes this queue's register work.
	 */
	vlb_dev_wq = alloc_workqueue("virtio-loopback-dev", WQ_UNBOUND, 0);
	return vlb_dev_wq ? 0 : -ENOMEM;
}

void vlb_devices_exit(void)
{
	struct vlb_device *vd;

	/*
	 * A device stays listed until its removal is complete: the loop ends
	 * only once every removal, including those its remove_work runs, has.
	 */
	for (;;) {
		mutex_lock(&vlb_devices_lock);
		vd = list_first_entry_or_null(&vlb_devices, struct vlb_device, node);
		if (vd)
			kref_get(&vd->ref);
		mutex_unlock(&vlb_devices_lock);
		if (!vd)
			break;
		/* A running removal completes before this returns. */
		if (cancel_delayed_work_sync(&vd->remove_work))
			vlb_device_put(vd);
		if (vlb_start_removal(vd, true))
			vlb_device_remove(vd);
		vlb_device_put(vd);
	}
	/* Drains what is left, e.g. a remove_work that found nothing to do. */
	destroy_workqueue(vlb_dev_wq);
}
