// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * The device types the module serves; see vlb_types.h. Keep this file
 * free of kernel-only calls: user space builds it too.
 *
 * A type is listed only once a stock driver and the suite prove it
 * (tests/vm): blk, console, rng and input today.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/stddef.h>
#else
#include <errno.h>
#include <stddef.h>
#endif

#include "vlb_console_gate.h"
#include "vlb_types.h"

#define VLB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* virtio device ids, include/uapi/linux/virtio_ids.h */
#define VLB_ID_BLOCK	2
#define VLB_ID_CONSOLE	3
#define VLB_ID_RNG	4
#define VLB_ID_INPUT	18

static int vlb_type_fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

/* Little-endian fields of the config space; 0 where they are not there. */
static __u32 vlb_cfg32(const __u8 *config, __u32 size, __u32 off)
{
	if (off > size || size - off < 4)
		return 0;
	return (__u32)config[off] | (__u32)config[off + 1] << 8 |
	       (__u32)config[off + 2] << 16 | (__u32)config[off + 3] << 24;
}

static __u16 vlb_cfg16(const __u8 *config, __u32 size, __u32 off)
{
	if (off > size || size - off < 2)
		return 0;
	return (__u16)(config[off] | config[off + 1] << 8);
}

static __u8 vlb_cfg8(const __u8 *config, __u32 size, __u32 off)
{
	return off < size ? config[off] : 0;
}

static __u64 vlb_cfg64(const __u8 *config, __u32 size, __u32 off)
{
	return (__u64)vlb_cfg32(config, size, off) |
	       (__u64)vlb_cfg32(config, size, off + 4) << 32;
}

static bool vlb_is_pow2(__u64 v)
{
	return v && !(v & (v - 1));
}

/* ------------------------------------------------------------- blk */

/* No BIT_ULL(): user space has no linux/bits.h. */
#define VLB_BLK_F(bit)		(1ULL << (bit))
#define VLB_BLK_F_SIZE_MAX	VLB_BLK_F(1)
#define VLB_BLK_F_SEG_MAX	VLB_BLK_F(2)
#define VLB_BLK_F_BLK_SIZE	VLB_BLK_F(6)
#define VLB_BLK_F_TOPOLOGY	VLB_BLK_F(10)
#define VLB_BLK_F_CONFIG_WCE	VLB_BLK_F(11)
#define VLB_BLK_F_MQ		VLB_BLK_F(12)
#define VLB_BLK_F_DISCARD	VLB_BLK_F(13)
#define VLB_BLK_F_WRITE_ZEROES	VLB_BLK_F(14)
#define VLB_BLK_F_SECURE_ERASE	VLB_BLK_F(16)
#define VLB_BLK_F_ZONED		VLB_BLK_F(17)

/* struct virtio_blk_config, include/uapi/linux/virtio_blk.h */
enum {
	VLB_BLK_CAPACITY = 0, VLB_BLK_SIZE_MAX = 8, VLB_BLK_SEG_MAX = 12,
	VLB_BLK_BLK_SIZE = 20, VLB_BLK_PHYS_EXP = 24, VLB_BLK_OPT_IO = 28,
	VLB_BLK_WCE = 32, VLB_BLK_NUM_QUEUES = 34, VLB_BLK_DISCARD_SEG = 40,
	VLB_BLK_DISCARD_ALIGN = 44, VLB_BLK_WZ_SECTORS = 48,
	VLB_BLK_SE_SECTORS = 60, VLB_BLK_SE_SEG = 64, VLB_BLK_SE_ALIGN = 68,
};

/*
 * What virtio_blk (6.1 and 6.12) builds from the config space, value by
 * value; each bound keeps a WARN, a BUG or undefined arithmetic away:
 * - a request is seg_max data segments plus header and status in one
 *   chain (no indirect descriptors are offered): it must fit the ring, or
 *   virtqueue_add_split() WARNs;
 * - wce >= 2 is a BUG_ON in cache_type_show(), which any user can read;
 * - capacity << 9 must not overflow loff_t; blk_size is 512..PAGE_SIZE;
 *   blk_size << physical_block_exp must stay a sane u32, and so must
 *   blk_size * opt_io_size (it sizes readahead);
 * - discard and secure-erase alignments are shifted by 9 into a u32 (a
 *   granularity of 0 WARNs on the first discard);
 * - write-zeroes sizes bi_size as sectors << 9 in a u32 (6.1 splits
 *   nothing: a larger value zeroes part of the range and says it did all);
 * - secure erase needs its three fields and, beside discard, a segment
 *   limit the merge code agrees with; zoned devices are not offered.
 */
