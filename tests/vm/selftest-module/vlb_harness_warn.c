// SPDX-License-Identifier: GPL-2.0-only
/*
 * A deliberately bad module for the VM harness's own test: loading it
 * triggers one WARN_ON, which the harness must report as a kernel splat
 * even though the guest script that loads it succeeds. Never install it.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init vlb_harness_warn_init(void)
{
	WARN_ON(1);
	return 0;
}

static void __exit vlb_harness_warn_exit(void)
{
}

module_init(vlb_harness_warn_init);
module_exit(vlb_harness_warn_exit);

MODULE_DESCRIPTION("virtio-loopback test harness: triggers a WARN_ON on load");
MODULE_LICENSE("GPL");
