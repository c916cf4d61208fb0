/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * virtio-loopback user-space ABI.
 *
 * The kernel module exposes one misc device, /dev/virtio-loopback. Every
 * structure passed through it has a fixed size, explicit padding and
 * reserved fields that must be zero, so the ABI can grow by giving meaning
 * to reserved fields or adding ioctls, and bumping VLB_ABI_MINOR.
 * Minor 2 added VLB_DEV_GET_STATE and VLB_DEV_GET_VQ_STATE (reattach).
 * Minor 3 added VLB_IOVA_COPY and the copies/copied_bytes counters.
 * Minor 4 added the calls_on_signalling_cpu counter.
 * Minor 5 added VLB_IOVA_CALL and the calls_in_device counter.
 * Minor 6 added vlb_create.request_timeout_ms and the request_timeouts
 * counter, and checks config spaces against what the stock drivers build
 * from them.
 * Minor 7 added VLB_IOC_SCOPE: a control file locked to one device.
 *
 * Incompatible changes bump VLB_ABI_MAJOR; user space must refuse a kernel
 * whose major differs from the one it was built against.
 */
#ifndef _UAPI_LINUX_VIRTIO_LOOPBACK_H
#define _UAPI_LINUX_VIRTIO_LOOPBACK_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define VLB_MISC_NAME		"virtio-loopback"

#define VLB_ABI_MAJOR		0
#define VLB_ABI_MINOR		7

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

/* ---------------------------------------------------------------------
 * Device creation (on /dev/virtio-loopback)
 */

#define VLB_NAME_MAX		32	/* including the terminating NUL */
#define VLB_CONFIG_MAX		256	/* bytes of device config space */
#define VLB_MAX_QUEUES		64
#define VLB_QUEUE_SIZE_MAX	1024	/* split ring entries, power of two */
#define VLB_IOVA_SIZE_MIN	_BITULL(20)
#define VLB_IOVA_SIZE_MAX	_BITULL(32)
#define VLB_IOVA_SIZE_DEFAULT	_BITULL(28)	/* 256 MiB */
#define VLB_GRANT_PAGES_DEFAULT	16384	/* 64 MiB of 4 KiB pages in flight */
#define VLB_BOUNCE_POOL_MAX	16384
#define VLB_BOUNCE_POOL_DEFAULT	256	/* 1 MiB */
/* bounce_threshold value that bounces every buffer (no zero-copy). */
#define VLB_BOUNCE_ALL		0xffffffffU

/**
 * struct vlb_create - argument of VLB_IOC_CREATE
 * @device_id: virtio device type (VIRTIO_ID_*), from the allow-list
 * @vendor_id: reported to the driver as the virtio vendor id
 * @device_features: features the device offers; transport bits the module
 *	does not support are cleared and VIRTIO_F_ACCESS_PLATFORM is added on
 *	the driver side only. On return: the features the driver is offered.
 * @num_queues: 1..VLB_MAX_QUEUES
 * @queue_size_max: largest ring, power of two, 2..VLB_QUEUE_SIZE_MAX
 * @config_size: valid bytes of @config, 0..VLB_CONFIG_MAX
 * @reserved0: zero
 * @max_granted_pages: pages of driver memory the device may see at once;
 *	0 selects VLB_GRANT_PAGES_DEFAULT. Mappings beyond it fail.
 * @bounce_threshold: buffers shorter than this many bytes are always
 *	copied; longer ones are granted zero-copy for their whole pages (head
 *	and tail partial pages are still copied). 0 selects PAGE_SIZE;
 *	VLB_BOUNCE_ALL copies everything.
 * @bounce_pool_pages: pages reserved for copies; 0 selects
 *	VLB_BOUNCE_POOL_DEFAULT
 * @flags: zero
 * @iova_size: bytes of IOVA space, page multiple; 0 selects
 *	VLB_IOVA_SIZE_DEFAULT
 * @name: unique, NUL-terminated, [a-z0-9_-], used to reattach
 * @reserved: zero
 * @config: initial device config space
 *
 * Returns a new per-device file descriptor (O_CLOEXEC).
 */