static int vlb_blk_check_config(const struct vlb_create *c, const __u8 *config,
				__u32 size, const char **why)
{
	__u64 f = c->device_features;
	__u32 seg_max = 1, blk_size = 512;

	if (f & VLB_BLK_F_SEG_MAX)
		seg_max = vlb_cfg32(config, size, VLB_BLK_SEG_MAX);
	if (seg_max == 0)
		seg_max = 1;
	if (c->queue_size_max < 4)
		return vlb_type_fail(why, "queue_size_max: a blk request takes 3 descriptors");
	if (seg_max > c->queue_size_max - 2U)
		return vlb_type_fail(why, "config seg_max: above queue_size_max - 2");
	if (f & VLB_BLK_F_ZONED)
		return vlb_type_fail(why, "device_features: zoned blk not served");
	if (vlb_cfg64(config, size, VLB_BLK_CAPACITY) >= 1ULL << 54)
		return vlb_type_fail(why, "config capacity: 2^54 sectors or more");
	if ((f & VLB_BLK_F_SIZE_MAX) && vlb_cfg32(config, size, VLB_BLK_SIZE_MAX) &&
	    vlb_cfg32(config, size, VLB_BLK_SIZE_MAX) < 4096)
		return vlb_type_fail(why, "config size_max: below 4096");
	if (f & VLB_BLK_F_BLK_SIZE) {
		blk_size = vlb_cfg32(config, size, VLB_BLK_BLK_SIZE);
		if (!vlb_is_pow2(blk_size) || blk_size < 512 || blk_size > 4096)
			return vlb_type_fail(why, "config blk_size: a power of two, 512..4096");
	}
	if (f & VLB_BLK_F_TOPOLOGY) {
		__u8 exp = vlb_cfg8(config, size, VLB_BLK_PHYS_EXP);

		if (exp > 16 || (__u64)blk_size << exp > 1ULL << 20)
			return vlb_type_fail(why, "config physical_block_exp: blocks above 1 MiB");
		if ((__u64)blk_size * vlb_cfg32(config, size, VLB_BLK_OPT_IO) > 1ULL << 24)
			return vlb_type_fail(why, "config opt_io_size: above 16 MiB");
	}
	if ((f & VLB_BLK_F_CONFIG_WCE) && vlb_cfg8(config, size, VLB_BLK_WCE) > 1)
		return vlb_type_fail(why, "config wce: 0 or 1");
	if ((f & VLB_BLK_F_MQ) &&
	    (vlb_cfg16(config, size, VLB_BLK_NUM_QUEUES) == 0 ||
	     vlb_cfg16(config, size, VLB_BLK_NUM_QUEUES) > c->num_queues))
		return vlb_type_fail(why, "config num_queues: 1..num_queues");
	if ((f & VLB_BLK_F_DISCARD) &&
	    vlb_cfg32(config, size, VLB_BLK_DISCARD_ALIGN) >= 1U << 23)
		return vlb_type_fail(why, "config discard_sector_alignment: 2^23 or more");
	if (f & VLB_BLK_F_WRITE_ZEROES) {
		__u32 wz = vlb_cfg32(config, size, VLB_BLK_WZ_SECTORS);

		if (wz == 0 || wz > (0x7fffffU & ~(blk_size / 512 - 1)))
			return vlb_type_fail(why, "config max_write_zeroes_sectors: 1..2^23-1");
	}
	if (f & VLB_BLK_F_SECURE_ERASE) {
		__u32 se_seg = vlb_cfg32(config, size, VLB_BLK_SE_SEG);
		__u32 d_seg = vlb_cfg32(config, size, VLB_BLK_DISCARD_SEG);
		__u32 segs = d_seg && (!se_seg || d_seg < se_seg) ? d_seg : se_seg;

		if (!vlb_cfg32(config, size, VLB_BLK_SE_SECTORS) || !se_seg ||
		    !vlb_cfg32(config, size, VLB_BLK_SE_ALIGN) ||
		    vlb_cfg32(config, size, VLB_BLK_SE_ALIGN) >= 1U << 23)
			return vlb_type_fail(why, "config secure erase: 0 or 2^23+");
		if ((f & VLB_BLK_F_DISCARD) && segs < 2 && seg_max > 1)
			return vlb_type_fail(why, "config max_secure_erase_seg: below 2");
	}
	return 0;
}

/* --------------------------------------------------------- console */

