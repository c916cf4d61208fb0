// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-loopback IOVA domain: DMA ops, grants, bounce pool, and the
 * mmap()able view the device process uses. See vlb_iova.h for the model.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/nospec.h>
#include <linux/pseudo_fs.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vlb_abi_check.h"
#include "vlb_compat.h"
#include "vlb_iova.h"
#include "vlb_stats.h"

#define VLB_IOVA_FS_MAGIC	0x766c6269	/* "vlbi" */

/*
 * A private pseudo filesystem gives every domain its own inode, hence its
 * own address_space, so unmap_mapping_range() zaps exactly the mappings of
 * one device (the shared anon inode would hit every device's).
 */
static struct vfsmount *vlb_iova_mnt;

static int vlb_iova_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, VLB_IOVA_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * No .owner: kern_mount() would pin the module through it forever. The
 * mount lives exactly from module init to module exit; open IOVA files pin
 * the module through their own fops.
 */
static struct file_system_type vlb_iova_fs_type = {
	.name		= "vlb_iova",
	.init_fs_context = vlb_iova_init_fs_context,
	.kill_sb	= kill_anon_super,
};

int vlb_iova_init(void)
{
	vlb_iova_mnt = kern_mount(&vlb_iova_fs_type);
	return PTR_ERR_OR_ZERO(vlb_iova_mnt);
}

void vlb_iova_exit(void)
{
	kern_unmount(vlb_iova_mnt);
}

/* ------------------------------------------------------------------ */

static void vlb_iova_release(struct kref *ref)
{
	struct vlb_iova_domain *d = container_of(ref, struct vlb_iova_domain, ref);
	unsigned int i;

	for (i = 0; i < d->bounce_total; i++)
		if (d->bounce_pages[i])
			__free_page(d->bounce_pages[i]);
	kvfree(d->bounce_pages);
	kvfree(d->bounce_free);
	bitmap_free(d->bitmap);
	kvfree(d->entries);
	if (d->inode)
		iput(d->inode);
	kfree(d);
}

static void vlb_iova_put(struct vlb_iova_domain *d)
{
	kref_put(&d->ref, vlb_iova_release);
}

static inline u64 vlb_pfn_to_iova(unsigned long pfn)
{
	return (u64)pfn << PAGE_SHIFT;
}

/* Pages [first, first + n) of @iova, @len; false if outside the domain. */
static bool vlb_iova_range(struct vlb_iova_domain *d, u64 iova, u64 len,
			   unsigned long *first, unsigned long *n)
{
	u64 end;

	if (!len || check_add_overflow(iova, len, &end))
		return false;
	*first = iova >> PAGE_SHIFT;
	*n = ((end - 1) >> PAGE_SHIFT) - *first + 1;
	if (*first >= d->npages || *n > d->npages - *first)
		return false;
	/* The device chose @iova: no speculative index past the entries. */
	*first = array_index_nospec(*first, d->npages);
	return true;
}

/* Next-fit allocation of @n contiguous IOVA pages; page 0 is never used. */
static bool vlb_iova_alloc(struct vlb_iova_domain *d, unsigned long n,
			   unsigned long *pfn)
{
	unsigned long p;

	lockdep_assert_held(&d->lock);
	p = bitmap_find_next_zero_area(d->bitmap, d->npages, d->next_hint, n, 0);
	if (p >= d->npages)
		p = bitmap_find_next_zero_area(d->bitmap, d->npages, 1, n, 0);
	if (p >= d->npages)
		return false;
	bitmap_set(d->bitmap, p, n);
	d->next_hint = p + n < d->npages ? p + n : 1;
	*pfn = p;
	return true;
}

static void vlb_iova_free(struct vlb_iova_domain *d, unsigned long pfn,
			  unsigned long n)
{
	lockdep_assert_held(&d->lock);
	memset(&d->entries[pfn], 0, n * sizeof(d->entries[0]));
	bitmap_clear(d->bitmap, pfn, n);
}

/* Gives back the bounce pages of [pfn, pfn + n); the caller frees the IOVA. */
static void vlb_iova_unmap_locked(struct vlb_iova_domain *d, unsigned long pfn,
				  unsigned long n)
{
	unsigned long i;

	lockdep_assert_held(&d->lock);
	for (i = 0; i < n; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (e->flags & VLB_IOVA_ACTIVE)
			d->active--;
		if (!(e->flags & VLB_IOVA_BOUNCE))
			continue;
		if (e->flags & VLB_IOVA_EXTRA)
			__free_page(e->page);
		else
			d->bounce_free[d->bounce_nfree++] = e->page;
	}
}

/* Zaps every PTE of [pfn, pfn + n) in every process that mapped it. */
static void vlb_iova_zap(struct vlb_iova_domain *d, unsigned long pfn,
			 unsigned long n)
{
	lockdep_assert_held_write(&d->revoke_rwsem);
	unmap_mapping_range(d->inode->i_mapping, (loff_t)vlb_pfn_to_iova(pfn),
			    (loff_t)vlb_pfn_to_iova(n), 1);
}