struct vlb_create {
	__u32 device_id;
	__u32 vendor_id;
	__u64 device_features;
	__u16 num_queues;
	__u16 queue_size_max;
	__u16 config_size;
	__u16 reserved0;
	__u32 max_granted_pages;
	__u32 bounce_threshold;
	__u32 bounce_pool_pages;
	__u32 flags;
	__u64 iova_size;
	char name[VLB_NAME_MAX];
	__u32 request_timeout_ms;
	__u32 reserved1;
	__u64 reserved[3];
	__u8 config[VLB_CONFIG_MAX];
};

/**
 * struct vlb_reattach - argument of VLB_IOC_REATTACH
 * @name: name of a device whose file descriptor was closed less than the
 *	grace period ago; a broken device cannot be reattached (EIO)
 * @reserved: zero
 *
 * Returns a new per-device file descriptor bound to that device.
 */
struct vlb_reattach {
	char name[VLB_NAME_MAX];
	__u64 reserved[4];
};

/**
 * struct vlb_scope - argument of VLB_IOC_SCOPE
 * @device_id: the virtio device type (VIRTIO_ID_*) the file may create
 *	and reattach, from the allow-list
 * @flags: zero
 * @name: the one device name the file may create and reattach
 * @max_granted_pages: the largest max_granted_pages a CREATE may have,
 *	defaults filled in; 0: the module's bound only
 * @bounce_pool_pages: the same for bounce_pool_pages (at most
 *	VLB_BOUNCE_POOL_MAX); 0: the module's bound only
 * @iova_size: the same for iova_size (a page multiple within
 *	VLB_IOVA_SIZE_MIN..MAX); 0: the module's bound only
 * @reserved: zero
 *
 * Locks the control file it is called on to one device, for good: CREATE
 * and REATTACH through it then fail with EPERM for any other name or type
 * or for larger limits. A device created through a scoped file can be
 * reattached only through a file scoped to its name (EPERM otherwise).
 * The caller needs CAP_SYS_ADMIN (EPERM); a file is scoped once (EBUSY).
 * The supervisor scopes the file it hands an adapter, so a compromised
 * adapter can neither make other devices nor take over another's.
 */
struct vlb_scope {
	__u32 device_id;
	__u32 flags;
	char name[VLB_NAME_MAX];
	__u32 max_granted_pages;
	__u32 bounce_pool_pages;
	__u64 iova_size;
	__u64 reserved[4];
};

#define VLB_IOC_CREATE		_IOWR(VLB_IOCTL_MAGIC, 0x01, struct vlb_create)
#define VLB_IOC_REATTACH	_IOW(VLB_IOCTL_MAGIC, 0x02, struct vlb_reattach)
#define VLB_IOC_SCOPE		_IOW(VLB_IOCTL_MAGIC, 0x03, struct vlb_scope)

/* ---------------------------------------------------------------------
 * Control channel (read()/write()/poll() on the per-device fd)
 *
 * The kernel queues a struct vlb_msg for each event user space must act
 * on; read() returns one message (the buffer must hold at least one).
 * Every message carries VLB_MSG_F_REPLY and waits for a struct vlb_reply
 * with the same seq, written with write(), for at most the module's
 * msg_timeout_ms; a late, missing or failed reply breaks the device.
 */

enum vlb_msg_type {
	/* The driver accepted @u.features (FEATURES_OK). */
	VLB_MSG_SET_FEATURES	= 1,
	/* The driver set @u.status (DRIVER_OK, FAILED, ...). */
	VLB_MSG_SET_STATUS	= 2,
	/* Device reset: stop every queue and forget negotiated state. */
	VLB_MSG_RESET		= 3,
	/* Queue @u.vq.index is set up; addresses are IOVAs. */
	VLB_MSG_VQ_ENABLE	= 4,
	/* Queue @u.vq.index is being torn down. */
	VLB_MSG_VQ_DISABLE	= 5,
	/* The driver wrote @u.config.len bytes of config space. */
	VLB_MSG_CONFIG_WRITE	= 6,
};

#define VLB_MSG_F_REPLY		_BITUL(0)
#define VLB_MSG_CONFIG_CHUNK	32

