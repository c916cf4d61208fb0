// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-loopback transport: virtio_config_ops and the data plane.
 *
 * Config space, status and feature negotiation are served from a cache in
 * the kernel; events user space must act on become control messages
 * (vlb_device.c). On the data plane the driver's notify publishes new
 * requests to the device through a shadow avail ring after activating
 * their IOVA grants, then signals the kick eventfd; the device's call
 * eventfd schedules completion processing, which validates each shadow
 * used entry, revokes the request's grants, and only then writes the
 * driver's used ring and runs the vring interrupt.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <asm/unaligned.h>
#include <uapi/linux/virtio_blk.h>
#include <uapi/linux/virtio_console.h>

#include "vlb_abi_check.h"
#include "vlb_device.h"

/*
 * A fault injection point for the test suite: holds a notify between its
 * check of @broken and the activation of its grants, the window a
 * revocation must not miss (vm.transport_hostile, "late-grant"). Off
 * unless root sets it.
 */
static unsigned int vlb_test_notify_delay_ms;
module_param_named(test_notify_delay_ms, vlb_test_notify_delay_ms, uint, 0644);
MODULE_PARM_DESC(test_notify_delay_ms, "Testing only: busy-wait this long (ms, 5000 at most) in every notify");

static struct workqueue_struct *vlb_wq;
/* Per-CPU: call work of drivers that sleep, see vlb_driver_waits_by_sleeping. */
static struct workqueue_struct *vlb_call_wq;

int vlb_transport_init(void)
{
	/*
	 * Completions unblock I/O under memory pressure: WQ_MEM_RECLAIM.
	 * Unbound, because some drivers spin with preemption off until the
	 * device used a buffer (virtio_console's control messages and hvc
	 * writes): completion work queued on the spinning CPU, as a per-CPU
	 * queue does from notify, would never run there.
	 */
	vlb_wq = alloc_workqueue("virtio-loopback",
				 WQ_UNBOUND | WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!vlb_wq)
		return -ENOMEM;
	vlb_call_wq = alloc_workqueue("virtio-loopback-call",
				      WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!vlb_call_wq) {
		destroy_workqueue(vlb_wq);
		return -ENOMEM;
	}
	return 0;
}

void vlb_transport_exit(void)
{
	destroy_workqueue(vlb_call_wq);
	destroy_workqueue(vlb_wq);
}

/* -------------------------------------------------------- config space */

static void vlb_get(struct virtio_device *vdev, unsigned int offset,
		    void *buf, unsigned int len)
{
	struct vlb_device *vd = to_vlb(vdev);
	unsigned long flags;

	spin_lock_irqsave(&vd->config_lock, flags);
	if (offset > vd->params.config_size ||
	    len > vd->params.config_size - offset)
		memset(buf, 0, len);
	else
		memcpy(buf, vd->config + offset, len);
	spin_unlock_irqrestore(&vd->config_lock, flags);
}

static void vlb_set(struct virtio_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len)
{
	struct vlb_device *vd = to_vlb(vdev);
	unsigned int done = 0;
	unsigned long flags;

	if (offset > vd->params.config_size ||
	    len > vd->params.config_size - offset)
		return;
	spin_lock_irqsave(&vd->config_lock, flags);
	memcpy(vd->config + offset, buf, len);
	/*
	 * A new selection: the answer to the last one is gone, and the device
	 * may give one, once (vlb_types.h). CREATE checked config_size >= 8.
	 */
	if (vd->type->select_window && offset < 2 && vd->params.config_size > 2) {
		memset(vd->config + 2, 0, vd->params.config_size - 2);
		vd->config_answered = false;
	}
	spin_unlock_irqrestore(&vd->config_lock, flags);

	while (done < len) {
		struct vlb_msg msg = { .type = VLB_MSG_CONFIG_WRITE };
		unsigned int chunk = min_t(unsigned int, len - done,
					   VLB_MSG_CONFIG_CHUNK);

		msg.u.config.offset = offset + done;
		msg.u.config.len = chunk;
		memcpy(msg.u.config.data, (const u8 *)buf + done, chunk);
		if (vlb_send_msg(vd, &msg))
			return;
		done += chunk;
	}
}

static u32 vlb_generation(struct virtio_device *vdev)
{
	return READ_ONCE(to_vlb(vdev)->config_generation);
}

/* ------------------------------------------------- status and features */

static u64 vlb_get_features(struct virtio_device *vdev)
{
	/* Every mapping must go through the IOVA domain. */
	return to_vlb(vdev)->params.device_features | VLB_F_ACCESS_PLATFORM;
}

static int vlb_finalize_features(struct virtio_device *vdev)
{
	struct vlb_device *vd = to_vlb(vdev);

	vring_transport_features(vdev);
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1) ||
	    !__virtio_test_bit(vdev, VIRTIO_F_ACCESS_PLATFORM))
		return -EINVAL;
	vd->driver_features = vdev->features;
	return 0;
}

static u8 vlb_get_status(struct virtio_device *vdev)
{
	return READ_ONCE(to_vlb(vdev)->status);
}

static int vlb_send_status(struct vlb_device *vd, u8 status)
{
	struct vlb_msg msg = { .type = VLB_MSG_SET_STATUS };

	msg.u.status.status = status;
	return vlb_send_msg(vd, &msg);
}

static void vlb_set_status(struct virtio_device *vdev, u8 status)
{
	struct vlb_device *vd = to_vlb(vdev);
	u8 added = status & ~vd->status;

	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		struct vlb_msg msg = { .type = VLB_MSG_SET_FEATURES };

		/* ACCESS_PLATFORM is the kernel's business, not the device's. */
		msg.u.features.features = vd->driver_features & ~VLB_F_ACCESS_PLATFORM;
		/* Without FEATURES_OK the core fails the probe cleanly. */
		if (vlb_send_msg(vd, &msg))
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if (added & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED))
		if (vlb_send_status(vd, status) && (added & VIRTIO_CONFIG_S_DRIVER_OK))
			vlb_mark_broken(vd, "device refused DRIVER_OK");
	/* Pairs with vlb_dev_get_state(): features are stored before. */
	smp_store_release(&vd->status, status);
}