static void vlb_copy_page_range(struct page *to, struct page *from,
				unsigned int start, unsigned int end)
{
	char *dst = kmap_local_page(to);
	char *src = kmap_local_page(from);

	memcpy(dst + start, src + start, end - start);
	kunmap_local(src);
	kunmap_local(dst);
}

/* Clears a DIRTY page before the device can see it; under @lock. */
static void vlb_iova_clean_locked(struct vlb_iova_entry *e)
{
	if (!(e->flags & VLB_IOVA_DIRTY))
		return;
	clear_highpage(e->page);
	e->flags &= ~VLB_IOVA_DIRTY;
}

/* ------------------------------------------------------------- DMA ops */

static struct vlb_iova_domain *vlb_dev_domain(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static dma_addr_t vlb_dma_map_page(struct device *dev, struct page *page,
				   unsigned long offset, size_t size,
				   enum dma_data_direction dir,
				   unsigned long attrs)
{
	struct vlb_iova_domain *d = vlb_dev_domain(dev);
	bool to_dev = dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL;
	u8 perm = dir == DMA_TO_DEVICE ? VLB_IOVA_READ :
					 VLB_IOVA_READ | VLB_IOVA_WRITE;
	bool bounce_all = size < d->bounce_threshold, dead;
	unsigned long npages, nbounce, pfn, i, flags;
	size_t last_end;

	if (!size || dir == DMA_NONE)
		return DMA_MAPPING_ERROR;
	page = nth_page(page, offset >> PAGE_SHIFT);
	offset &= ~PAGE_MASK;
	npages = DIV_ROUND_UP(offset + size, PAGE_SIZE);
	last_end = (offset + size) - (npages - 1) * PAGE_SIZE;

	/*
	 * Partial pages must be bounced; buffers below the threshold are,
	 * whole (never granted zero-copy: bounce-only devices rely on it).
	 */
	if (bounce_all)
		nbounce = npages;
	else
		nbounce = (offset != 0) + (last_end != PAGE_SIZE && (npages > 1 || !offset));

	spin_lock_irqsave(&d->lock, flags);
	dead = d->dead;
	if (dead) {
		/*
		 * Nothing is granted or copied for a dead device, but the
		 * mapping succeeds: the driver queues the request and the
		 * transport fails it with an error. A failed mapping would
		 * only make the driver retry forever.
		 */
		bounce_all = false;
		nbounce = 0;
	} else if (d->active) {
		/*
		 * Requests are at the device and will free grants and pool
		 * pages: a mapping beyond either limit waits for them (the
		 * driver retries).
		 */
		if (nbounce > d->bounce_nfree || d->granted + npages > d->max_granted)
			goto fail;
	}
	/*
	 * Otherwise nothing is at the device and waiting would free nothing:
	 * a request larger than the budget or the pool goes ahead over the
	 * budget, with bounce pages allocated beyond the pool if it must,
	 * rather than never.
	 */
	if (!vlb_iova_alloc(d, npages, &pfn))
		goto fail;
	for (i = 0; i < npages; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];
		unsigned int start = i == 0 ? offset : 0;
		unsigned int end = i == npages - 1 ? last_end : PAGE_SIZE;

		e->flags = perm;
		if (nbounce && (bounce_all || start != 0 || end != PAGE_SIZE)) {
			if (d->bounce_nfree) {
				e->page = d->bounce_free[--d->bounce_nfree];
			} else {
				e->page = alloc_page(GFP_ATOMIC | __GFP_ZERO);
				if (!e->page) {
					vlb_iova_unmap_locked(d, pfn, i);
					vlb_iova_free(d, pfn, npages);
					goto fail;
				}
				e->flags |= VLB_IOVA_EXTRA;
			}
			e->orig = nth_page(page, i);
			e->start = start;
			e->end = end;
			e->flags |= VLB_IOVA_BOUNCE;
		} else {
			e->page = nth_page(page, i);
			if (dir == DMA_FROM_DEVICE)
				e->flags |= VLB_IOVA_DIRTY;
		}
	}
	d->granted += npages;
	spin_unlock_irqrestore(&d->lock, flags);

	/*
	 * The entries are not ACTIVE yet, so the device cannot see the bounce
	 * pages while they are filled outside the lock. A pool page holds an
	 * earlier request's bytes: the device sees this request's and zeros.
	 */
	for (i = 0; nbounce && i < npages; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (!(e->flags & VLB_IOVA_BOUNCE))
			continue;
		if (!(e->flags & VLB_IOVA_EXTRA))
			clear_highpage(e->page);
		if (to_dev)
			vlb_copy_page_range(e->page, e->orig, e->start, e->end);
	}
	if (!dead) {
		atomic64_add(npages - nbounce, &d->stats->grants);
		atomic64_add(nbounce, &d->stats->bounces);
	}
	return vlb_pfn_to_iova(pfn) + offset;

fail:
	spin_unlock_irqrestore(&d->lock, flags);
	atomic64_inc(&d->stats->map_failures);
	return DMA_MAPPING_ERROR;
}

static void vlb_bounce_sync(struct vlb_iova_domain *d, unsigned long pfn,
			    unsigned long n, bool to_cpu)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (!(e->flags & VLB_IOVA_BOUNCE))
			continue;
		if (to_cpu)
			vlb_copy_page_range(e->orig, e->page, e->start, e->end);
		else
			vlb_copy_page_range(e->page, e->orig, e->start, e->end);
	}
}