/**
 * struct vlb_msg - a control message, read() from the per-device fd
 * @type: enum vlb_msg_type
 * @seq: identifies the message; echoed in the reply
 * @flags: VLB_MSG_F_*
 * @reserved: zero
 * @u: payload by @type
 */
struct vlb_msg {
	__u32 type;
	__u32 seq;
	__u32 flags;
	__u32 reserved;
	union {
		struct {
			__u64 features;
		} features;
		struct {
			__u8 status;
			__u8 pad[7];
		} status;
		struct {
			__u32 index;
			__u32 num;
			__u64 desc;
			__u64 avail;
			__u64 used;
		} vq;
		struct {
			__u32 offset;
			__u32 len;
			__u8 data[VLB_MSG_CONFIG_CHUNK];
		} config;
		__u8 raw[48];
	} u;
};

/**
 * struct vlb_reply - the answer to a struct vlb_msg, write() to the fd
 * @seq: the message's seq
 * @result: 0, or a negative errno that fails the driver's operation
 * @reserved: zero
 */
struct vlb_reply {
	__u32 seq;
	__s32 result;
	__u32 reserved[2];
};

/* ---------------------------------------------------------------------
 * Per-device ioctls
 */

/**
 * struct vlb_vq_eventfd - VLB_DEV_SET_VQ_KICK / VLB_DEV_SET_VQ_CALL
 * @index: queue index
 * @fd: an eventfd, or -1 to detach
 * @reserved: zero
 *
 * KICK: the kernel signals @fd when the driver notifies the queue.
 * CALL: the device signals @fd after adding used buffers; the kernel
 * validates them, revokes their pages and completes them to the driver.
 */
struct vlb_vq_eventfd {
	__u32 index;
	__s32 fd;
	__u64 reserved;
};

/**
 * struct vlb_config_update - VLB_DEV_CONFIG_UPDATE
 * @offset: first byte to change
 * @len: bytes, @offset + @len <= the device's config_size
 * @reserved: zero
 * @data: new bytes
 *
 * Updates the config cache and raises a config-change interrupt; the
 * config space it makes is checked as at CREATE (EINVAL, nothing changed).
 * Once the driver is up, 20 updates a second at most (EAGAIN beyond). A
 * selection window (virtio-input's select and subsel) stays as the driver
 * wrote it.
 */
struct vlb_config_update {
	__u32 offset;
	__u32 len;
	__u64 reserved;
	__u8 data[VLB_CONFIG_MAX];
};

/**
 * struct vlb_vq_index - VLB_DEV_VQ_INTERRUPT
 * @index: queue index
 * @reserved: zero
 *
 * The same as signalling the queue's call eventfd.
 */
struct vlb_vq_index {
	__u32 index;
	__u32 reserved;
};

/**
 * struct vlb_stats - VLB_DEV_GET_STATS; every counter only grows
 * @grants: buffer pages granted zero-copy
 * @bounces: buffer pages copied through the bounce pool
 * @revocations: pages whose access was revoked before completion
 * @faults_refused: device accesses refused: SIGBUS on the mapping, EFAULT
 *	from VLB_IOVA_COPY
 * @map_failures: driver mappings refused (limits, pool or IOVA exhausted)
 * @used_rejected: used entries refused (bad id, not in flight, bad length)
 * @broken: times the device was marked broken
 * @kicks: driver notifications forwarded to the kick eventfd
 * @calls: call eventfd signals processed
 * @msg_timeouts: control messages that got no reply in time
 * @copies: VLB_IOVA_COPY calls that reached the file
 * @copied_bytes: bytes those calls transferred
 * @calls_on_signalling_cpu: of @calls, those processed on the CPU of the
 *	task that signalled them (virtio_blk and virtio_rng only)
 * @calls_in_device: of @calls, those the device made with VLB_IOVA_CALL
 *	and that were processed in its own context
 * @request_timeouts: requests that passed the device's deadline (each
 *	breaks the device, so at most 1)
 * @completions_held: times a queue's completions were held back until
 *	the driver could take them (virtio_console: a port's receive queue
 *	while the port is not listed)
 */