/*
 * Not ready: no notify activates a grant and no call work completes a
 * request from here on (both check @ready under the lock taken here).
 */
static void vlb_vq_stop(struct vlb_vq *q)
{
	mutex_lock(&q->used_mutex);
	spin_lock_irq(&q->avail_lock);
	q->ready = false;
	spin_unlock_irq(&q->avail_lock);
	mutex_unlock(&q->used_mutex);
}

/* Every queue stopped, then every grant of the device withdrawn. */
static void vlb_stop_queues_and_revoke(struct vlb_device *vd)
{
	unsigned int i;

	for (i = 0; i < vd->params.num_queues; i++)
		vlb_vq_stop(&vd->vqs[i]);
	vlb_iova_revoke_all(vd->iova);
}

static void vlb_reset(struct virtio_device *vdev)
{
	struct vlb_device *vd = to_vlb(vdev);
	struct vlb_msg msg = { .type = VLB_MSG_RESET };

	/* A device that does not answer still loses its grants below. */
	vlb_send_msg(vd, &msg);
	vlb_stop_queues_and_revoke(vd);
	WRITE_ONCE(vd->status, 0);
}

/* -------------------------------------------------------- the data plane */

static int vlb_walk_chain(struct vlb_vq *q, u16 head,
			  int (*fn)(struct vlb_vq *q, u64 addr, u32 len,
				    u16 flags, void *arg),
			  void *arg)
{
	struct virtio_device *vdev = &q->vd->vdev;
	unsigned int count = 0;
	u16 i = head;

	for (;;) {
		struct vring_desc *desc;
		u16 flags;
		int ret;

		/* The table is the driver's, but a loop must not hang us. */
		if (i >= q->num || ++count > q->num)
			return -EINVAL;
		desc = &q->vring.desc[i];
		flags = virtio16_to_cpu(vdev, desc->flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;	/* not offered */
		ret = fn(q, virtio64_to_cpu(vdev, desc->addr),
			 virtio32_to_cpu(vdev, desc->len), flags, arg);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = virtio16_to_cpu(vdev, desc->next);
	}
}

static int vlb_activate_desc(struct vlb_vq *q, u64 addr, u32 len, u16 flags,
			     void *arg)
{
	u64 *writable = arg;

	if (flags & VRING_DESC_F_WRITE)
		*writable += len;
	if (!len)
		return 0;
	return vlb_iova_activate(q->vd->iova, addr, len);
}

static int vlb_revoke_desc(struct vlb_vq *q, u64 addr, u32 len, u16 flags,
			   void *arg)
{
	if (len)
		vlb_revoke_batch_add(q->vd->iova, arg, addr, len);
	return 0;
}

/* Remembers the last device-writable descriptor: virtio-blk's status. */
static int vlb_last_writable(struct vlb_vq *q, u64 addr, u32 len, u16 flags,
			     void *arg)
{
	u64 *last = arg;

	if ((flags & VRING_DESC_F_WRITE) && len)
		*last = addr + len - 1;
	return 0;
}

static void vlb_queue_call_work(struct vlb_vq *q)
{
	queue_work(vlb_wq, &q->call_work);
}

/* ------------------------------------------ virtio_console's receive gate */

/* A control message is the chain's first buffer, read whole. */
static int vlb_control_buffer(struct vlb_vq *q, u64 addr, u32 len, u16 flags,
			      void *arg)
{
	u64 *first = arg;

	if (len < VLB_CONSOLE_CONTROL_LEN)
		return -EINVAL;
	*first = addr;
	return 1;	/* the rest does not matter */
}

/* The control message of @head's chain, as the driver sees it. */
static bool vlb_console_msg(struct vlb_vq *q, u16 head, u8 *msg)
{
	u64 addr = 0;

	if (vlb_walk_chain(q, head, vlb_control_buffer, &addr) != 1)
		return false;
	return !vlb_iova_peek(q->vd->iova, addr, msg, VLB_CONSOLE_CONTROL_LEN);
}

/*
 * The driver's probe returned and the driver core counts it bound: set in
 * driver_bound() after probe, so a probe still running (virtio_console
 * between filling port 0's queue and listing the port) reads false.
 */
static bool vlb_driver_bound(struct vlb_device *vd)
{
	return READ_ONCE(vd->vdev.dev.links.status) == DL_DEV_DRIVER_BOUND;
}

/* Whether @q's completions must wait for the driver to list their port. */
static bool vlb_console_holds(struct vlb_vq *q)
{
	struct vlb_device *vd = q->vd;
	unsigned long flags;
	bool held;

	if (!vd->type->console_gate)
		return false;
	spin_lock_irqsave(&vd->gate_lock, flags);
	held = vlb_console_gate_holds(&vd->console_gate, q->index);
	if (held && q->index == 0 && vlb_driver_bound(vd) &&
	    vlb_console_gate_driver_bound(&vd->console_gate) == 0)
		held = false;
	spin_unlock_irqrestore(&vd->gate_lock, flags);
	return held;
}

/*
 * The driver's notify of @q made @head available (counted in
 * @q->last_avail): its PORT_READY, or without multiport any notify of a
 * bound driver, may open a port. Under @q->avail_lock. Returns the port,
 * or -1.
 */
static int vlb_console_driver_sent(struct vlb_vq *q, u16 head)
{
	struct vlb_device *vd = q->vd;
	u8 msg[VLB_CONSOLE_CONTROL_LEN];
	int port = -1;

	if (q->index == VLB_CONSOLE_CONTROL_TX) {
		if (!vlb_console_msg(q, head, msg))
			return -1;
		spin_lock(&vd->gate_lock);
		port = vlb_console_gate_driver_msg(&vd->console_gate, msg);
		spin_unlock(&vd->gate_lock);
	} else if (q->index == 0 && !vd->console_gate.multiport &&
		   vlb_driver_bound(vd)) {
		/* multiport is set in find_vqs, before any queue is ready. */
		spin_lock(&vd->gate_lock);
		port = vlb_console_gate_driver_bound(&vd->console_gate);
		spin_unlock(&vd->gate_lock);
	}
	return port;
}

/* Hands over what ports opened in a notify (@ports: a mask) had to wait for. */
static void vlb_console_release(struct vlb_device *vd, u32 ports)
{
	while (ports) {
		unsigned int q = vlb_console_gate_rx_queue(__ffs(ports));

		ports &= ports - 1;
		if (q < vd->params.num_queues)
			vlb_queue_call_work(&vd->vqs[q]);
	}
}

/*
 * register_virtio_device() returned: a console without multiport that
 * its driver probed has port 0 listed now. What the device completed on
 * it meanwhile goes; without this it would wait for the next notify.
 */
void vlb_console_probed(struct vlb_device *vd)
{
	int port;

	if (!vd->type->console_gate || !vlb_driver_bound(vd))
		return;
	spin_lock_irq(&vd->gate_lock);
	port = vlb_console_gate_driver_bound(&vd->console_gate);
	spin_unlock_irq(&vd->gate_lock);
	if (port == 0)
		vlb_console_release(vd, BIT(0));
}

/*
 * @q's last @published entries, beyond the device's reach now and not
 * yet shown to the driver: a console's PORT_REMOVE closes its port
 * before the driver can unlist it, once no completion is being handed to
 * that port. Under @q->used_mutex; receive queues never take another
 * queue's.
 */
static void vlb_console_device_sent(struct vlb_vq *q, unsigned int published)
{
	struct vlb_device *vd = q->vd;
	struct virtio_device *vdev = &vd->vdev;
	u16 i;

	if (!vd->type->console_gate || q->index != VLB_CONSOLE_CONTROL_RX)
		return;
	for (i = q->used_idx - published; i != q->used_idx; i++) {
		u32 head = virtio32_to_cpu(vdev, q->vring.used->ring[i % q->num].id);
		u8 msg[VLB_CONSOLE_CONTROL_LEN];
		unsigned int rx;
		int port;

		/*
		 * Fail closed: a PORT_REMOVE the gate cannot read would leave
		 * its port open while the driver unlists it. The driver's
		 * control buffers are whole pages mapped until detach, so
		 * this is not expected.
		 */
		if (!vlb_console_msg(q, head, msg)) {
			vlb_mark_broken(vd, "a console control message the transport cannot read");
			return;
		}
		spin_lock_irq(&vd->gate_lock);
		port = vlb_console_gate_device_msg(&vd->console_gate, msg);
		spin_unlock_irq(&vd->gate_lock);
		rx = port < 0 ? U32_MAX : vlb_console_gate_rx_queue(port);
		if (rx >= vd->params.num_queues)
			continue;
		mutex_lock_nested(&vd->vqs[rx].used_mutex, SINGLE_DEPTH_NESTING);
		mutex_unlock(&vd->vqs[rx].used_mutex);
	}
}

/* Called with every queue's used_mutex free; see vlb_console_gate.h. */
static void vlb_console_gate_setup(struct vlb_device *vd)
{
	bool multiport = __virtio_test_bit(&vd->vdev, VIRTIO_CONSOLE_F_MULTIPORT);
	u32 ports;

	if (!vd->type->console_gate)
		return;
	spin_lock_irq(&vd->config_lock);
	ports = get_unaligned_le32(&vd->config[offsetof(struct virtio_console_config,
							max_nr_ports)]);
	spin_unlock_irq(&vd->config_lock);
	spin_lock_irq(&vd->gate_lock);
	vlb_console_gate_init(&vd->console_gate, multiport, ports);
	spin_unlock_irq(&vd->gate_lock);
}

/* ------------------------------------------------- request deadline */

/*
 * Arms the deadline on another CPU than this one where there is one, for
 * a notify with interrupts off: the driver may busy-wait with them off
 * (virtio_console's hvc output) on this CPU, where no timer fires. A
 * deadline pending here moves away for the same reason. @cpu >= 0 (the
 * timer's own re-arm, from a CPU that takes interrupts) picks the CPU.
 * Any context.
 */
static void vlb_arm_deadline_away(struct vlb_device *vd, unsigned long expires,
				  int cpu)
{
	struct timer_list *t = &vd->deadline_away;
	unsigned int here = raw_smp_processor_id();
	unsigned long flags;

	spin_lock_irqsave(&vd->deadline_lock, flags);
	if (vd->deadline_off)
		goto out;
	if (timer_pending(t)) {
		if (cpu >= 0 || (t->flags & TIMER_CPUMASK) != here || !del_timer(t))
			goto out;
		expires = t->expires;
	}
	t->expires = expires;
	if (cpu < 0)
		cpu = cpumask_any_but(cpu_online_mask, here);
	if (cpu >= 0 && cpu < nr_cpu_ids)
		add_timer_on(t, cpu);
	else
		add_timer(t);
out:
	spin_unlock_irqrestore(&vd->deadline_lock, flags);
}

/* From now until @expires (jiffies), none if it has passed. */
static ktime_t vlb_deadline_left(unsigned long expires)
{
	return ms_to_ktime(jiffies_to_msecs(max_t(long, expires - jiffies, 0)));
}

/*
 * Arms the deadline on this CPU, for a notify with interrupts on: a hard
 * hrtimer fires even while the driver spins here with preemption off
 * (virtio_console's control messages). Any context.
 */
static void vlb_arm_deadline_here(struct vlb_device *vd, unsigned long expires)
{
	unsigned long flags;

	spin_lock_irqsave(&vd->deadline_lock, flags);
	if (!vd->deadline_off && !vd->deadline_here_armed) {
		vd->deadline_here_armed = true;
		hrtimer_start(&vd->deadline_here, vlb_deadline_left(expires),
			      HRTIMER_MODE_REL_PINNED_HARD);
	}
	spin_unlock_irqrestore(&vd->deadline_lock, flags);
}

/*
 * Breaks the driver's virtqueues, which ends its busy-waits, from any
 * context: virtio_break_device() takes a lock that softirqs must not.
 */
static void vlb_break_queues(struct vlb_device *vd)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < vd->params.num_queues; i++) {
		struct vlb_vq *q = &vd->vqs[i];

		/* @ready: the virtqueue exists until teardown clears it. */
		spin_lock_irqsave(&q->avail_lock, flags);
		if (q->ready)
			__virtqueue_break(q->vq);
		spin_unlock_irqrestore(&q->avail_lock, flags);
	}
}