static void vlb_dma_unmap_page(struct device *dev, dma_addr_t addr,
			       size_t size, enum dma_data_direction dir,
			       unsigned long attrs)
{
	struct vlb_iova_domain *d = vlb_dev_domain(dev);
	unsigned long pfn, n, i, flags;

	/* The driver's own mistakes, or ours: loud, so tests fail on them. */
	if (WARN_ONCE(!vlb_iova_range(d, addr, size, &pfn, &n),
		      "virtio_loopback: unmap of 0x%llx+%zu outside the domain\n",
		      (u64)addr, size))
		return;
	/*
	 * Revocation precedes completion, so the device lost access before
	 * the driver could unmap: the copy back reads settled data.
	 */
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		vlb_bounce_sync(d, pfn, n, true);

	spin_lock_irqsave(&d->lock, flags);
	for (i = 0; i < n; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (WARN_ONCE(!e->page || (e->flags & VLB_IOVA_RING),
			      "virtio_loopback: unmap of 0x%llx: not a mapped buffer\n",
			      (u64)addr)) {
			spin_unlock_irqrestore(&d->lock, flags);
			return;
		}
		/*
		 * Revocation precedes completion and every failure path, so
		 * this cannot happen; if it did, the device would keep PTEs
		 * to a page going back to its owner, and no zap is possible
		 * here (atomic context). Never silent.
		 */
		if (WARN_ONCE(e->flags & VLB_IOVA_ACTIVE,
			      "virtio_loopback: unmap of a grant still active at 0x%llx\n",
			      vlb_pfn_to_iova(pfn + i)))
			d->stale = true;
	}
	vlb_iova_unmap_locked(d, pfn, n);
	vlb_iova_free(d, pfn, n);
	d->granted -= n;
	spin_unlock_irqrestore(&d->lock, flags);
}

static int vlb_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			  int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = vlb_dma_map_page(dev, sg_page(sg), sg->offset,
						   sg->length, dir, attrs);
		if (sg->dma_address == DMA_MAPPING_ERROR)
			goto unwind;
		sg_dma_len(sg) = sg->length;
	}
	return nents;

unwind:
	nents = i;
	for_each_sg(sgl, sg, nents, i)
		vlb_dma_unmap_page(dev, sg->dma_address, sg_dma_len(sg), dir,
				   attrs);
	return -ENOMEM;
}

static void vlb_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			     int nents, enum dma_data_direction dir,
			     unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vlb_dma_unmap_page(dev, sg->dma_address, sg_dma_len(sg), dir,
				   attrs);
}

static void vlb_dma_sync(struct device *dev, dma_addr_t addr, size_t size,
			 bool to_cpu)
{
	struct vlb_iova_domain *d = vlb_dev_domain(dev);
	unsigned long pfn, n;

	if (vlb_iova_range(d, addr, size, &pfn, &n))
		vlb_bounce_sync(d, pfn, n, to_cpu);
}

static void vlb_dma_sync_for_cpu(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir)
{
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		vlb_dma_sync(dev, addr, size, true);
}

static void vlb_dma_sync_for_device(struct device *dev, dma_addr_t addr,
				    size_t size, enum dma_data_direction dir)
{
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		vlb_dma_sync(dev, addr, size, false);
}

/* Ring memory for vring_create_virtqueue(); never reachable until granted. */
static void *vlb_dma_alloc(struct device *dev, size_t size,
			   dma_addr_t *handle, gfp_t gfp, unsigned long attrs)
{
	struct vlb_iova_domain *d = vlb_dev_domain(dev);
	unsigned long n = PAGE_ALIGN(size) >> PAGE_SHIFT, pfn, i, flags;
	void *vaddr;

	vaddr = alloc_pages_exact(n << PAGE_SHIFT, gfp | __GFP_ZERO);
	if (!vaddr)
		return NULL;
	spin_lock_irqsave(&d->lock, flags);
	if (d->dead || !vlb_iova_alloc(d, n, &pfn)) {
		spin_unlock_irqrestore(&d->lock, flags);
		free_pages_exact(vaddr, n << PAGE_SHIFT);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		d->entries[pfn + i].page = virt_to_page(vaddr + (i << PAGE_SHIFT));
		d->entries[pfn + i].flags = VLB_IOVA_RING;
	}
	spin_unlock_irqrestore(&d->lock, flags);
	*handle = vlb_pfn_to_iova(pfn);
	return vaddr;
}

static void vlb_dma_free(struct device *dev, size_t size, void *vaddr,
			 dma_addr_t handle, unsigned long attrs)
{
	struct vlb_iova_domain *d = vlb_dev_domain(dev);
	unsigned long pfn, n, flags;

	/* The transport withdrew any grant on the ring before freeing it. */
	if (vlb_iova_range(d, handle, PAGE_ALIGN(size), &pfn, &n)) {
		spin_lock_irqsave(&d->lock, flags);
		vlb_iova_free(d, pfn, n);
		spin_unlock_irqrestore(&d->lock, flags);
	}
	free_pages_exact(vaddr, PAGE_ALIGN(size));
}

