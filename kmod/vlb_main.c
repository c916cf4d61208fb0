// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-loopback: a virtio transport whose devices live in user space.
 *
 * This file owns the module's entry points and the control node
 * /dev/virtio-loopback (a misc device), on which user space queries the ABI
 * version, creates devices and reattaches to them. The device lifecycle is
 * in vlb_device.c, the virtio transport in vlb_transport.c, and the IOVA
 * domain that confines device processes in vlb_iova.c.
 *
 * The node is root-only (mode 0600): only the privileged supervisor opens
 * it. An adapter gets an open file of it locked to its one device with
 * VLB_IOC_SCOPE: it can create and reattach that device and no other.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/virtio_loopback.h>

#include "vlb_abi_check.h"
#include "vlb_device.h"

#define VLB_MODULE_VERSION "0.1.0"

static long vlb_ioctl_get_version(void __user *argp)
{
	struct vlb_version ver = {
		.abi_major = VLB_ABI_MAJOR,
		.abi_minor = VLB_ABI_MINOR,
	};

	if (copy_to_user(argp, &ver, sizeof(ver)))
		return -EFAULT;
	return 0;
}

/*
 * A control file's scope is its private_data: NULL (unscoped) from open,
 * set once by VLB_IOC_SCOPE with cmpxchg and never changed again, freed by
 * release, when no ioctl can be running on the file. So readers need no
 * lock, only the acquire that pairs with the cmpxchg's full barrier.
 */
static const struct vlb_scope *vlb_ctl_scope(struct file *file)
{
	/* Pairs with the cmpxchg in vlb_ioctl_scope(). */
	return smp_load_acquire(&file->private_data);
}

static long vlb_ioctl_scope(struct file *file, void __user *argp)
{
	struct vlb_scope *s;
	const char *why;
	int ret;

	/* Only the supervisor scopes; an adapter's profile cannot even ask. */
	if (!capable(CAP_SYS_ADMIN)) {
		pr_warn_ratelimited("SCOPE refused: the caller lacks CAP_SYS_ADMIN\n");
		return -EPERM;
	}
	s = memdup_user(argp, sizeof(*s));
	if (IS_ERR(s))
		return PTR_ERR(s);
	ret = vlb_check_scope(s, &why);
	if (ret) {
		pr_debug("SCOPE refused: %s\n", why);
		goto out_free;
	}
	if (cmpxchg(&file->private_data, NULL, s)) {
		pr_warn_ratelimited("SCOPE to '%s' refused: the file is scoped already\n",
				    s->name);
		ret = -EBUSY;
		goto out_free;
	}
	return 0;

out_free:
	kfree(s);
	return ret;
}

static long vlb_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VLB_IOC_GET_VERSION:
		return vlb_ioctl_get_version(argp);
	case VLB_IOC_CREATE:
		return vlb_ioctl_create(vlb_ctl_scope(file), argp);
	case VLB_IOC_REATTACH:
		return vlb_ioctl_reattach(vlb_ctl_scope(file), argp);
	case VLB_IOC_SCOPE:
		return vlb_ioctl_scope(file, argp);
	default:
		return -ENOTTY;
	}
}

static int vlb_ctl_open(struct inode *inode, struct file *file)
{
	/* misc_open() left the miscdevice here; the scope lives here instead. */
	file->private_data = NULL;
	return nonseekable_open(inode, file);
}

static int vlb_ctl_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct file_operations vlb_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= vlb_ctl_open,
	.release	= vlb_ctl_release,
	.unlocked_ioctl	= vlb_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice vlb_ctl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= VLB_MISC_NAME,
	.fops	= &vlb_ctl_fops,
	.mode	= 0600,
};

static int __init vlb_init(void)
{
	int ret;

	ret = vlb_iova_init();
	if (ret)
		return ret;
	ret = vlb_transport_init();
	if (ret)
		goto err_iova;
	ret = vlb_devices_init();
	if (ret)
		goto err_transport;
	ret = misc_register(&vlb_ctl_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", VLB_MISC_NAME, ret);
		goto err_devices;
	}
	pr_info("loaded, ABI %u.%u\n", VLB_ABI_MAJOR, VLB_ABI_MINOR);
	return 0;

err_devices:
	vlb_devices_exit();
err_transport:
	vlb_transport_exit();
err_iova:
	vlb_iova_exit();
	return ret;
}

static void __exit vlb_exit(void)
{
	misc_deregister(&vlb_ctl_misc);
	/*
	 * Open fds pin the module, so what remains are devices in their grace
	 * period and removals under way: all are removed, and every work item
	 * of theirs has returned, before the transport's queues go.
	 */
	vlb_devices_exit();
	vlb_transport_exit();
	vlb_iova_exit();
	pr_info("unloaded\n");
}

module_init(vlb_init);
module_exit(vlb_exit);

MODULE_DESCRIPTION("virtio transport for devices implemented in user space");
MODULE_AUTHOR("virtio-loopback developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(VLB_MODULE_VERSION);