/*
 * Both timers' check: the oldest request in flight on a queue with a
 * deadline either has time left (true, and *@expires is when it ends) or
 * breaks the device, whose removal then fails every request and ends the
 * driver's waits. Hard-irq or softirq context; it scans only queues with
 * a deadline, and only while requests are in flight there.
 */
static bool vlb_deadline_check(struct vlb_device *vd, unsigned long *expires)
{
	unsigned long timeout = msecs_to_jiffies(vd->params.request_timeout_ms);
	unsigned long flags, oldest = 0;
	bool pending = false;
	unsigned int i, head;

	for (i = 0; i < vd->params.num_queues; i++) {
		struct vlb_vq *q = &vd->vqs[i];

		if (!q->has_deadline)
			continue;
		spin_lock_irqsave(&q->avail_lock, flags);
		for (head = 0; q->ready && head < q->num; head++) {
			const struct vlb_inflight *f = &q->inflight[head];

			if (!f->active)
				continue;
			if (!pending || time_before(f->published, oldest))
				oldest = f->published;
			pending = true;
		}
		spin_unlock_irqrestore(&q->avail_lock, flags);
	}
	if (!pending || READ_ONCE(vd->broken))
		return false;
	if (time_before(jiffies, oldest + timeout)) {
		*expires = oldest + timeout;
		return true;
	}
	atomic64_inc(&vd->stats.request_timeouts);
	if (vd->type->fail_mode == VLB_FAIL_BY_BREAKING)
		vlb_break_queues(vd);
	vlb_mark_broken(vd, "a request was not completed within its deadline");
	return false;
}