#define VLB_CONSOLE_F_MULTIPORT	0x2ULL	/* bit 1 */
#define VLB_CONSOLE_MAX_NR_PORTS	4

/*
 * Ports need a receive and a transmit queue each, port 0 and the control
 * queues included; a splice to a port puts one descriptor per pipe buffer
 * in one chain, up to 256 for an unprivileged pipe.
 */
static int vlb_console_check_config(const struct vlb_create *c, const __u8 *config,
				    __u32 size, const char **why)
{
	__u32 ports;

	if (c->queue_size_max < 256)
		return vlb_type_fail(why, "queue_size_max: below a splice (256)");
	if (!(c->device_features & VLB_CONSOLE_F_MULTIPORT))
		return c->num_queues < 2 ?
		       vlb_type_fail(why, "num_queues: a console has 2 at least") : 0;
	ports = vlb_cfg32(config, size, VLB_CONSOLE_MAX_NR_PORTS);
	if (ports == 0 || ports > 0x8000 || 2ULL * (ports + 1) > c->num_queues)
		return vlb_type_fail(why, "config max_nr_ports: 0, or queues for fewer");
	return 0;
}

/*
 * Even queues are the driver's receive buffers, which wait for the
 * device's data for as long as it has none; odd ones carry what the
 * driver sends (port output, control messages), for which it busy-waits.
 */
static bool vlb_console_queue_has_deadline(__u32 index)
{
	return index % 2 == 1;
}

/*
 * virtio_console takes a PORT_NAME's length as used length minus the
 * 8-byte message plus one, unchecked: shorter messages are a huge or an
 * empty allocation that it then writes.
 */
static bool vlb_console_used_len_ok(__u32 index, __u32 len)
{
	return index != VLB_CONSOLE_CONTROL_RX || len >= VLB_CONSOLE_CONTROL_LEN;
}

/* ------------------------------------------------------------- rng */

static bool vlb_rng_queue_has_deadline(__u32 index)
{
	return index == 0;
}

/*
 * virtio_rng adds no new buffer after an empty one: its next read would
 * wait, under the hwrng core's reading_mutex, for a buffer never to come.
 * Only the transport's own failure, which removal follows, may be empty.
 */
static bool vlb_rng_used_len_ok(__u32 index, __u32 len)
{
	return index != 0 || len > 0;
}

/* ----------------------------------------------------------- input */

/* struct virtio_input_config, include/uapi/linux/virtio_input.h */
#define VLB_INPUT_SELECT	0
#define VLB_INPUT_SUBSEL	1
#define VLB_INPUT_SIZE		2
#define VLB_INPUT_ABS_MIN	8
#define VLB_INPUT_ABS_MAX	12
#define VLB_INPUT_ABS_FUZZ	16
#define VLB_INPUT_ABS_FLAT	20
#define VLB_INPUT_CFG_ABS_INFO	0x12
#define VLB_INPUT_ABS_MT_SLOT	0x2f

/*
 * The input core takes absolute axes as they come: mousedev divides by
 * max - min (a divide fault in interrupt context if that overflows to -1),
 * joydev computes with fuzz and flat, and ABS_MT_SLOT sizes the slots.
 * Answers to other selections are bitmaps and strings, bounded by @size.
 */
static int vlb_input_check_config(const struct vlb_create *c, const __u8 *config,
				  __u32 size, const char **why)
{
	__s32 min, max, fuzz, flat;

	(void)c;
	if (size < VLB_INPUT_ABS_MIN)
		return vlb_type_fail(why, "config_size: an input config is 8 bytes at least");
	if (vlb_cfg8(config, size, VLB_INPUT_SIZE) > 128)
		return vlb_type_fail(why, "config size: above 128");
	if (vlb_cfg8(config, size, VLB_INPUT_SELECT) != VLB_INPUT_CFG_ABS_INFO)
		return 0;
	min = (__s32)vlb_cfg32(config, size, VLB_INPUT_ABS_MIN);
	max = (__s32)vlb_cfg32(config, size, VLB_INPUT_ABS_MAX);
	fuzz = (__s32)vlb_cfg32(config, size, VLB_INPUT_ABS_FUZZ);
	flat = (__s32)vlb_cfg32(config, size, VLB_INPUT_ABS_FLAT);
	if (min > max || (__s64)max - min > 0x7fffffff)
		return vlb_type_fail(why, "config abs min/max: min > max or overflow");
	if (fuzz < 0 || flat < 0 || (__s64)flat > (__s64)max - min)
		return vlb_type_fail(why, "config abs fuzz/flat: out of range");
	if (vlb_cfg8(config, size, VLB_INPUT_SUBSEL) == VLB_INPUT_ABS_MT_SLOT &&
	    (min != 0 || max > 1023))
		return vlb_type_fail(why, "config ABS_MT_SLOT: min 0, max 1023 at most");
	return 0;
}

