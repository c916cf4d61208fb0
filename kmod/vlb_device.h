/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio-loopback device: one virtio device whose implementation lives
 * in user space, reached through a per-device file descriptor.
 */
#ifndef VLB_DEVICE_H
#define VLB_DEVICE_H

#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/ratelimit_types.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_loopback.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "vlb_console_gate.h"
#include "vlb_iova.h"
#include "vlb_stats.h"
#include "vlb_types.h"

struct vlb_device;

/* What the transport remembers of a request it published to the device. */
struct vlb_inflight {
	unsigned long published;	/* jiffies, for the request deadline */
	u32 writable;	/* device-writable bytes of the chain */
	u16 avail_pos;	/* shadow avail index it was published at */
	bool active;	/* published, not completed */
};

struct vlb_vq {
	struct vlb_device *vd;
	struct virtqueue *vq;		/* NULL until find_vqs */
	unsigned int index;
	unsigned int num;
	/* Set up and not reset; changed under both @avail_lock and @used_mutex. */
	bool ready;

	/* The driver's ring, as the kernel sees it. */
	struct vring vring;
	/*
	 * Shadow rings the device uses instead of the driver's avail and
	 * used rings: avail read-only, used writable, both transport-owned.
	 */
	struct page *shadow_pages;
	unsigned int shadow_npages;
	struct vring_avail *shadow_avail;
	struct vring_used *shadow_used;
	u64 desc_iova, shadow_iova, shadow_avail_iova, shadow_used_iova;
	u64 desc_len;

	/*
	 * @avail_lock (irq-safe, the driver notifies from atomic context)
	 * guards @last_avail, @inflight activation and the shadow avail ring.
	 */
	spinlock_t avail_lock;
	u16 last_avail;
	/*
	 * @used_mutex serialises completion processing (call work, reset,
	 * teardown): @last_used, @used_idx, the real used ring, and the
	 * clearing of @inflight entries.
	 */
	struct mutex used_mutex;
	u16 last_used;		/* next shadow used entry to read */
	u16 used_idx;		/* next real used entry to write */
	struct vlb_inflight *inflight;	/* num entries, by head */

	/* Eventfds; swapped under @vd->eventfd_lock. */
	struct eventfd_ctx *kick;
	struct eventfd_ctx *call;
	wait_queue_entry_t call_wait;
	poll_table call_pt;
	wait_queue_head_t *call_wqh;
	struct work_struct call_work;
	/*
	 * The same work, queued on the signalling task's CPU. A work item
	 * must stay on one workqueue: flush and cancel find a running
	 * instance only there. Both run under used_mutex.
	 */
	struct work_struct call_work_local;
	bool call_on_signalling_cpu;	/* set once, see vlb_vq_init */
	/* Its requests are bound by the device's deadline; set once. */
	bool has_deadline;
};

enum vlb_attach_state {
	VLB_ATTACHED,	/* a per-device fd is open */
	VLB_DETACHED,	/* fd closed; removal pending after the grace period */
	/*
	 * Being removed: still listed, so its name cannot be created again
	 * until the parent device is gone, and never reattached (EIO).
	 */
	VLB_REMOVING,
	VLB_REMOVED,	/* gone from the registry; its fds answer ENODEV */
};

struct vlb_pending_msg {
	struct list_head node;
	struct vlb_msg msg;
	int result;
	bool done;
};

struct vlb_device {
	struct kref ref;		/* registry, fds, works, devices */
	struct list_head node;		/* in vlb_devices, under vlb_devices_lock */
	char name[VLB_NAME_MAX];
	struct vlb_create params;	/* validated, defaults filled */
	const struct vlb_type *type;	/* of params.device_id */
	/* Created through a scoped control file: REATTACH needs one. Set once. */
	bool created_scoped;

	struct device parent;		/* DMA device of the virtio device */
	struct virtio_device vdev;
	bool parent_added, vdev_registered;

	struct vlb_iova_domain *iova;
	struct vlb_stats_counters stats;

	/*
	 * @config_lock (irq-safe) guards @config, @config_generation and
	 * @config_answered (a selection window's answer was given since the
	 * driver's last selection).
	 */
	spinlock_t config_lock;
	u8 config[VLB_CONFIG_MAX];
	u32 config_generation;
	bool config_answered;
	/* Bounds the config-change interrupts VLB_DEV_CONFIG_UPDATE raises. */
	struct ratelimit_state config_changes;

	u8 status;
	u64 driver_features;

	struct vlb_vq *vqs;		/* params.num_queues */