static void vlb_deadline_away_expired(struct timer_list *t)
{
	struct vlb_device *vd = from_timer(vd, t, deadline_away);
	unsigned long expires;

	/* This CPU takes interrupts: it is not spinning with them off. */
	if (vlb_deadline_check(vd, &expires))
		vlb_arm_deadline_away(vd, expires, raw_smp_processor_id());
}

static enum hrtimer_restart vlb_deadline_here_expired(struct hrtimer *t)
{
	struct vlb_device *vd = container_of(t, struct vlb_device, deadline_here);
	enum hrtimer_restart restart = HRTIMER_NORESTART;
	unsigned long flags, expires;

	/* Disarmed before the scan: a notify from here on arms it again. */
	spin_lock_irqsave(&vd->deadline_lock, flags);
	vd->deadline_here_armed = false;
	spin_unlock_irqrestore(&vd->deadline_lock, flags);

	if (!vlb_deadline_check(vd, &expires))
		return HRTIMER_NORESTART;
	spin_lock_irqsave(&vd->deadline_lock, flags);
	/* Unless a notify started it again meanwhile, or removal stopped it. */
	if (!vd->deadline_here_armed && !vd->deadline_off) {
		vd->deadline_here_armed = true;
		hrtimer_set_expires(t, ktime_add(ktime_get(), vlb_deadline_left(expires)));
		restart = HRTIMER_RESTART;
	}
	spin_unlock_irqrestore(&vd->deadline_lock, flags);
	return restart;
}