static size_t vlb_dma_max_mapping_size(struct device *dev)
{
	struct vlb_iova_domain *d = vlb_dev_domain(dev);

	/* A single mapping may use at most a quarter of the grant budget. */
	return max_t(size_t, PAGE_SIZE, (d->max_granted / 4) << PAGE_SHIFT);
}

static u64 vlb_dma_get_required_mask(struct device *dev)
{
	return DMA_BIT_MASK(64);
}

const struct dma_map_ops vlb_dma_ops = {
	.alloc			= vlb_dma_alloc,
	.free			= vlb_dma_free,
	.map_page		= vlb_dma_map_page,
	.unmap_page		= vlb_dma_unmap_page,
	.map_sg			= vlb_dma_map_sg,
	.unmap_sg		= vlb_dma_unmap_sg,
	.sync_single_for_cpu	= vlb_dma_sync_for_cpu,
	.sync_single_for_device	= vlb_dma_sync_for_device,
	.max_mapping_size	= vlb_dma_max_mapping_size,
	.get_required_mask	= vlb_dma_get_required_mask,
};

void vlb_iova_attach_dma_dev(struct vlb_iova_domain *d, struct device *dev)
{
	dev_set_drvdata(dev, d);
	dev->dma_mask = &dev->coherent_dma_mask;
	dev->coherent_dma_mask = DMA_BIT_MASK(64);
	set_dma_ops(dev, &vlb_dma_ops);
}

/* ------------------------------------------- copies for the device */

/*
 * Takes (@hold) or drops a copy's hold on every page of @segs (checked).
 * Segments may overlap, so one call can hold a page many times; a hold
 * that would overflow the page's count undoes this call's holds and
 * fails, rather than wrap under a running copy.
 */
static bool vlb_iova_hold_locked(struct vlb_iova_domain *d,
				 const struct vlb_iova_seg *segs, u32 nr_segs,
				 bool hold)
{
	unsigned long pfn, n, i;
	u32 s;

	lockdep_assert_held(&d->lock);
	for (s = 0; s < nr_segs; s++) {
		if (!vlb_iova_range(d, segs[s].iova, segs[s].len, &pfn, &n))
			continue;
		for (i = 0; i < n; i++) {
			struct vlb_iova_entry *e = &d->entries[pfn + i];

			if (!hold) {
				e->copying--;
				continue;
			}
			if (e->copying == U16_MAX) {
				/* Undo this call: pages before i, segments before s. */
				while (i--)
					d->entries[pfn + i].copying--;
				vlb_iova_hold_locked(d, segs, s, false);
				return false;
			}
			e->copying++;
		}
		if (hold)
			d->copying += n;
		else
			d->copying -= n;
	}
	return true;
}

int vlb_iova_copy_get(struct vlb_iova_domain *d,
		      const struct vlb_iova_seg *segs, u32 nr_segs, bool write,
		      struct bio_vec *bv)
{
	unsigned long pfn, n, i, flags;
	unsigned int nbv = 0;
	u32 s;

	spin_lock_irqsave(&d->lock, flags);
	for (s = 0; s < nr_segs; s++) {
		unsigned int off = offset_in_page(segs[s].iova);
		u64 left = segs[s].len;

		if (!vlb_iova_range(d, segs[s].iova, segs[s].len, &pfn, &n))
			goto refused;
		for (i = 0; i < n; i++) {
			struct vlb_iova_entry *e = &d->entries[pfn + i];
			unsigned int chunk = min_t(u64, PAGE_SIZE - off, left);

			/* The rights the device's mapping would have; no rings. */
			if (d->dead || !e->page || (e->flags & VLB_IOVA_RING) ||
			    !(e->flags & VLB_IOVA_ACTIVE) ||
			    !(e->flags & (VLB_IOVA_READ | VLB_IOVA_WRITE)) ||
			    (write && !(e->flags & VLB_IOVA_WRITE)))
				goto refused;
			/* A copy to a file reads the page, as the device would. */
			if (!write)
				vlb_iova_clean_locked(e);
			bvec_set_page(&bv[nbv++], e->page, chunk, off);
			left -= chunk;
			off = 0;
		}
	}
	if (!vlb_iova_hold_locked(d, segs, nr_segs, true))
		goto refused;
	spin_unlock_irqrestore(&d->lock, flags);
	return nbv;

refused:
	if (d->stats)
		atomic64_inc(&d->stats->faults_refused);
	spin_unlock_irqrestore(&d->lock, flags);
	return -EFAULT;
}

/* Drops DIRTY from the pages @segs cover whole; under @lock. */
static void vlb_iova_filled_locked(struct vlb_iova_domain *d,
				   const struct vlb_iova_seg *segs, u32 nr_segs)
{
	unsigned long pfn, n, i;
	u32 s;

	for (s = 0; s < nr_segs; s++) {
		u64 start = segs[s].iova, end = start + segs[s].len;

		if (!vlb_iova_range(d, start, segs[s].len, &pfn, &n))
			continue;
		for (i = 0; i < n; i++) {
			u64 page = vlb_pfn_to_iova(pfn + i);

			if (page >= start && page + PAGE_SIZE <= end)
				d->entries[pfn + i].flags &= ~VLB_IOVA_DIRTY;
		}
	}
}