struct vlb_stats {
	__u64 grants;
	__u64 bounces;
	__u64 revocations;
	__u64 faults_refused;
	__u64 map_failures;
	__u64 used_rejected;
	__u64 broken;
	__u64 kicks;
	__u64 calls;
	__u64 msg_timeouts;
	__u64 copies;
	__u64 copied_bytes;
	__u64 calls_on_signalling_cpu;
	__u64 calls_in_device;
	__u64 request_timeouts;
	__u64 completions_held;
};

/**
 * struct vlb_dev_state - VLB_DEV_GET_STATE: what a reattaching adapter
 *	must know to bring a new device process to where the old one was
 * @driver_features: the features sent with VLB_MSG_SET_FEATURES (without
 *	VIRTIO_F_ACCESS_PLATFORM); meaningful once @status has FEATURES_OK
 * @status: the driver's virtio status byte
 * @broken: 1 if the device is broken (every request fails)
 * @reserved0: zero
 * @reserved: zero
 * @params: the device as created, defaults filled in and @device_features
 *	as offered to the driver; @config holds the current config space
 */
struct vlb_dev_state {
	__u64 driver_features;
	__u8 status;
	__u8 broken;
	__u8 reserved0[6];
	__u64 reserved[6];
	struct vlb_create params;
};

/* The queue is set up by the driver and not reset. */
#define VLB_VQ_STATE_F_READY	_BITUL(0)

/**
 * struct vlb_vq_inflight - one request published and not completed
 * @head: its descriptor chain's head
 * @avail_pos: the shadow avail index it was published at; the distance
 *	back from @last_avail orders requests oldest first
 */
struct vlb_vq_inflight {
	__u16 head;
	__u16 avail_pos;
};

/**
 * struct vlb_vq_state - VLB_DEV_GET_VQ_STATE
 * @index: queue index (in); everything else is out
 * @flags: VLB_VQ_STATE_F_*; the rest is zero unless READY
 * @num: ring entries
 * @last_avail: shadow avail index: requests published to the device
 * @used_idx: shadow used index the kernel has consumed up to
 * @desc: IOVA of the descriptor table, as in VLB_MSG_VQ_ENABLE
 * @avail: IOVA of the shadow avail ring
 * @used: IOVA of the shadow used ring
 * @inflight_num: valid entries of @inflight
 * @reserved0: zero
 * @reserved: zero
 * @inflight: requests in flight, by head
 *
 * Used entries the device wrote but did not signal are consumed first, so
 * @last_avail - @used_idx == @inflight_num. Consistent only while no
 * device process serves the queue: a reattaching adapter reads it before
 * it starts the new one, and rebuilds the vhost-user inflight region.
 */
struct vlb_vq_state {
	__u32 index;
	__u32 flags;
	__u32 num;
	__u16 last_avail;
	__u16 used_idx;
	__u64 desc;
	__u64 avail;
	__u64 used;
	__u16 inflight_num;
	__u16 reserved0[3];
	__u64 reserved[4];
	struct vlb_vq_inflight inflight[VLB_QUEUE_SIZE_MAX];
};

#define VLB_DEV_SET_VQ_KICK	_IOW(VLB_IOCTL_MAGIC, 0x40, struct vlb_vq_eventfd)
#define VLB_DEV_SET_VQ_CALL	_IOW(VLB_IOCTL_MAGIC, 0x41, struct vlb_vq_eventfd)
/* Returns an fd for mmap() of the IOVA space (MAP_SHARED) and VLB_IOVA_COPY. */
#define VLB_DEV_GET_IOVA_FD	_IO(VLB_IOCTL_MAGIC, 0x42)
#define VLB_DEV_CONFIG_UPDATE	_IOW(VLB_IOCTL_MAGIC, 0x43, struct vlb_config_update)
#define VLB_DEV_VQ_INTERRUPT	_IOW(VLB_IOCTL_MAGIC, 0x44, struct vlb_vq_index)
#define VLB_DEV_GET_STATS	_IOR(VLB_IOCTL_MAGIC, 0x45, struct vlb_stats)
#define VLB_DEV_GET_STATE	_IOR(VLB_IOCTL_MAGIC, 0x46, struct vlb_dev_state)
#define VLB_DEV_GET_VQ_STATE	_IOWR(VLB_IOCTL_MAGIC, 0x47, struct vlb_vq_state)

