// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-loopback copies on the device's behalf (VLB_IOVA_COPY).
 *
 * The device's mapping of its IOVA space costs page-table work for every
 * request: a PFN inserted per page at the first touch, zapped and flushed
 * from the TLB at revocation. For a request that only moves data between
 * its buffers and a file, the device can instead ask the kernel to do the
 * transfer: the buffers' pages are looked up with the rights the mapping
 * would give (vlb_iova_copy_get) and handed to the file's read_iter or
 * write_iter as a bio_vec iterator, as the loop driver does. Nothing is
 * mapped, so nothing is revoked, and an O_DIRECT file transfers straight
 * from the driver's pages.
 *
 * The pages are held for the transfer (vlb_iova_copy_get), so revocation
 * of a request (and with it the driver's completion) waits for a copy
 * into its buffers to end; copies of other requests are not waited for.
 * That wait, and the one of a reset or a removal for every copy, is
 * bounded by the file's I/O, which must depend on no process: files on a
 * virtio-loopback device are refused (ELOOP, as loop refuses to recurse),
 * and so are files whose I/O a process serves or can hold up (EOPNOTSUPP:
 * FUSE, NFS and every file system without a local block device, nbd and
 * loop devices); allocations in the transfer do no I/O.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/magic.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/major.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "vlb_abi_check.h"
#include "vlb_device.h"
#include "vlb_iova.h"
#include "vlb_stats.h"

/*
 * True if @bdev is a disk of a virtio-loopback device, or a part of one.
 * The registry answers, not the disk's parents: a disk removed while open
 * keeps a pointer to a parent that may already be freed.
 */
static bool vlb_bdev_on_loopback(struct block_device *bdev)
{
	return bdev && bdev->bd_disk &&
	       vlb_is_child_of_a_device(disk_to_dev(bdev->bd_disk));
}

/*
 * A block device whose requests a process may serve or hold up: nbd's
 * server, or whatever backs a loop device (a FUSE file, say). The disk's
 * major, not the device's: partitions may have the extended major.
 */
static bool vlb_bdev_served_by_a_process(struct block_device *bdev)
{
	int major = bdev->bd_disk ? bdev->bd_disk->major : MAJOR(bdev->bd_dev);

	return major == NBD_MAJOR || major == LOOP_MAJOR;
}

static int vlb_copy_bdev_ok(struct block_device *bdev)
{
	if (vlb_bdev_on_loopback(bdev))
		return -ELOOP;
	return vlb_bdev_served_by_a_process(bdev) ? -EOPNOTSUPP : 0;
}

/*
 * A regular file or a block device, and not one whose I/O could come back
 * to this transport or wait on a process: a regular file on tmpfs (memfd)
 * or on a file system with a local block device, FUSE's fuseblk excepted.
 * Only the file's own file system or block device is seen, not what it is
 * stacked on (device mapper, md, overlayfs): SECURITY.md, known limits.
 */
static int vlb_copy_file_ok(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct super_block *sb = inode->i_sb;

	if (S_ISBLK(inode->i_mode))
		return vlb_copy_bdev_ok(I_BDEV(file->f_mapping->host));
	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	if (shmem_file(file))
		return 0;
	if (!sb->s_bdev || sb->s_magic == FUSE_SUPER_MAGIC)
		return -EOPNOTSUPP;
	return vlb_copy_bdev_ok(sb->s_bdev);
}

/* The transfer itself, its pages held. */
static ssize_t vlb_copy_held(struct file *file, const struct vlb_iova_copy *c,
			     struct bio_vec *bv, unsigned int nbv, u64 bytes)
{
	bool to_file = c->flags == VLB_IOVA_COPY_TO_FILE;
	struct iov_iter iter;
	loff_t pos = c->offset;
	unsigned int noio;
	ssize_t ret;

	iov_iter_bvec(&iter, to_file ? ITER_SOURCE : ITER_DEST, bv, nbv, bytes);
	/* Reclaim must not wait for I/O that may need this device. */
	noio = memalloc_noio_save();
	if (to_file) {
		file_start_write(file);
		ret = vfs_iter_write(file, &iter, &pos, 0);
		file_end_write(file);
	} else {
		ret = vfs_iter_read(file, &iter, &pos, 0);
	}
	memalloc_noio_restore(noio);
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
	ret = vlb_iova_copy_get(d, segs, c.nr_segs,
				c.flags == VLB_IOVA_COPY_FROM_FILE, bv);
	if (ret < 0)
		goto out_fd;
	ret = vlb_copy_held(f.file, &c, bv, ret, bytes);
	vlb_iova_copy_put(d, segs, c.nr_segs, ret,
			  c.flags == VLB_IOVA_COPY_FROM_FILE && ret == bytes);
out_fd:
	fdput(f);
out_bv:
	kvfree(bv);
out_segs:
	kfree(segs);
	return ret;
}
