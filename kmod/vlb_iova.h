/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-device IOVA domain: the only window a device process has on
 * kernel memory.
 *
 * Every DMA mapping of the device's driver lands here (own dma_map_ops on
 * the virtio device's parent). An entry is first only *mapped*: the device
 * cannot reach it. The transport *activates* a request's entries when it
 * publishes the request to the device, and *revokes* them (PTEs zapped,
 * TLB flushed) in process context before the driver may see the
 * completion. The fault handler inserts a page only for an active entry,
 * with the permission of its DMA direction; anything else is SIGBUS.
 */
#ifndef VLB_IOVA_H
#define VLB_IOVA_H

#include <linux/bvec.h>
#include <linux/dma-map-ops.h>
#include <linux/kref.h>
#include <linux/mm_types.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/virtio_loopback.h>
#include <linux/wait.h>

struct vlb_stats_counters;

/* Device's access to an entry. */
#define VLB_IOVA_READ		BIT(0)
#define VLB_IOVA_WRITE		BIT(1)
/* Reachable by the device now (in flight, or a ring). */
#define VLB_IOVA_ACTIVE		BIT(2)
/* @page is a bounce page standing in for @orig. */
#define VLB_IOVA_BOUNCE		BIT(3)
/* Ring memory owned by the transport, never a data buffer. */
#define VLB_IOVA_RING		BIT(4)
/* A bounce page allocated beyond the pool (see vlb_dma_map_page). */
#define VLB_IOVA_EXTRA		BIT(5)
/*
 * A from-device page granted zero-copy that still holds whatever its
 * owner left there (freed kernel memory, with init_on_alloc=0, or an
 * application's buffer under O_DIRECT): cleared before the device can
 * read it, by a fault or a copy to a file.
 */
#define VLB_IOVA_DIRTY		BIT(6)

struct vlb_iova_entry {
	struct page *page;	/* what the device sees; NULL if unmapped */
	struct page *orig;	/* bounce only: the driver's page */
	u16 start, end;		/* bounce only: bytes of the buffer in page */
	u8 flags;
	u16 copying;		/* VLB_IOVA_COPY calls holding the page */
};

struct eventfd_ctx;
/* Processes the calls of the queue whose call eventfd is @call. */
typedef long (*vlb_iova_call_fn)(void *owner, struct eventfd_ctx *call);

struct vlb_iova_domain {
	struct kref ref;	/* the device and each open IOVA file */
	/*
	 * A private inode: every IOVA file is opened on it, so its mapping
	 * links every device mapping for unmap_mapping_range(). The domain
	 * holds no file itself: only files user space holds pin the module.
	 */
	struct inode *inode;

	/*
	 * @lock (irq-safe; the DMA API is called in atomic context) guards
	 * @entries, @bitmap, @granted, @active, @copying, the bounce free
	 * list and @dead.
	 */
	spinlock_t lock;
	/*
	 * Copies (VLB_IOVA_COPY) take their pages under @lock while they are
	 * reachable, and hold them (entry->copying) for the file I/O without
	 * any lock. Revocation clears ACTIVE first, so no copy can take the
	 * pages again, then waits on @copy_wq until none holds them: a copy
	 * never overtakes the completion of its request, and copies of other
	 * requests go on meanwhile.
	 */
	wait_queue_head_t copy_wq;
	unsigned long copying;		/* pages held by copies */
	/*
	 * @revoke_rwsem orders page insertion against revocation: the fault
	 * handler checks an entry and inserts its PTE under the read side;
	 * revocation clears ACTIVE and zaps under the write side, so no PTE
	 * can be inserted for an entry after it was revoked.
	 */
	struct rw_semaphore revoke_rwsem;

	unsigned long npages;		/* IOVA pages */
	struct vlb_iova_entry *entries;	/* npages */
	unsigned long *bitmap;		/* allocated IOVA pages */
	unsigned long next_hint;	/* next-fit start */
	unsigned long granted;		/* data pages mapped now */
	unsigned long active;		/* data pages the device can reach now */
	unsigned long max_granted;
	u32 bounce_threshold;

	struct page **bounce_pages;	/* the pool, for teardown */
	struct page **bounce_free;	/* stack of free pool pages */
	unsigned int bounce_total, bounce_nfree;

