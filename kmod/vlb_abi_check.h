/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Validation of everything user space passes to virtio_loopback.ko.
 *
 * Plain C without kernel dependencies beyond the uapi types: the module
 * compiles it, and so do the user-space unit tests and fuzz targets, so
 * the fuzzers exercise the very code that guards the kernel.
 *
 * Every check returns 0 or a negative errno and, on failure, points *why
 * at a static string naming the offending field.
 */
#ifndef VLB_ABI_CHECK_H
#define VLB_ABI_CHECK_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stdint.h>
#endif

#include <linux/virtio_loopback.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Page size the IOVA space is built from (x86-64, arm64 with 4K pages). */
#define VLB_PAGE_SIZE		4096U

/* Hex, not BIT_ULL(): user space has no linux/bits.h. */
#define VLB_F_VERSION_1		0x0000000100000000ULL	/* bit 32 */
#define VLB_F_ACCESS_PLATFORM	0x0000000200000000ULL	/* bit 33 */
/* Transport feature bits a device may offer; all others are cleared. */
#define VLB_TRANSPORT_FEATURES	VLB_F_VERSION_1
/* Device-type feature bits (virtio 1.2, section 2.2: 0-23 and 50-63). */
#define VLB_DEVICE_TYPE_FEATURES 0xfffc000000ffffffULL

bool vlb_device_type_allowed(__u32 device_id);
__u64 vlb_offered_features(__u64 device_features);

int vlb_check_name(const char name[VLB_NAME_MAX], const char **why);
/*
 * Checks a whole config space for a device created as @c (its features as
 * offered, its queues and config_size): at CREATE and after each update.
 */
int vlb_check_config(const struct vlb_create *c, const __u8 *config,
		     const char **why);
/*
 * Checks a config update from @old to @next: only fields the driver reads
 * again may change (EINVAL), a selection window's answer once per
 * selection (@answer_allowed, else EBUSY), and @next must pass
 * vlb_check_config().
 */
int vlb_check_config_change(const struct vlb_create *c, const __u8 *old,
			    const __u8 *next, bool answer_allowed, const char **why);
/* Checks @c and fills in defaults for fields left zero. */
int vlb_check_create(struct vlb_create *c, const char **why);
int vlb_check_reattach(const struct vlb_reattach *r, const char **why);
int vlb_check_scope(const struct vlb_scope *s, const char **why);
/*
 * What a file scoped as @s may do, 0 or -EPERM. REATTACH of @name:
 * vlb_scope_allows_name(). CREATE: vlb_scope_allows_device() on the raw
 * request, so that other devices are refused before they are parsed,
 * then vlb_scope_allows_create() on @c checked, defaults filled in.
 */
int vlb_scope_allows_name(const struct vlb_scope *s,
			  const char name[VLB_NAME_MAX], const char **why);
int vlb_scope_allows_device(const struct vlb_scope *s, __u32 device_id,
			    const char name[VLB_NAME_MAX], const char **why);
int vlb_scope_allows_create(const struct vlb_scope *s,
			    const struct vlb_create *c, const char **why);
int vlb_check_reply(const struct vlb_reply *r, const char **why);
int vlb_check_vq_eventfd(const struct vlb_vq_eventfd *e, __u32 num_queues,
			 const char **why);
int vlb_check_config_update(const struct vlb_config_update *u,
			    __u32 config_size, const char **why);
int vlb_check_vq_index(const struct vlb_vq_index *v, __u32 num_queues,
		       const char **why);
int vlb_check_iova_call(const struct vlb_iova_call *c, const char **why);
/* The fixed part of a VLB_IOVA_COPY. */
int vlb_check_iova_copy(const struct vlb_iova_copy *c, const char **why);
/*
 * Its segments, inside an IOVA space of @iova_size bytes; on success
 * *@bytes is their sum and *@pages the IOVA pages they span, counted per
 * segment (one bio_vec each).
 */
int vlb_check_iova_segs(const struct vlb_iova_seg *segs, __u32 nr_segs,
			__u64 iova_size, __u64 offset, __u64 *bytes,
			__u32 *pages, const char **why);

#ifdef __cplusplus
}
#endif

#endif /* VLB_ABI_CHECK_H */
