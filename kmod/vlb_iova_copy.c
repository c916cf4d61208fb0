// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-loopback copies on the device's behalf (VLB_IOVA_COPY).
 *
 * The device's mapping of its IOVA space costs page-table work for every
 * request: a PFN inserted per page at the first touch, zapped and flushed
 * from the TLB at revocation. For a request that only moves data between
 * its buffers and a file, the device can instead ask the kernel to do the
 * transfer: the buffers' pages are looked up with the rights the mapping
 * would give (vlb_iova_seg_bvecs) and handed to the file's read_iter or
 * write_iter as a bio_vec iterator, as the loop driver does. Nothing is
 * mapped, so nothing is revoked, and an O_DIRECT file transfers straight
 * from the driver's pages.
 *
 * revoke_rwsem is held for read across the transfer, so revocation (and
 * with it the driver's completion) waits for a copy into the request's
 * buffers to end. That wait is bounded by the file's I/O, which must not
 * depend on this transport: files on a virtio-loopback device are refused
 * (as loop refuses to recurse), and allocations in the transfer do no I/O.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "vlb_abi_check.h"
#include "vlb_iova.h"
#include "vlb_stats.h"

/* True if @bdev is a disk of a virtio-loopback device, or a part of one. */
static bool vlb_bdev_on_loopback(struct block_device *bdev)
{
	struct device *dev;

	if (!bdev || !bdev->bd_disk)
		return false;
	for (dev = disk_to_dev(bdev->bd_disk); dev; dev = dev->parent)
		if (get_dma_ops(dev) == &vlb_dma_ops)
			return true;
	return false;
}

/*
 * A regular file or a block device, and not one whose I/O could come back
 * to this transport. Only the file's own filesystem or block device is
 * seen, not what it is stacked on (device mapper, loop, overlayfs).
 */
static int vlb_copy_file_ok(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode))
		return vlb_bdev_on_loopback(I_BDEV(file->f_mapping->host)) ?
		       -ELOOP : 0;
	if (S_ISREG(inode->i_mode))
		return vlb_bdev_on_loopback(inode->i_sb->s_bdev) ? -ELOOP : 0;
	return -EINVAL;
}

/* The transfer itself, revoke_rwsem held for read. */
static ssize_t vlb_copy_locked(struct vlb_iova_domain *d, struct file *file,
			       const struct vlb_iova_copy *c,
			       const struct vlb_iova_seg *segs,
			       struct bio_vec *bv, u64 bytes)
{
	bool to_file = c->flags == VLB_IOVA_COPY_TO_FILE;
	struct iov_iter iter;
	unsigned int nbv = 0, noio, i;
	loff_t pos = c->offset;
	ssize_t ret;

	for (i = 0; i < c->nr_segs; i++) {
		int n = vlb_iova_seg_bvecs(d, segs[i].iova, segs[i].len,
					   !to_file, bv + nbv);

		if (n < 0)
			return n;
		nbv += n;
	}
	iov_iter_bvec(&iter, to_file ? ITER_SOURCE : ITER_DEST, bv, nbv, bytes);
	/* Reclaim must not wait for I/O that may need this device. */
	noio = memalloc_noio_save();
	if (to_file)
		ret = vfs_iter_write(file, &iter, &pos, 0);
	else
		ret = vfs_iter_read(file, &iter, &pos, 0);
	memalloc_noio_restore(noio);
	if (ret >= 0 && d->stats) {
		atomic64_inc(&d->stats->copies);
		atomic64_add(ret, &d->stats->copied_bytes);
	}
	return ret;
}

long vlb_iova_copy(struct vlb_iova_domain *d, void __user *argp)
{
	struct vlb_iova_seg *segs;
	struct vlb_iova_copy c;
	struct bio_vec *bv;
	const char *why;
	struct fd f;
	u32 pages;
	u64 bytes;
	long ret;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	ret = vlb_check_iova_copy(&c, &why);
	if (ret) {
		pr_debug("VLB_IOVA_COPY refused: %s\n", why);
		return ret;
	}
	segs = memdup_user(u64_to_user_ptr(c.segs),
			   array_size(c.nr_segs, sizeof(*segs)));
	if (IS_ERR(segs))
		return PTR_ERR(segs);
	ret = vlb_check_iova_segs(segs, c.nr_segs, (u64)d->npages << PAGE_SHIFT,
				  c.offset, &bytes, &pages, &why);
	if (ret) {
		pr_debug("VLB_IOVA_COPY refused: %s\n", why);
		goto out_segs;
	}
	bv = kvmalloc_array(pages, sizeof(*bv), GFP_KERNEL);
	if (!bv) {
		ret = -ENOMEM;
		goto out_segs;
	}
	f = fdget(c.fd);
	if (!f.file) {
		ret = -EBADF;
		goto out_bv;
	}
	ret = vlb_copy_file_ok(f.file);
	if (ret)
		goto out_fd;
	/*
	 * Freeze protection first: a frozen filesystem must make the caller
	 * wait without holding up revocation.
	 */
	if (c.flags == VLB_IOVA_COPY_TO_FILE)
		file_start_write(f.file);
	down_read(&d->revoke_rwsem);
	ret = vlb_copy_locked(d, f.file, &c, segs, bv, bytes);
	up_read(&d->revoke_rwsem);
	if (c.flags == VLB_IOVA_COPY_TO_FILE)
		file_end_write(f.file);
out_fd:
	fdput(f);
out_bv:
	kvfree(bv);
out_segs:
	kfree(segs);
	return ret;
}