	bool dead;			/* device gone: every fault is SIGBUS */
	/*
	 * A page was unmapped while still ACTIVE (a WARN: impossible by
	 * construction): its PTEs may remain, so the next vlb_iova_revoke_all()
	 * zaps everything even with nothing active.
	 */
	bool stale;
	/*
	 * The device's counters. IOVA files, hence the domain, may outlive
	 * the device, so vlb_iova_destroy() clears @stats under revoke_rwsem
	 * held for write and @lock: the fault path reads it under the read
	 * side, copies under @lock, every other user runs while the device
	 * lives.
	 */
	struct vlb_stats_counters *stats;
	/*
	 * Who serves VLB_IOVA_CALL: the device, until vlb_iova_destroy()
	 * clears @owner under @owner_rwsem held for write. A call holds the
	 * read side while it runs @owner_call, so the device's queues stay
	 * until every call into them returned.
	 */
	struct rw_semaphore owner_rwsem;
	void *owner;
	vlb_iova_call_fn owner_call;
};

int vlb_iova_init(void);
void vlb_iova_exit(void);

struct vlb_iova_domain *vlb_iova_create(u64 size, u32 max_granted,
					u32 bounce_threshold, u32 pool_pages,
					struct vlb_stats_counters *stats);
/* Revokes everything, makes every later fault SIGBUS, drops the ref. */
void vlb_iova_destroy(struct vlb_iova_domain *d);
/* Makes @call serve VLB_IOVA_CALL for @owner, until vlb_iova_destroy(). */
void vlb_iova_set_owner(struct vlb_iova_domain *d, void *owner,
			vlb_iova_call_fn call);
/* A new O_CLOEXEC fd on a new file of the domain, for mmap() only. */
int vlb_iova_get_fd(struct vlb_iova_domain *d);

extern const struct dma_map_ops vlb_dma_ops;
/* The device whose dma_ops are vlb_dma_ops points here via drvdata. */
void vlb_iova_attach_dma_dev(struct vlb_iova_domain *d, struct device *dev);

/*
 * Activation of [iova, iova + len) (atomic-safe); fails (-EFAULT) if any
 * page of the range is not mapped as a data buffer.
 */
int vlb_iova_activate(struct vlb_iova_domain *d, u64 iova, u64 len);
/*
 * Revocation of many ranges at once: one lock round trip and one zap per
 * run of adjacent pages. Add ranges, then flush before completing any of
 * the requests they belong to. Process context.
 */
#define VLB_REVOKE_BATCH	32
struct vlb_revoke_batch {
	unsigned int n;
	struct {
		unsigned long first, last;	/* IOVA pages, inclusive */
	} r[VLB_REVOKE_BATCH];
};

void vlb_revoke_batch_add(struct vlb_iova_domain *d, struct vlb_revoke_batch *b,
			  u64 iova, u64 len);
void vlb_revoke_batch_flush(struct vlb_iova_domain *d, struct vlb_revoke_batch *b);

/* Revokes every active data entry (reset, teardown). */
void vlb_iova_revoke_all(struct vlb_iova_domain *d);

/*
 * Transport-owned ring memory: maps @npages pages at a fresh IOVA with
 * @perm (VLB_IOVA_READ/WRITE), active until vlb_iova_unmap_ring().
 */
int vlb_iova_map_ring(struct vlb_iova_domain *d, struct page *pages,
		      unsigned int npages, u8 perm, u64 *iova);
void vlb_iova_unmap_ring(struct vlb_iova_domain *d, u64 iova,
			 unsigned int npages);
/* Grants (or, with perm 0, withdraws) device access to ring pages. */
int vlb_iova_set_ring_perm(struct vlb_iova_domain *d, u64 iova, u64 len,
			   u8 perm);

/*
 * Copies on the device's behalf (VLB_IOVA_COPY, vlb_iova_copy.c). Get:
 * if the device may reach every page of @segs now as a data buffer (for
 * writing if @write), holds them and fills @bv with one bio_vec per page;
 * returns their number or -EFAULT (nothing held). The pages stay valid
 * until put: their revocation waits for it. Put counts @copied (bytes, or
 * a negative errno) and lets revocation go on; @filled (a copy from a file
 * that wrote every byte of @segs) makes the DIRTY pages they cover whole
 * clean, since nothing of what their owner left remains there.
 */
int vlb_iova_copy_get(struct vlb_iova_domain *d,
		      const struct vlb_iova_seg *segs, u32 nr_segs, bool write,
		      struct bio_vec *bv);
void vlb_iova_copy_put(struct vlb_iova_domain *d,
		       const struct vlb_iova_seg *segs, u32 nr_segs,
		       ssize_t copied, bool filled);
long vlb_iova_copy(struct vlb_iova_domain *d, void __user *argp);

/* Writes @byte at @iova as the device would (fail-in-flight path). */
int vlb_iova_poke(struct vlb_iova_domain *d, u64 iova, u8 byte);
/*
 * Reads @len bytes at @iova of the driver's buffers, as the driver will
 * see them: call it once the device's access is revoked, or for bytes
 * the device cannot write.
 */
int vlb_iova_peek(struct vlb_iova_domain *d, u64 iova, void *buf, size_t len);

#endif /* VLB_IOVA_H */