/*
 * The kernel's own input handlers take every keyboard, whatever user
 * space does with it: the magic SysRq handler acts on Alt+SysRq+key
 * (Debian enables reboot, sync and remount among them). A key the device
 * does not declare is dropped by the input core, so an input device
 * declares no KEY_SYSRQ (Print Screen shares it).
 */
#define VLB_INPUT_CFG_EV_BITS	0x11
#define VLB_INPUT_EV_KEY	1
#define VLB_INPUT_BITMAP	8	/* union u: bitmap[128] */
#define VLB_KEY_SYSRQ		99

static void vlb_input_mask_config(__u8 *config, __u32 size)
{
	const __u32 byte = VLB_INPUT_BITMAP + VLB_KEY_SYSRQ / 8;

	if (size <= byte || config[VLB_INPUT_SELECT] != VLB_INPUT_CFG_EV_BITS ||
	    config[VLB_INPUT_SUBSEL] != VLB_INPUT_EV_KEY)
		return;
	config[byte] &= (__u8)~(1U << (VLB_KEY_SYSRQ % 8));
}

/* The fields drivers read again when the device says its config changed. */
static const struct vlb_cfg_range vlb_blk_mutable[] = {
	{ VLB_BLK_CAPACITY, 8 },	/* virtblk_update_capacity() */
	{ VLB_BLK_WCE, 1 },		/* cache_type_show(), on every read */
};

static const struct vlb_cfg_range vlb_console_mutable[] = {
	{ 0, 4 },			/* cols, rows: hvc_resize() */
};

/* ------------------------------------------------------------------ */

static const struct vlb_type vlb_types[] = {
	{
		.device_id = VLB_ID_BLOCK,
		.name = "blk",
		.waits_by_sleeping = true,
		.fail_mode = VLB_FAIL_BY_STATUS_BYTE,
		/*
		 * Every request: its submitter sleeps uninterruptibly, the
		 * probe's partition scan in the module's own work. Below the
		 * hung-task detector's default 120 s, like SCSI's 30 s.
		 */
		.timeout_default_ms = 30000,
		.timeout_max_ms = 90000,
		.check_config = vlb_blk_check_config,
		.mutable_ranges = vlb_blk_mutable,
		.nmutable = VLB_ARRAY_SIZE(vlb_blk_mutable),
	},
	{
		.device_id = VLB_ID_CONSOLE,
		.name = "console",
		/*
		 * It busy-waits for what it sends with preemption (hvc: and
		 * interrupts) off: well below the 20 s soft-lockup report.
		 */
		.timeout_default_ms = 5000,
		.timeout_max_ms = 10000,
		.queue_has_deadline = vlb_console_queue_has_deadline,
		.used_len_ok = vlb_console_used_len_ok,
		.console_gate = true,
		.check_config = vlb_console_check_config,
		.mutable_ranges = vlb_console_mutable,
		.nmutable = VLB_ARRAY_SIZE(vlb_console_mutable),
	},
	{
		.device_id = VLB_ID_RNG,
		.name = "rng",
		.waits_by_sleeping = true,
		/*
		 * The hwrng core reads under one mutex for every rng of the
		 * system, and every rng probe takes it: a read must end soon.
		 */
		.timeout_default_ms = 5000,
		.timeout_max_ms = 10000,
		.queue_has_deadline = vlb_rng_queue_has_deadline,
		.fail_mode = VLB_FAIL_BY_EMPTY_BUFFER,
		.used_len_ok = vlb_rng_used_len_ok,
	},
	{
		/*
		 * Event buffers wait for events; status messages are never
		 * waited for (the driver drops them when the queue is full).
		 */
		.device_id = VLB_ID_INPUT,
		.name = "input",
		.select_window = true,
		.check_config = vlb_input_check_config,
		.mask_config = vlb_input_mask_config,
	},
};

const struct vlb_type *vlb_type_find(__u32 device_id)
{
	size_t i;

	for (i = 0; i < VLB_ARRAY_SIZE(vlb_types); i++)
		if (vlb_types[i].device_id == device_id)
			return &vlb_types[i];
	return NULL;
}