/* ---------------------------------------------------------------------
 * IOVA fd ioctls (on the fd VLB_DEV_GET_IOVA_FD returns)
 */

#define VLB_IOVA_COPY_SEGS_MAX	256
#define VLB_IOVA_COPY_BYTES_MAX	_BITULL(22)	/* 4 MiB */

/* Direction of a VLB_IOVA_COPY, seen from the file. */
#define VLB_IOVA_COPY_TO_FILE	_BITUL(0)	/* buffers -> file: a write */
#define VLB_IOVA_COPY_FROM_FILE	_BITUL(1)	/* file -> buffers: a read */

/**
 * struct vlb_iova_seg - one buffer of a VLB_IOVA_COPY
 * @iova: its address in the IOVA space (the mmap() offset)
 * @len: bytes, at least 1
 */
struct vlb_iova_seg {
	__u64 iova;
	__u64 len;
};

/**
 * struct vlb_iova_copy - VLB_IOVA_COPY: the kernel moves data between
 *	request buffers and a file, as preadv()/pwritev() on the device's
 *	mapping would, without mapping a page into the device process
 * @segs: user address of @nr_segs struct vlb_iova_seg, in file order
 * @nr_segs: 1..VLB_IOVA_COPY_SEGS_MAX
 * @fd: the caller's fd of a regular file or block device, open for the
 *	direction; not one on a virtio-loopback device, nor one whose I/O a
 *	process serves (FUSE, NFS and other file systems without a local
 *	block device, nbd and loop devices)
 * @offset: file position (for O_DIRECT, as aligned as the file needs)
 * @flags: exactly one of VLB_IOVA_COPY_TO_FILE, VLB_IOVA_COPY_FROM_FILE
 * @reserved0: zero
 * @reserved: zero
 *
 * Every page of every segment must be reachable by the device now, with
 * the access its mapping would have: TO_FILE reads the buffers, FROM_FILE
 * writes them (from-device buffers only). Ring memory is never copied. A
 * from-device page TO_FILE reads is cleared first, as a fault of the
 * mapping would: the device sees nothing its owner left there.
 * At most VLB_IOVA_COPY_BYTES_MAX bytes in all.
 *
 * Returns the bytes transferred (short only where pread()/pwrite() would
 * be), or -1 with errno: EFAULT a page is not reachable so, EINVAL a bad
 * argument or file kind, ELOOP a file on a virtio-loopback device,
 * EOPNOTSUPP a file whose I/O a process serves (nothing moved), EBADF
 * @fd not open (for the direction), or the error of the file's read or
 * write. Revocation waits for a copy in progress: a completion never
 * overtakes a copy into its buffers.
 */
struct vlb_iova_copy {
	__u64 segs;
	__u32 nr_segs;
	__s32 fd;
	__u64 offset;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct vlb_iova_call - VLB_IOVA_CALL: signal a queue's call eventfd and
 *	have its completions processed before the call returns
 * @fd: the caller's fd of the queue's call eventfd, as the device got it
 * @reserved: zero
 *
 * The same as writing to @fd, except where the work runs: the transport
 * takes the queue's new used entries, revokes their pages and completes
 * them to the driver in the caller's context, instead of in a work item
 * that the eventfd queues. That saves a context switch per call, and
 * charges the completion to the device that asked for it. It gives the
 * device nothing a write to @fd would not.
 *
 * Returns 0, or -1 with errno: EFAULT a bad argument address, EINVAL
 * @reserved not zero or @fd not an eventfd, EBADF @fd not open, ENOENT
 * @fd is no queue's call eventfd of this device, ENODEV the device is
 * gone. On any error nothing happened; the device writes to @fd instead.
 */
struct vlb_iova_call {
	__s32 fd;
	__u32 reserved;
};

#define VLB_IOVA_COPY		_IOW(VLB_IOCTL_MAGIC, 0x80, struct vlb_iova_copy)
#define VLB_IOVA_CALL		_IOW(VLB_IOCTL_MAGIC, 0x81, struct vlb_iova_call)

#endif /* _UAPI_LINUX_VIRTIO_LOOPBACK_H */
