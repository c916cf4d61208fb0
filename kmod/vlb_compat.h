/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API differences between the LTS kernels the module builds for.
 * Tested: 6.1 (Debian 12). Every #if on LINUX_VERSION_CODE lives here.
 */
#ifndef VLB_COMPAT_H
#define VLB_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
static inline void vlb_vma_flags_update(struct vm_area_struct *vma,
					vm_flags_t set, vm_flags_t clear)
{
	vm_flags_mod(vma, set, clear);
}
#else
static inline void vlb_vma_flags_update(struct vm_area_struct *vma,
					vm_flags_t set, vm_flags_t clear)
{
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
}
#endif

#endif /* VLB_COMPAT_H */