void vlb_deadline_init(struct vlb_device *vd)
{
	spin_lock_init(&vd->deadline_lock);
	timer_setup(&vd->deadline_away, vlb_deadline_away_expired, 0);
	hrtimer_init(&vd->deadline_here, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	vd->deadline_here.function = vlb_deadline_here_expired;
}

void vlb_deadline_stop(struct vlb_device *vd)
{
	spin_lock_irq(&vd->deadline_lock);
	vd->deadline_off = true;
	spin_unlock_irq(&vd->deadline_lock);
	/* Neither re-arms once @deadline_off is set. */
	del_timer_sync(&vd->deadline_away);
	hrtimer_cancel(&vd->deadline_here);
}

/* ------------------------------------------------------ notifications */

/*
 * The driver's notify (any context, possibly atomic): publish new avail
 * entries to the device, then kick it unless it asked not to be.
 */
static bool vlb_vq_notify(struct virtqueue *vq)
{
	struct vlb_vq *q = vq->priv;
	struct vlb_device *vd = q->vd;
	struct virtio_device *vdev = &vd->vdev;
	struct eventfd_ctx *kick = NULL;
	unsigned long flags;
	bool dead, publish = false;
	const char *why = NULL;
	u16 avail_idx, bad_head = 0, bad_pos = 0;
	u32 opened = 0;
	int err = 0;

	spin_lock_irqsave(&q->avail_lock, flags);
	if (!q->ready) {
		spin_unlock_irqrestore(&q->avail_lock, flags);
		return true;
	}
	dead = READ_ONCE(vd->broken);
	if (unlikely(READ_ONCE(vlb_test_notify_delay_ms)) && !dead) {
		unsigned int ms = min(READ_ONCE(vlb_test_notify_delay_ms), 5000U);

		pr_info_ratelimited("%s: test: notify delayed %u ms\n", vd->name, ms);
		mdelay(ms);
	}
	avail_idx = virtio16_to_cpu(vdev, READ_ONCE(q->vring.avail->idx));
	/* Entries before the index the driver published are complete. */
	virt_rmb();
	while (q->last_avail != avail_idx) {
		u16 slot = q->last_avail % q->num;
		u16 head = virtio16_to_cpu(vdev, q->vring.avail->ring[slot]);
		u64 writable = 0;

		if (head >= q->num || q->inflight[head].active) {
			why = "the driver's avail entry names a head out of range or in flight";
			bad_head = head;
			bad_pos = q->last_avail;
			dead = true;
			break;
		}
		/* A dead device gets nothing; the call work fails the request. */
		if (!dead) {
			err = vlb_walk_chain(q, head, vlb_activate_desc, &writable);
			if (err) {
				why = err == -EINVAL ?
				      "a driver's request chain the transport cannot follow" :
				      "a driver's request buffer outside its grants";
				bad_head = head;
				bad_pos = q->last_avail;
				dead = true;
			}
		}
		q->inflight[head].writable = min_t(u64, writable, U32_MAX);
		q->inflight[head].avail_pos = q->last_avail;
		q->inflight[head].published = jiffies;
		q->inflight[head].active = true;
		q->shadow_avail->ring[slot] = cpu_to_virtio16(vdev, head);
		q->last_avail++;
		publish = !dead;
		if (publish && vd->type->console_gate) {
			int port = vlb_console_driver_sent(q, head);

			if (port >= 0)
				opened |= BIT(port);
		}
	}
	if (publish) {
		/* Entries first, then the index the device polls. */
		virt_wmb();
		WRITE_ONCE(q->shadow_avail->idx, cpu_to_virtio16(vdev, q->last_avail));
		/* Publish the index before reading the device's no-notify flag. */
		virt_mb();
		if (!(virtio16_to_cpu(vdev, READ_ONCE(q->shadow_used->flags)) &
		      VRING_USED_F_NO_NOTIFY))
			kick = q->kick;
	}
	if (kick) {
		eventfd_signal(kick, 1);
		atomic64_inc(&vd->stats.kicks);
	}
	spin_unlock_irqrestore(&q->avail_lock, flags);
	vlb_console_release(vd, opened);
	if (publish && q->has_deadline) {
		unsigned long expires = jiffies +
			msecs_to_jiffies(vd->params.request_timeout_ms);

		if (irqs_disabled())
			vlb_arm_deadline_away(vd, expires, -1);
		else
			vlb_arm_deadline_here(vd, expires);
	}
	if (why) {
		/* The driver's own ring: the details help find whose bug it is. */
		pr_warn_ratelimited("%s: queue %u: head %u at avail %u of %u: %s\n",
				    vd->name, q->index, bad_head, bad_pos,
				    avail_idx, why);
		vlb_mark_broken(vd, why);
	}
	if (dead)
		vlb_queue_call_work(q);
	return true;
}

static void vlb_vq_irq(struct vlb_vq *q)
{
	unsigned long flags;

	if (!(READ_ONCE(q->vd->status) & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	/* Drivers expect their callbacks in interrupt-like context. */
	local_irq_save(flags);
	vring_interrupt(0, q->vq);
	local_irq_restore(flags);
}

/* Writes one entry of the driver's used ring. Called under used_mutex. */
static void vlb_push_used(struct vlb_vq *q, u16 head, u32 len)
{
	struct virtio_device *vdev = &q->vd->vdev;
	struct vring_used_elem *e = &q->vring.used->ring[q->used_idx % q->num];

	e->id = cpu_to_virtio32(vdev, head);
	e->len = cpu_to_virtio32(vdev, len);
	q->used_idx++;
}

static void vlb_publish_used(struct vlb_vq *q, bool force_irq)
{
	struct virtio_device *vdev = &q->vd->vdev;

	/* Used entries before the index the driver reads. */
	virt_wmb();
	WRITE_ONCE(q->vring.used->idx, cpu_to_virtio16(vdev, q->used_idx));
	/* The index must be visible before the driver's flag is read. */
	virt_mb();
	if (force_irq || !(virtio16_to_cpu(vdev, READ_ONCE(q->vring.avail->flags)) &
			   VRING_AVAIL_F_NO_INTERRUPT))
		vlb_vq_irq(q);
}

/*
 * Ends every request in flight on @q, so nothing waits on a device that
 * is gone. virtio_blk's complete with VIRTIO_BLK_S_IOERR in their status
 * byte, the one failure a driver reads from its buffer; virtio_rng's
 * complete empty, its "no data" (enum vlb_fail_mode). The other drivers
 * would take a used buffer of length 0 for data (virtio_console parses a
 * control message and virtio_input an event whatever the length) and add
 * it back, to be failed again without end: with the console's busy-wait
 * for each control message it sends, a CPU locked up. So their queues are
 * broken first: a broken virtqueue hands its driver no buffer, refuses new
 * ones and ends the busy-waits; the driver's remove reclaims the rest. The
 * caller holds used_mutex and has revoked every grant.
 */
static void vlb_vq_fail_inflight(struct vlb_vq *q)
{
	struct vlb_device *vd = q->vd;
	enum vlb_fail_mode how = vd->type->fail_mode;
	unsigned int head, n = 0;

	if (how == VLB_FAIL_BY_BREAKING)
		virtio_break_device(&vd->vdev);

	for (head = 0; head < q->num; head++) {
		u32 len = 0;

		spin_lock_irq(&q->avail_lock);
		if (!q->inflight[head].active) {
			spin_unlock_irq(&q->avail_lock);
			continue;
		}
		q->inflight[head].active = false;
		spin_unlock_irq(&q->avail_lock);

		if (how == VLB_FAIL_BY_STATUS_BYTE) {
			u64 status = 0;

			vlb_walk_chain(q, head, vlb_last_writable, &status);
			if (status && !vlb_iova_poke(vd->iova, status, VIRTIO_BLK_S_IOERR))
				len = 1;
		}
		vlb_push_used(q, head, len);
		n++;
	}
	if (n)
		vlb_publish_used(q, true);
}

/*
 * After @vd->broken was set: waits for every notify that read it before
 * to finish activating its grants, so that a revocation that follows
 * catches them. A notify reads @broken under its queue's avail_lock, and
 * only notifies activate grants: taking each such lock once is enough.
 * Process context.
 */
static void vlb_quiesce_notifies(struct vlb_device *vd)
{
	unsigned int i;

	for (i = 0; i < vd->params.num_queues; i++) {
		spin_lock_irq(&vd->vqs[i].avail_lock);
		spin_unlock_irq(&vd->vqs[i].avail_lock);
	}
}

static void vlb_vq_process_used(struct vlb_vq *q)
{
	struct vlb_device *vd = q->vd;
	struct virtio_device *vdev = &vd->vdev;
	struct vlb_revoke_batch batch = { .n = 0 };
	unsigned int published = 0;
	u16 shadow_idx;

	mutex_lock(&q->used_mutex);
	if (!q->ready)
		goto out;
	if (READ_ONCE(vd->broken)) {
		vlb_quiesce_notifies(vd);
		vlb_iova_revoke_all(vd->iova);
		vlb_vq_fail_inflight(q);
		goto out;
	}
	if (vlb_console_holds(q)) {
		atomic64_inc(&vd->stats.completions_held);
		goto out;
	}
	shadow_idx = virtio16_to_cpu(vdev, READ_ONCE(q->shadow_used->idx));
	/* The device wrote the entries before the index. */
	virt_rmb();
	if ((u16)(shadow_idx - q->last_used) > q->num) {
		atomic64_inc(&vd->stats.used_rejected);
		vlb_mark_broken(vd, "used index moved by more than the ring size");
		goto fail;
	}
	while (q->last_used != shadow_idx) {
		struct vring_used_elem *e = &q->shadow_used->ring[q->last_used % q->num];
		u32 id = virtio32_to_cpu(vdev, READ_ONCE(e->id));
		u32 len = virtio32_to_cpu(vdev, READ_ONCE(e->len));
		bool ok;

		spin_lock_irq(&q->avail_lock);
		/* @id is the device's: no speculative read past the array. */
		ok = id < q->num;
		if (ok)
			id = array_index_nospec(id, q->num);
		ok = ok && q->inflight[id].active &&
		     len <= q->inflight[id].writable &&
		     (!vd->type->used_len_ok || vd->type->used_len_ok(q->index, len));
		spin_unlock_irq(&q->avail_lock);
		if (!ok) {
			atomic64_inc(&vd->stats.used_rejected);
			vlb_mark_broken(vd, "used entry for a request not in flight or too long");
			goto fail;
		}
		vlb_walk_chain(q, id, vlb_revoke_desc, &batch);
		spin_lock_irq(&q->avail_lock);
		q->inflight[id].active = false;
		spin_unlock_irq(&q->avail_lock);
		vlb_push_used(q, id, len);
		q->last_used++;
		published++;
	}
	/*
	 * Revocation before completion, the heart of the design: nothing of
	 * this batch is visible to the driver until its pages are gone.
	 */
	vlb_revoke_batch_flush(vd->iova, &batch);
	if (published) {
		vlb_console_device_sent(q, published);
		vlb_publish_used(q, false);
	}
	goto out;

fail:
	vlb_revoke_batch_flush(vd->iova, &batch);
	if (published) {
		vlb_console_device_sent(q, published);
		vlb_publish_used(q, false);
	}
	vlb_quiesce_notifies(vd);
	vlb_iova_revoke_all(vd->iova);
	vlb_vq_fail_inflight(q);
out:
	mutex_unlock(&q->used_mutex);
}

static void vlb_call_work(struct work_struct *work)
{
	struct vlb_vq *q = container_of(work, struct vlb_vq, call_work);

	atomic64_inc(&q->vd->stats.calls);
	vlb_vq_process_used(q);
}

static void vlb_call_work_local(struct work_struct *work)
{
	struct vlb_vq *q = container_of(work, struct vlb_vq, call_work_local);

	atomic64_inc(&q->vd->stats.calls);
	atomic64_inc(&q->vd->stats.calls_on_signalling_cpu);
	vlb_vq_process_used(q);
}

/* Waits for every call work of @q queued so far. */
static void vlb_flush_calls(struct vlb_vq *q)
{
	flush_work(&q->call_work);
	flush_work(&q->call_work_local);
}

/* Cancels @q's pending call work and waits for a running one. */
static void vlb_cancel_calls(struct vlb_vq *q)
{
	cancel_work_sync(&q->call_work);
	cancel_work_sync(&q->call_work_local);
}

/*
 * VLB_IOVA_CALL: the device signalled @call and waits while its completions
 * are processed in its own context, without the work item's context
 * switch. Runs under the read side of the domain's owner_rwsem, which
 * vlb_iova_destroy() takes before the queues go; vlb_synchronize_cbs()
 * waits for it on the queue's used_mutex.
 */
long vlb_call_in_device(void *owner, struct eventfd_ctx *call)
{
	struct vlb_device *vd = owner;
	struct vlb_vq *q = NULL;
	unsigned int i;

	mutex_lock(&vd->eventfd_lock);
	for (i = 0; i < vd->params.num_queues && !q; i++)
		if (vd->vqs[i].call == call)
			q = &vd->vqs[i];
	mutex_unlock(&vd->eventfd_lock);
	/* A call eventfd replaced meanwhile: processing @q is still harmless. */
	if (!q)
		return -ENOENT;
	atomic64_inc(&vd->stats.calls);
	atomic64_inc(&vd->stats.calls_in_device);
	vlb_vq_process_used(q);
	return 0;
}

void vlb_vq_interrupt(struct vlb_vq *q)
{
	vlb_queue_call_work(q);
}

void vlb_fail_inflight(struct vlb_device *vd)
{
	unsigned int i;

	vlb_quiesce_notifies(vd);
	vlb_iova_revoke_all(vd->iova);
	for (i = 0; i < vd->params.num_queues; i++) {
		struct vlb_vq *q = &vd->vqs[i];

		vlb_flush_calls(q);
		mutex_lock(&q->used_mutex);
		if (q->ready)
			vlb_vq_fail_inflight(q);
		mutex_unlock(&q->used_mutex);
	}
}

/*
 * A snapshot of @q for a reattaching adapter (struct vlb_vq_state). Used
 * entries the device wrote without signalling are consumed first, so the
 * in-flight set is exactly what a new device process must resume. That
 * runs in the call work, not here: driver callbacks must only ever come
 * from where vlb_synchronize_cbs() can wait for them. @s is zeroed by the
 * caller; @s->index is set.
 */
void vlb_vq_get_state(struct vlb_vq *q, struct vlb_vq_state *s)
{
	unsigned int head, n = 0;

	vlb_queue_call_work(q);
	vlb_flush_calls(q);
	mutex_lock(&q->used_mutex);
	spin_lock_irq(&q->avail_lock);
	if (q->ready) {
		s->flags = VLB_VQ_STATE_F_READY;
		s->num = q->num;
		s->last_avail = q->last_avail;
		s->used_idx = q->last_used;
		s->desc = q->desc_iova;
		s->avail = q->shadow_avail_iova;
		s->used = q->shadow_used_iova;
		for (head = 0; head < q->num; head++) {
			if (!q->inflight[head].active)
				continue;
			s->inflight[n].head = head;
			s->inflight[n].avail_pos = q->inflight[head].avail_pos;
			n++;
		}
		s->inflight_num = n;
	}
	spin_unlock_irq(&q->avail_lock);
	mutex_unlock(&q->used_mutex);
}

/* ----------------------------------------------------------- eventfds */

/* Runs under the eventfd's wait queue lock, from the device's write(). */
static int vlb_call_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct vlb_vq *q = container_of(wait, struct vlb_vq, call_wait);
	__poll_t events = key_to_poll(key);
	u64 cnt;

	if (events & EPOLLIN) {
		/* Drain the counter so the device's write() never blocks. */
		eventfd_ctx_do_read(q->call, &cnt);
		if (in_task() && q->call_on_signalling_cpu)
			queue_work_on(raw_smp_processor_id(), vlb_call_wq,
				      &q->call_work_local);
		else
			vlb_queue_call_work(q);
	}
	return 0;
}

static void vlb_call_ptable_queue(struct file *file, wait_queue_head_t *wqh,
				  poll_table *pt)
{
	struct vlb_vq *q = container_of(pt, struct vlb_vq, call_pt);

	q->call_wqh = wqh;
	add_wait_queue(wqh, &q->call_wait);
}

static void vlb_detach_call(struct vlb_vq *q)
{
	u64 cnt;

	if (!q->call)
		return;
	eventfd_ctx_remove_wait_queue(q->call, &q->call_wait, &cnt);
	vlb_cancel_calls(q);
	eventfd_ctx_put(q->call);
	q->call = NULL;
}

int vlb_set_vq_eventfd(struct vlb_device *vd, unsigned int index, int fd,
		       bool call)
{
	struct vlb_vq *q = &vd->vqs[index];
	struct eventfd_ctx *ctx = NULL, *old;
	struct file *file = NULL;
	__poll_t events;

	if (fd >= 0) {
		file = eventfd_fget(fd);
		if (IS_ERR(file))
			return PTR_ERR(file);
		ctx = eventfd_ctx_fileget(file);
		if (IS_ERR(ctx)) {
			fput(file);
			return PTR_ERR(ctx);
		}
	}

	mutex_lock(&vd->eventfd_lock);
	if (!call) {
		spin_lock_irq(&q->avail_lock);
		old = q->kick;
		q->kick = ctx;
		spin_unlock_irq(&q->avail_lock);
		if (old)
			eventfd_ctx_put(old);
	} else {
		vlb_detach_call(q);
		if (ctx) {
			q->call = ctx;
			init_waitqueue_func_entry(&q->call_wait, vlb_call_wakeup);
			init_poll_funcptr(&q->call_pt, vlb_call_ptable_queue);
			events = vfs_poll(file, &q->call_pt);
			if (events & EPOLLIN)
				vlb_queue_call_work(q);
		}
	}
	mutex_unlock(&vd->eventfd_lock);
	if (file)
		fput(file);
	return 0;
}

void vlb_vq_release_eventfds(struct vlb_vq *q)
{
	mutex_lock(&q->vd->eventfd_lock);
	vlb_detach_call(q);
	spin_lock_irq(&q->avail_lock);
	if (q->kick)
		eventfd_ctx_put(q->kick);
	q->kick = NULL;
	spin_unlock_irq(&q->avail_lock);
	mutex_unlock(&q->vd->eventfd_lock);
}

/* -------------------------------------------------------------- queues */

void vlb_vq_init(struct vlb_device *vd, struct vlb_vq *q, unsigned int index)
{
	q->vd = vd;
	q->index = index;
	spin_lock_init(&q->avail_lock);
	mutex_init(&q->used_mutex);
	INIT_WORK(&q->call_work, vlb_call_work);
	INIT_WORK(&q->call_work_local, vlb_call_work_local);
	/*
	 * Completions on the CPU of the task that signalled them run as soon
	 * as that thread yields, without waking another, maybe idle, CPU: 4k
	 * reads at QD1 went from 11-12 to 16-17 MiB/s in a TCG guest
	 * (docs/design.md). Only for drivers that sleep while they wait:
	 * virtio_console and virtio_net spin with preemption off, and should
	 * one start spinning on that CPU before the work ran, it never would.
	 */
	q->call_on_signalling_cpu = vd->type->waits_by_sleeping;
	q->has_deadline = vd->type->timeout_max_ms &&
			  (!vd->type->queue_has_deadline ||
			   vd->type->queue_has_deadline(index));
}

static unsigned int vlb_pages(size_t bytes)
{
	return PAGE_ALIGN(bytes) >> PAGE_SHIFT;
}

/* Split ring layout, virtio 1.2 section 2.7: flags, idx, ring, event. */
static size_t vring_avail_size(unsigned int num)
{
	return sizeof(__virtio16) * (3 + num);
}

static size_t vring_used_size(unsigned int num)
{
	return sizeof(__virtio16) * 3 + sizeof(struct vring_used_elem) * num;
}

static void vlb_free_shadow(struct vlb_vq *q)
{
	struct vlb_iova_domain *d = q->vd->iova;
	unsigned int avail_pages = vlb_pages(vring_avail_size(q->num));

	if (q->shadow_avail_iova)
		vlb_iova_unmap_ring(d, q->shadow_avail_iova, avail_pages);
	if (q->shadow_used_iova)
		vlb_iova_unmap_ring(d, q->shadow_used_iova,
				    q->shadow_npages - avail_pages);
	if (q->shadow_pages)
		__free_pages(q->shadow_pages, get_order(q->shadow_npages << PAGE_SHIFT));
	q->shadow_pages = NULL;
	q->shadow_avail_iova = 0;
	q->shadow_used_iova = 0;
}

static int vlb_alloc_shadow(struct vlb_vq *q)
{
	struct vlb_iova_domain *d = q->vd->iova;
	unsigned int avail_pages = vlb_pages(vring_avail_size(q->num));
	unsigned int used_pages = vlb_pages(vring_used_size(q->num));
	int ret;

	q->shadow_npages = avail_pages + used_pages;
	q->shadow_pages = alloc_pages(GFP_KERNEL | __GFP_ZERO,
				      get_order(q->shadow_npages << PAGE_SHIFT));
	if (!q->shadow_pages)
		return -ENOMEM;
	q->shadow_avail = page_address(q->shadow_pages);
	q->shadow_used = page_address(nth_page(q->shadow_pages, avail_pages));
	ret = vlb_iova_map_ring(d, q->shadow_pages, avail_pages, VLB_IOVA_READ,
				&q->shadow_avail_iova);
	if (!ret)
		ret = vlb_iova_map_ring(d, nth_page(q->shadow_pages, avail_pages),
					used_pages, VLB_IOVA_READ | VLB_IOVA_WRITE,
					&q->shadow_used_iova);
	if (ret)
		vlb_free_shadow(q);
	return ret;
}

static void vlb_teardown_vq(struct vlb_vq *q)
{
	struct vlb_device *vd = q->vd;

	vlb_vq_stop(q);
	vlb_cancel_calls(q);

	if (q->desc_len)
		vlb_iova_set_ring_perm(vd->iova, q->desc_iova, q->desc_len, 0);
	vlb_free_shadow(q);
	kfree(q->inflight);
	q->inflight = NULL;
	if (q->vq)
		vring_del_virtqueue(q->vq);
	q->vq = NULL;
	q->desc_len = 0;
}

static int vlb_setup_vq(struct vlb_device *vd, struct vlb_vq *q,
			vq_callback_t *callback, const char *name, bool ctx)
{
	struct vlb_msg msg = { .type = VLB_MSG_VQ_ENABLE };
	struct virtqueue *vq;
	u64 used_iova;
	int ret;

	/*
	 * Page-aligned used ring: it never shares a page with the desc table.
	 * Exactly queue_size_max entries, never fewer: the config checks of
	 * CREATE (what fits in a ring) hold for that size.
	 */
	vq = vring_create_virtqueue(q->index, vd->params.queue_size_max,
				    PAGE_SIZE, &vd->vdev, true, false, ctx,
				    vlb_vq_notify, callback, name);
	if (!vq)
		return -ENOMEM;
	vq->priv = q;
	q->vq = vq;
	q->num = virtqueue_get_vring_size(vq);
	q->vring = *virtqueue_get_vring(vq);
	q->desc_iova = virtqueue_get_desc_addr(vq);
	used_iova = virtqueue_get_used_addr(vq);
	q->last_avail = 0;
	q->last_used = 0;
	q->used_idx = 0;

	q->inflight = kcalloc(q->num, sizeof(*q->inflight), GFP_KERNEL);
	ret = q->inflight ? vlb_alloc_shadow(q) : -ENOMEM;
	if (ret)
		goto err;
	/*
	 * The device reads descriptors (and, harmlessly, the driver's avail
	 * ring on the same pages) but never the driver's used ring.
	 */
	q->desc_len = used_iova - q->desc_iova;
	ret = vlb_iova_set_ring_perm(vd->iova, q->desc_iova, q->desc_len,
				     VLB_IOVA_READ);
	if (ret)
		goto err;

	spin_lock_irq(&q->avail_lock);
	q->ready = true;
	spin_unlock_irq(&q->avail_lock);

	msg.u.vq.index = q->index;
	msg.u.vq.num = q->num;
	msg.u.vq.desc = q->desc_iova;
	msg.u.vq.avail = q->shadow_avail_iova;
	msg.u.vq.used = q->shadow_used_iova;
	ret = vlb_send_msg(vd, &msg);
	if (ret)
		goto err;
	return 0;

err:
	vlb_teardown_vq(q);
	return ret;
}

static void vlb_del_vqs(struct virtio_device *vdev)
{
	struct vlb_device *vd = to_vlb(vdev);
	unsigned int i;

	for (i = 0; i < vd->params.num_queues; i++) {
		struct vlb_vq *q = &vd->vqs[i];
		struct vlb_msg msg = { .type = VLB_MSG_VQ_DISABLE };

		if (!q->vq)
			continue;
		msg.u.vq.index = i;
		vlb_send_msg(vd, &msg);
	}
	/*
	 * Nothing of the device's may stay reachable once the rings go. Not
	 * ready first: a probe's error path deletes queues without a reset,
	 * and no notify may activate grants after the revocation.
	 */
	vlb_stop_queues_and_revoke(vd);
	for (i = 0; i < vd->params.num_queues; i++)
		if (vd->vqs[i].vq)
			vlb_teardown_vq(&vd->vqs[i]);
}

static int vlb_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			struct virtqueue *vqs[], vq_callback_t *callbacks[],
			const char * const names[], const bool *ctx,
			struct irq_affinity *desc)
{
	struct vlb_device *vd = to_vlb(vdev);
	unsigned int i, queue_idx = 0;
	int ret;

	/* Before any queue is ready: nothing may complete past the gate. */
	vlb_console_gate_setup(vd);
	for (i = 0; i < nvqs; i++) {
		if (!names[i]) {
			vqs[i] = NULL;
			continue;
		}
		if (queue_idx >= vd->params.num_queues) {
			ret = -ENOENT;
			goto err;
		}
		ret = vlb_setup_vq(vd, &vd->vqs[queue_idx], callbacks[i], names[i],
				   ctx ? ctx[i] : false);
		if (ret)
			goto err;
		vqs[i] = vd->vqs[queue_idx++].vq;
	}
	return 0;

err:
	vlb_del_vqs(vdev);
	return ret;
}

static void vlb_synchronize_cbs(struct virtio_device *vdev)
{
	struct vlb_device *vd = to_vlb(vdev);
	unsigned int i;

	for (i = 0; i < vd->params.num_queues; i++) {
		struct vlb_vq *q = &vd->vqs[i];

		vlb_flush_calls(q);
		/* A VLB_IOVA_CALL runs its callbacks under used_mutex. */
		mutex_lock(&q->used_mutex);
		mutex_unlock(&q->used_mutex);
	}
}

static const char *vlb_bus_name(struct virtio_device *vdev)
{
	return dev_name(vdev->dev.parent);
}

const struct virtio_config_ops vlb_config_ops = {
	.get			= vlb_get,
	.set			= vlb_set,
	.generation		= vlb_generation,
	.get_status		= vlb_get_status,
	.set_status		= vlb_set_status,
	.reset			= vlb_reset,
	.find_vqs		= vlb_find_vqs,
	.del_vqs		= vlb_del_vqs,
	.synchronize_cbs	= vlb_synchronize_cbs,
	.get_features		= vlb_get_features,
	.finalize_features	= vlb_finalize_features,
	.bus_name		= vlb_bus_name,
};