void vlb_iova_copy_put(struct vlb_iova_domain *d,
		       const struct vlb_iova_seg *segs, u32 nr_segs,
		       ssize_t copied, bool filled)
{
	unsigned long flags;

	spin_lock_irqsave(&d->lock, flags);
	vlb_iova_hold_locked(d, segs, nr_segs, false);
	if (filled)
		vlb_iova_filled_locked(d, segs, nr_segs);
	if (copied >= 0 && d->stats) {
		atomic64_inc(&d->stats->copies);
		atomic64_add(copied, &d->stats->copied_bytes);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	/* A revocation waiting for these pages; none in the common case. */
	if (wq_has_sleeper(&d->copy_wq))
		wake_up_all(&d->copy_wq);
}

/*
 * True if no copy holds a page of [first, last]; a revocation's runs are a
 * batch of requests long at most, scanned with the lock held.
 */
static bool vlb_iova_copies_done(struct vlb_iova_domain *d,
				 unsigned long first, unsigned long last)
{
	unsigned long p, flags;
	bool done = true;

	spin_lock_irqsave(&d->lock, flags);
	for (p = first; d->copying && p <= last; p++) {
		if (d->entries[p].copying) {
			done = false;
			break;
		}
	}
	spin_unlock_irqrestore(&d->lock, flags);
	return done;
}

static bool vlb_iova_no_copies(struct vlb_iova_domain *d)
{
	unsigned long flags, n;

	spin_lock_irqsave(&d->lock, flags);
	n = d->copying;
	spin_unlock_irqrestore(&d->lock, flags);
	return !n;
}

/*
 * After ACTIVE was cleared on [first, last]: waits for the copies that
 * took those pages before. Bounded by the copies' file I/O.
 */
static void vlb_iova_wait_copies(struct vlb_iova_domain *d,
				 unsigned long first, unsigned long last)
{
	might_sleep();
	wait_event(d->copy_wq, vlb_iova_copies_done(d, first, last));
}

/* The same once ACTIVE was cleared everywhere (or the domain is dead). */
static void vlb_iova_wait_all_copies(struct vlb_iova_domain *d)
{
	might_sleep();
	wait_event(d->copy_wq, vlb_iova_no_copies(d));
}

/* ------------------------------------------------- grants for the ring */

int vlb_iova_activate(struct vlb_iova_domain *d, u64 iova, u64 len)
{
	unsigned long pfn, n, i, flags;

	if (!vlb_iova_range(d, iova, len, &pfn, &n))
		return -EFAULT;
	spin_lock_irqsave(&d->lock, flags);
	for (i = 0; i < n; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (!e->page || (e->flags & VLB_IOVA_RING)) {
			spin_unlock_irqrestore(&d->lock, flags);
			return -EFAULT;
		}
	}
	for (i = 0; i < n; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (!(e->flags & VLB_IOVA_ACTIVE))
			d->active++;
		e->flags |= VLB_IOVA_ACTIVE;
	}
	spin_unlock_irqrestore(&d->lock, flags);
	return 0;
}

void vlb_revoke_batch_flush(struct vlb_iova_domain *d, struct vlb_revoke_batch *b)
{
	unsigned long i, p, pages = 0, flags;

	might_sleep();
	if (!b->n)
		return;
	down_write(&d->revoke_rwsem);
	spin_lock_irqsave(&d->lock, flags);
	for (i = 0; i < b->n; i++) {
		for (p = b->r[i].first; p <= b->r[i].last; p++) {
			struct vlb_iova_entry *e = &d->entries[p];

			if ((e->flags & VLB_IOVA_ACTIVE) && !(e->flags & VLB_IOVA_RING)) {
				e->flags &= ~VLB_IOVA_ACTIVE;
				d->active--;
				/* Never written: the driver gets zeros back, not stale data. */
				vlb_iova_clean_locked(e);
			}
		}
		pages += b->r[i].last - b->r[i].first + 1;
	}
	spin_unlock_irqrestore(&d->lock, flags);
	for (i = 0; i < b->n; i++)
		vlb_iova_zap(d, b->r[i].first, b->r[i].last - b->r[i].first + 1);
	up_write(&d->revoke_rwsem);
	for (i = 0; i < b->n; i++)
		vlb_iova_wait_copies(d, b->r[i].first, b->r[i].last);
	atomic64_add(pages, &d->stats->revocations);
	b->n = 0;
}

void vlb_revoke_batch_add(struct vlb_iova_domain *d, struct vlb_revoke_batch *b,
			  u64 iova, u64 len)
{
	unsigned long first, n, last;

	if (!vlb_iova_range(d, iova, len, &first, &n))
		return;
	last = first + n - 1;
	/* Next-fit allocation makes consecutive mappings adjacent. */
	if (b->n && first <= b->r[b->n - 1].last + 1 &&
	    last + 1 >= b->r[b->n - 1].first) {
		b->r[b->n - 1].first = min(b->r[b->n - 1].first, first);
		b->r[b->n - 1].last = max(b->r[b->n - 1].last, last);
		return;
	}
	if (b->n == VLB_REVOKE_BATCH)
		vlb_revoke_batch_flush(d, b);
	b->r[b->n].first = first;
	b->r[b->n].last = last;
	b->n++;
}

/* Entries scanned per hold of @lock: bounds the time interrupts are off. */
#define VLB_REVOKE_SCAN_CHUNK	4096

void vlb_iova_revoke_all(struct vlb_iova_domain *d)
{
	unsigned long i = 0, end, n = 0, flags;
	bool any;

	might_sleep();
	down_write(&d->revoke_rwsem);
	/*
	 * Callers keep new activations out (the queues are not ready, or
	 * notifies were quiesced after the device broke), so @active only
	 * falls meanwhile: the scan ends at the last active entry, and a
	 * domain with none active (a broken device signalled again) costs
	 * nothing here.
	 */
	spin_lock_irqsave(&d->lock, flags);
	any = d->active || d->stale;
	d->stale = false;
	while (d->active && i < d->npages) {
		end = min(i + VLB_REVOKE_SCAN_CHUNK, d->npages);
		for (; i < end; i++) {
			struct vlb_iova_entry *e = &d->entries[i];

			if ((e->flags & VLB_IOVA_ACTIVE) && !(e->flags & VLB_IOVA_RING)) {
				e->flags &= ~VLB_IOVA_ACTIVE;
				d->active--;
				vlb_iova_clean_locked(e);
				n++;
			}
		}
		spin_unlock_irqrestore(&d->lock, flags);
		cond_resched();
		spin_lock_irqsave(&d->lock, flags);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	if (any)
		vlb_iova_zap(d, 0, d->npages);
	up_write(&d->revoke_rwsem);
	vlb_iova_wait_all_copies(d);
	atomic64_add(n, &d->stats->revocations);
}

int vlb_iova_set_ring_perm(struct vlb_iova_domain *d, u64 iova, u64 len,
			   u8 perm)
{
	unsigned long pfn, n, i, flags;

	might_sleep();
	if (!vlb_iova_range(d, iova, len, &pfn, &n))
		return -EFAULT;
	down_write(&d->revoke_rwsem);
	spin_lock_irqsave(&d->lock, flags);
	for (i = 0; i < n; i++) {
		struct vlb_iova_entry *e = &d->entries[pfn + i];

		if (!(e->flags & VLB_IOVA_RING))
			continue;
		e->flags = VLB_IOVA_RING | perm | (perm ? VLB_IOVA_ACTIVE : 0);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	/* Narrowing takes effect only once old PTEs are gone. */
	vlb_iova_zap(d, pfn, n);
	up_write(&d->revoke_rwsem);
	return 0;
}

int vlb_iova_map_ring(struct vlb_iova_domain *d, struct page *pages,
		      unsigned int npages, u8 perm, u64 *iova)
{
	unsigned long pfn, i, flags;

	spin_lock_irqsave(&d->lock, flags);
	if (d->dead || !vlb_iova_alloc(d, npages, &pfn)) {
		spin_unlock_irqrestore(&d->lock, flags);
		return -ENOSPC;
	}
	for (i = 0; i < npages; i++) {
		d->entries[pfn + i].page = nth_page(pages, i);
		d->entries[pfn + i].flags = VLB_IOVA_RING | VLB_IOVA_ACTIVE | perm;
	}
	spin_unlock_irqrestore(&d->lock, flags);
	*iova = vlb_pfn_to_iova(pfn);
	return 0;
}

void vlb_iova_unmap_ring(struct vlb_iova_domain *d, u64 iova,
			 unsigned int npages)
{
	unsigned long pfn = iova >> PAGE_SHIFT, flags;

	might_sleep();
	if (pfn >= d->npages || npages > d->npages - pfn)
		return;
	down_write(&d->revoke_rwsem);
	spin_lock_irqsave(&d->lock, flags);
	vlb_iova_free(d, pfn, npages);
	spin_unlock_irqrestore(&d->lock, flags);
	vlb_iova_zap(d, pfn, npages);
	up_write(&d->revoke_rwsem);
}

int vlb_iova_poke(struct vlb_iova_domain *d, u64 iova, u8 byte)
{
	unsigned long pfn = iova >> PAGE_SHIFT, flags;
	struct vlb_iova_entry *e;
	int ret = -EFAULT;
	char *va;

	spin_lock_irqsave(&d->lock, flags);
	if (pfn < d->npages) {
		e = &d->entries[pfn];
		if (e->page && !(e->flags & VLB_IOVA_RING) &&
		    (e->flags & VLB_IOVA_WRITE)) {
			va = kmap_local_page(e->page);
			va[offset_in_page(iova)] = byte;
			kunmap_local(va);
			ret = 0;
		}
	}
	spin_unlock_irqrestore(&d->lock, flags);
	return ret;
}

int vlb_iova_peek(struct vlb_iova_domain *d, u64 iova, void *buf, size_t len)
{
	unsigned long flags;
	u8 *out = buf;
	int ret = 0;

	spin_lock_irqsave(&d->lock, flags);
	while (len && !ret) {
		unsigned long pfn = iova >> PAGE_SHIFT;
		size_t off = offset_in_page(iova);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		struct vlb_iova_entry *e;
		char *va;

		ret = -EFAULT;
		if (pfn >= d->npages)
			break;
		e = &d->entries[pfn];
		if (!e->page || (e->flags & VLB_IOVA_RING))
			break;
		va = kmap_local_page(e->page);
		memcpy(out, va + off, n);
		kunmap_local(va);
		out += n;
		iova += n;
		len -= n;
		ret = 0;
	}
	spin_unlock_irqrestore(&d->lock, flags);
	return ret;
}

/* ------------------------------------------------ the device's mapping */

/* The entry at @pgoff if the device may reach it now, with @write. */
static struct page *__vlb_iova_lookup(struct vlb_iova_domain *d,
				      pgoff_t pgoff, bool write, bool *writable)
{
	struct vlb_iova_entry *e;
	struct page *page = NULL;

	lockdep_assert_held(&d->revoke_rwsem);
	spin_lock_irq(&d->lock);
	if (!d->dead && pgoff < d->npages) {
		e = &d->entries[pgoff];
		if (e->page && (e->flags & VLB_IOVA_ACTIVE) &&
		    (e->flags & (VLB_IOVA_READ | VLB_IOVA_WRITE)) &&
		    (!write || (e->flags & VLB_IOVA_WRITE))) {
			page = e->page;
			*writable = e->flags & VLB_IOVA_WRITE;
			vlb_iova_clean_locked(e);
		}
	}
	spin_unlock_irq(&d->lock);
	return page;
}

static struct page *vlb_iova_lookup(struct vlb_iova_domain *d,
				    pgoff_t pgoff, bool write, bool *writable)
{
	struct page *page = __vlb_iova_lookup(d, pgoff, write, writable);

	lockdep_assert_held(&d->revoke_rwsem);
	if (!page && d->stats)
		atomic64_inc(&d->stats->faults_refused);
	return page;
}

static vm_fault_t vlb_iova_insert(struct vm_area_struct *vma,
				  unsigned long addr, struct page *page,
				  bool writable)
{
	vm_flags_t f = writable ? vma->vm_flags : vma->vm_flags & ~VM_WRITE;

	return vmf_insert_pfn_prot(vma, addr, page_to_pfn(page),
				   vm_get_page_prot(f));
}

/*
 * Pages mapped after the faulting one while they are reachable: a
 * request's buffer is a run of entries, and one fault for the run costs
 * far less than one per page (more so under emulation). Revocation zaps
 * them all the same; revoke_rwsem, held for read, keeps the run stable.
 */
#define VLB_IOVA_FAULT_AROUND	255

static void vlb_iova_fault_around(struct vlb_iova_domain *d,
				  struct vm_area_struct *vma,
				  unsigned long addr, pgoff_t pgoff)
{
	bool writable = false;
	struct page *page;
	unsigned int n;

	for (n = 0; n < VLB_IOVA_FAULT_AROUND; n++) {
		addr += PAGE_SIZE;
		pgoff++;
		if (addr >= vma->vm_end)
			break;
		page = __vlb_iova_lookup(d, pgoff, false, &writable);
		if (!page || (vlb_iova_insert(vma, addr, page, writable) &
			      VM_FAULT_ERROR))
			break;
	}
}

static vm_fault_t vlb_iova_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vlb_iova_domain *d = vma->vm_file->private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE, writable = false;
	struct page *page;
	vm_fault_t ret;

	down_read(&d->revoke_rwsem);
	page = vlb_iova_lookup(d, vmf->pgoff, write, &writable);
	if (!page) {
		ret = VM_FAULT_SIGBUS;
	} else {
		ret = vlb_iova_insert(vma, vmf->address, page, writable);
		if (!(ret & VM_FAULT_ERROR))
			vlb_iova_fault_around(d, vma, vmf->address, vmf->pgoff);
	}
	up_read(&d->revoke_rwsem);
	return ret;
}

/*
 * A write to a read-only PTE of a shared PFN mapping would otherwise be
 * made writable by the core (wp_pfn_shared); allow it only for writable
 * grants.
 */
static vm_fault_t vlb_iova_pfn_mkwrite(struct vm_fault *vmf)
{
	struct vlb_iova_domain *d = vmf->vma->vm_file->private_data;
	bool writable = false;
	struct page *page;

	down_read(&d->revoke_rwsem);
	page = vlb_iova_lookup(d, vmf->pgoff, true, &writable);
	up_read(&d->revoke_rwsem);
	return page ? 0 : VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct vlb_iova_vm_ops = {
	.fault		= vlb_iova_fault,
	.pfn_mkwrite	= vlb_iova_pfn_mkwrite,
};

static int vlb_iova_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vlb_iova_domain *d = file->private_data;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff >= d->npages || vma_pages(vma) > d->npages - vma->vm_pgoff)
		return -EINVAL;
	/*
	 * PFNMAP: no struct page refcounts and no get_user_pages(), so no
	 * pin (O_DIRECT, io_uring fixed buffers) can outlive a revocation.
	 */
	vlb_vma_flags_update(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND |
			     VM_DONTDUMP | VM_DONTCOPY, VM_MAYEXEC);
	vma->vm_ops = &vlb_iova_vm_ops;
	return 0;
}

static int vlb_iova_file_release(struct inode *inode, struct file *file)
{
	vlb_iova_put(file->private_data);
	return 0;
}

/* VLB_IOVA_CALL: the device's write to a call eventfd, processed here. */
static long vlb_iova_call(struct vlb_iova_domain *d, void __user *argp)
{
	struct eventfd_ctx *call;
	struct vlb_iova_call c;
	const char *why;
	long ret;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	ret = vlb_check_iova_call(&c, &why);
	if (ret) {
		pr_debug("VLB_IOVA_CALL refused: %s\n", why);
		return ret;
	}
	call = eventfd_ctx_fdget(c.fd);
	if (IS_ERR(call))
		return PTR_ERR(call);
	down_read(&d->owner_rwsem);
	ret = d->owner ? d->owner_call(d->owner, call) : -ENODEV;
	up_read(&d->owner_rwsem);
	eventfd_ctx_put(call);
	return ret;
}

static long vlb_iova_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case VLB_IOVA_COPY:
		return vlb_iova_copy(file->private_data, (void __user *)arg);
	case VLB_IOVA_CALL:
		return vlb_iova_call(file->private_data, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vlb_iova_fops = {
	.owner		= THIS_MODULE,
	.mmap		= vlb_iova_mmap,
	.unlocked_ioctl	= vlb_iova_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= vlb_iova_file_release,
	.llseek		= noop_llseek,
};

/* ------------------------------------------------------------ lifetime */

struct vlb_iova_domain *vlb_iova_create(u64 size, u32 max_granted,
					u32 bounce_threshold, u32 pool_pages,
					struct vlb_stats_counters *stats)
{
	struct vlb_iova_domain *d;
	unsigned int i;
	int ret = -ENOMEM;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return ERR_PTR(-ENOMEM);
	kref_init(&d->ref);
	spin_lock_init(&d->lock);
	init_rwsem(&d->revoke_rwsem);
	init_rwsem(&d->owner_rwsem);
	init_waitqueue_head(&d->copy_wq);
	d->npages = size >> PAGE_SHIFT;
	d->next_hint = 1;
	d->max_granted = max_granted;
	d->bounce_threshold = bounce_threshold;
	d->stats = stats;

	d->entries = kvcalloc(d->npages, sizeof(*d->entries), GFP_KERNEL);
	d->bitmap = bitmap_zalloc(d->npages, GFP_KERNEL);
	d->bounce_pages = kvcalloc(pool_pages, sizeof(struct page *), GFP_KERNEL);
	d->bounce_free = kvcalloc(pool_pages, sizeof(struct page *), GFP_KERNEL);
	if (!d->entries || !d->bitmap || !d->bounce_pages || !d->bounce_free)
		goto err;
	for (i = 0; i < pool_pages; i++) {
		d->bounce_pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!d->bounce_pages[i])
			goto err;
		d->bounce_free[i] = d->bounce_pages[i];
		d->bounce_total = i + 1;
	}
	d->bounce_nfree = d->bounce_total;
	/* IOVA page 0 is never handed out: address 0 stays invalid. */
	bitmap_set(d->bitmap, 0, 1);

	d->inode = alloc_anon_inode(vlb_iova_mnt->mnt_sb);
	if (IS_ERR(d->inode)) {
		ret = PTR_ERR(d->inode);
		d->inode = NULL;
		goto err;
	}
	return d;

err:
	vlb_iova_put(d);
	return ERR_PTR(ret);
}

void vlb_iova_set_owner(struct vlb_iova_domain *d, void *owner,
			vlb_iova_call_fn call)
{
	down_write(&d->owner_rwsem);
	d->owner = owner;
	d->owner_call = call;
	up_write(&d->owner_rwsem);
}

void vlb_iova_destroy(struct vlb_iova_domain *d)
{
	unsigned long flags;

	/* Waits for the calls into the device; later ones get ENODEV. */
	vlb_iova_set_owner(d, NULL, NULL);
	spin_lock_irqsave(&d->lock, flags);
	d->dead = true;
	spin_unlock_irqrestore(&d->lock, flags);
	/* No copy can start now; those under way still count. */
	vlb_iova_wait_all_copies(d);
	down_write(&d->revoke_rwsem);
	spin_lock_irqsave(&d->lock, flags);
	/* The device's counters go with the device; see @stats. */
	d->stats = NULL;
	spin_unlock_irqrestore(&d->lock, flags);
	vlb_iova_zap(d, 0, d->npages);
	up_write(&d->revoke_rwsem);
	vlb_iova_put(d);
}

int vlb_iova_get_fd(struct vlb_iova_domain *d)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	ihold(d->inode);
	/* alloc_file_pseudo() does not take the module ref fput() drops. */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(d->inode, vlb_iova_mnt, "[vlb-iova]", O_RDWR,
				 &vlb_iova_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(d->inode);
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	kref_get(&d->ref);
	file->private_data = d;
	fd_install(fd, file);
	return fd;
}
