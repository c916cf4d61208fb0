/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * virtio-loopback user-space ABI.
 *
 * The kernel module exposes one misc device, /dev/virtio-loopback. Every
 * structure passed through it has a fixed size, explicit padding and
 * reserved fields that must be zero, so the ABI can grow by giving meaning
 * to reserved fields and bumping VLB_ABI_MINOR, without new ioctl numbers.
 *
 * Incompatible changes bump VLB_ABI_MAJOR; user space must refuse a kernel
 * whose major differs from the one it was built against.
 */
#ifndef _UAPI_LINUX_VIRTIO_LOOPBACK_H
#define _UAPI_LINUX_VIRTIO_LOOPBACK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VLB_MISC_NAME		"virtio-loopback"

#define VLB_ABI_MAJOR		0
#define VLB_ABI_MINOR		1

/* Unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst (6.1). */
#define VLB_IOCTL_MAGIC		0xBE

/**
 * struct vlb_version - answer of VLB_IOC_GET_VERSION
 * @abi_major: incompatible ABI revision, VLB_ABI_MAJOR of the module
 * @abi_minor: compatible additions, VLB_ABI_MINOR of the module
 * @reserved: zero
 */
struct vlb_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u32 reserved[6];
};

#define VLB_IOC_GET_VERSION	_IOR(VLB_IOCTL_MAGIC, 0x00, struct vlb_version)

#endif /* _UAPI_LINUX_VIRTIO_LOOPBACK_H */
