/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-device counters of security-relevant events; they only grow and are
 * read by user space with VLB_DEV_GET_STATS.
 */
#ifndef VLB_STATS_H
#define VLB_STATS_H

#include <linux/atomic.h>
#include <linux/virtio_loopback.h>

struct vlb_stats_counters {
	atomic64_t grants;
	atomic64_t bounces;
	atomic64_t revocations;
	atomic64_t faults_refused;
	atomic64_t map_failures;
	atomic64_t used_rejected;
	atomic64_t broken;
	atomic64_t kicks;
	atomic64_t calls;
	atomic64_t msg_timeouts;
	atomic64_t copies;
	atomic64_t copied_bytes;
	atomic64_t calls_on_signalling_cpu;
	atomic64_t calls_in_device;
	atomic64_t request_timeouts;
	atomic64_t completions_held;
};

static inline void vlb_stats_read(const struct vlb_stats_counters *c,
				  struct vlb_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->grants = atomic64_read(&c->grants);
	out->bounces = atomic64_read(&c->bounces);
	out->revocations = atomic64_read(&c->revocations);
	out->faults_refused = atomic64_read(&c->faults_refused);
	out->map_failures = atomic64_read(&c->map_failures);
	out->used_rejected = atomic64_read(&c->used_rejected);
	out->broken = atomic64_read(&c->broken);
	out->kicks = atomic64_read(&c->kicks);
	out->calls = atomic64_read(&c->calls);
	out->msg_timeouts = atomic64_read(&c->msg_timeouts);
	out->copies = atomic64_read(&c->copies);
	out->copied_bytes = atomic64_read(&c->copied_bytes);
	out->calls_on_signalling_cpu = atomic64_read(&c->calls_on_signalling_cpu);
	out->calls_in_device = atomic64_read(&c->calls_in_device);
	out->request_timeouts = atomic64_read(&c->request_timeouts);
	out->completions_held = atomic64_read(&c->completions_held);
}

#endif /* VLB_STATS_H */