	/*
	 * virtio_console's receive gate (vlb_console_gate.h), set up by
	 * find_vqs. @gate_lock (irq-safe: the driver notifies from atomic
	 * context) guards it. A port is closed under its receive queue's
	 * used_mutex too, so that no completion is being handed over then.
	 */
	spinlock_t gate_lock;
	struct vlb_console_gate console_gate;

	/* Control channel: @msg_lock guards the lists, @state and @next_seq. */
	spinlock_t msg_lock;
	struct list_head msg_queue;	/* to be read by user space */
	struct list_head msg_sent;	/* read, waiting for the reply */
	wait_queue_head_t msg_readers;	/* user space waiting to read */
	wait_queue_head_t msg_waiters;	/* kernel waiting for replies */
	u32 next_seq;
	enum vlb_attach_state state;
	bool broken;
	/* @msg_mutex: one message in flight at a time, in order. */
	struct mutex msg_mutex;

	/* @eventfd_lock guards every vq's kick/call swap. */
	struct mutex eventfd_lock;

	/*
	 * @gone_rwsem: the per-device fd's operations that reach the virtio
	 * device, its queues, eventfds or IOVA domain run under the read side
	 * and answer ENODEV once @gone is set, which removal does under the
	 * write side before it takes anything down. So nothing an fd holder
	 * does can reach a device that removal is tearing down.
	 */
	struct rw_semaphore gone_rwsem;
	bool gone;

	/*
	 * The request deadline (vlb_transport.c), armed by notifies, off for
	 * good once @deadline_off is set (removal). Two timers, each for a
	 * CPU a driver may spin on: @deadline_here, a hard-irq hrtimer on
	 * the CPU of a notify with interrupts on, fires although that CPU
	 * spins with preemption off (a timer_list would wait there for a
	 * softirq that does not run while ksoftirqd is runnable);
	 * @deadline_away, on another CPU, for a notify with interrupts off
	 * (no timer fires on that CPU until they are back on).
	 */
	struct hrtimer deadline_here;
	struct timer_list deadline_away;
	/* irq-safe: arming against @deadline_off, and @deadline_here_armed. */
	spinlock_t deadline_lock;
	bool deadline_here_armed;
	bool deadline_off;

	/* Both on vlb_dev_wq, which module unload drains. */
	struct work_struct register_work;	/* register_virtio_device() */
	struct delayed_work remove_work;	/* grace period over, or broken */
};

static inline struct vlb_device *to_vlb(struct virtio_device *vdev)
{
	return container_of(vdev, struct vlb_device, vdev);
}

/* vlb_device.c */
int vlb_devices_init(void);
/* Removes every device and waits for every work of the module's devices. */
void vlb_devices_exit(void);
/* @scope: the control file's VLB_IOC_SCOPE, or NULL (unscoped). */
long vlb_ioctl_create(const struct vlb_scope *scope, void __user *argp);
long vlb_ioctl_reattach(const struct vlb_scope *scope, void __user *argp);
int vlb_send_msg(struct vlb_device *vd, struct vlb_msg *msg);
void vlb_mark_broken(struct vlb_device *vd, const char *why);
bool vlb_is_child_of_a_device(const struct device *dev);
extern unsigned int vlb_msg_timeout_ms;

/* vlb_transport.c */
int vlb_transport_init(void);
void vlb_transport_exit(void);
extern const struct virtio_config_ops vlb_config_ops;
void vlb_vq_init(struct vlb_device *vd, struct vlb_vq *q, unsigned int index);
void vlb_deadline_init(struct vlb_device *vd);
/* No deadline fires once this returns; after the driver is gone. */
void vlb_deadline_stop(struct vlb_device *vd);
int vlb_set_vq_eventfd(struct vlb_device *vd, unsigned int index, int fd,
		       bool call);
void vlb_vq_release_eventfds(struct vlb_vq *q);
void vlb_vq_interrupt(struct vlb_vq *q);
void vlb_console_probed(struct vlb_device *vd);
/* VLB_IOVA_CALL's vlb_iova_call_fn: @owner is the struct vlb_device. */
long vlb_call_in_device(void *owner, struct eventfd_ctx *call);
/*
 * Completes every request in flight with an error, in process context,
 * once vlb_mark_broken() made every later notify publish nothing.
 */
void vlb_fail_inflight(struct vlb_device *vd);
void vlb_vq_get_state(struct vlb_vq *q, struct vlb_vq_state *s);

#endif /* VLB_DEVICE_H */
