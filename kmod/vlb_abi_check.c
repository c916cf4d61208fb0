// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * Validation of user-space input to virtio_loopback.ko; see vlb_abi_check.h.
 * Keep this file free of kernel-only calls: user space builds it too.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/stddef.h>
#else
#include <errno.h>
#include <stddef.h>
#endif

#include "vlb_abi_check.h"
#include "vlb_types.h"

static int vlb_fail(const char **why, const char *msg, int err)
{
	*why = msg;
	return err;
}

static bool vlb_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static bool vlb_is_pow2(__u32 v)
{
	return v && !(v & (v - 1));
}

bool vlb_device_type_allowed(__u32 device_id)
{
	return vlb_type_find(device_id);
}

int vlb_check_config(const struct vlb_create *c, const __u8 *config,
		     const char **why)
{
	const struct vlb_type *t = vlb_type_find(c->device_id);

	if (!t)
		return vlb_fail(why, "device_id: type not allowed", -EPROTONOSUPPORT);
	return t->check_config ? t->check_config(c, config, c->config_size, why) : 0;
}

static bool vlb_in_ranges(const struct vlb_type *t, __u32 i)
{
	unsigned int r;

	for (r = 0; r < t->nmutable; r++)
		if (i >= t->mutable_ranges[r].off &&
		    i - t->mutable_ranges[r].off < t->mutable_ranges[r].len)
			return true;
	return false;
}

int vlb_check_config_change(const struct vlb_create *c, const __u8 *old,
			    const __u8 *next, bool answer_allowed, const char **why)
{
	const struct vlb_type *t = vlb_type_find(c->device_id);
	__u32 i;

	if (!t)
		return vlb_fail(why, "device_id: type not allowed", -EPROTONOSUPPORT);
	if (t->select_window) {
		if (!answer_allowed)
			return vlb_fail(why, "config: answered already; no new selection", -EBUSY);
	} else {
		for (i = 0; i < c->config_size; i++)
			if (old[i] != next[i] && !vlb_in_ranges(t, i))
				return vlb_fail(why, "config: a field read once changed", -EINVAL);
	}
	return vlb_check_config(c, next, why);
}

static int vlb_check_timeout(struct vlb_create *c, const char **why)
{
	const struct vlb_type *t = vlb_type_find(c->device_id);

	if (!t->timeout_max_ms) {
		if (c->request_timeout_ms)
			return vlb_fail(why, "request_timeout_ms: no deadline for this type",
					-EINVAL);
		return 0;
	}
	if (c->request_timeout_ms == 0)
		c->request_timeout_ms = t->timeout_default_ms;
	if (c->request_timeout_ms > t->timeout_max_ms)
		return vlb_fail(why, "request_timeout_ms: above this type's maximum", -EINVAL);
	return 0;
}

__u64 vlb_offered_features(__u64 device_features)
{
	return device_features &
	       (VLB_DEVICE_TYPE_FEATURES | VLB_TRANSPORT_FEATURES);
}

int vlb_check_name(const char name[VLB_NAME_MAX], const char **why)
{
	size_t len = 0;

	while (len < VLB_NAME_MAX && name[len])
		len++;
	if (len == 0)
		return vlb_fail(why, "name: empty", -EINVAL);
	if (len == VLB_NAME_MAX)
		return vlb_fail(why, "name: not NUL-terminated", -ENAMETOOLONG);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return vlb_fail(why, "name: only [a-z0-9_-] allowed",
					-EINVAL);
	}
	if (!vlb_all_zero(name + len, VLB_NAME_MAX - len))
		return vlb_fail(why, "name: bytes after the NUL must be zero",
				-EINVAL);
	return 0;
}

int vlb_check_create(struct vlb_create *c, const char **why)
{
	int ret;

	if (!vlb_device_type_allowed(c->device_id))
		return vlb_fail(why, "device_id: type not allowed", -EPROTONOSUPPORT);
	if (!(c->device_features & VLB_F_VERSION_1))
		return vlb_fail(why, "device_features: VIRTIO_F_VERSION_1 required",
				-EINVAL);
	if (c->num_queues == 0 || c->num_queues > VLB_MAX_QUEUES)
		return vlb_fail(why, "num_queues: must be 1..VLB_MAX_QUEUES", -EINVAL);
	if (c->queue_size_max < 2 || c->queue_size_max > VLB_QUEUE_SIZE_MAX ||
	    !vlb_is_pow2(c->queue_size_max))
		return vlb_fail(why, "queue_size_max: power of two, 2..VLB_QUEUE_SIZE_MAX",
				-EINVAL);
	if (c->config_size > VLB_CONFIG_MAX)
		return vlb_fail(why, "config_size: above VLB_CONFIG_MAX", -EINVAL);
	if (!vlb_all_zero(c->config + c->config_size,
			  VLB_CONFIG_MAX - c->config_size))
		return vlb_fail(why, "config: bytes past config_size must be zero",
				-EINVAL);
	if (c->reserved0 || c->reserved1 || c->flags ||
	    !vlb_all_zero(c->reserved, sizeof(c->reserved)))
		return vlb_fail(why, "reserved or flags: must be zero", -EINVAL);
	ret = vlb_check_name(c->name, why);
	if (ret)
		return ret;

	if (c->iova_size == 0)
		c->iova_size = VLB_IOVA_SIZE_DEFAULT;
	if (c->iova_size < VLB_IOVA_SIZE_MIN || c->iova_size > VLB_IOVA_SIZE_MAX ||
	    c->iova_size % VLB_PAGE_SIZE)
		return vlb_fail(why, "iova_size: page multiple within VLB_IOVA_SIZE_MIN..MAX",
				-EINVAL);
	if (c->max_granted_pages == 0)
		c->max_granted_pages = VLB_GRANT_PAGES_DEFAULT;
	if (c->max_granted_pages > c->iova_size / VLB_PAGE_SIZE)
		return vlb_fail(why, "max_granted_pages: exceeds the IOVA space",
				-EINVAL);
	if (c->bounce_pool_pages == 0)
		c->bounce_pool_pages = VLB_BOUNCE_POOL_DEFAULT;
	if (c->bounce_pool_pages > VLB_BOUNCE_POOL_MAX)
		return vlb_fail(why, "bounce_pool_pages: above VLB_BOUNCE_POOL_MAX",
				-EINVAL);
	if (c->bounce_threshold == 0)
		c->bounce_threshold = VLB_PAGE_SIZE;
	ret = vlb_check_timeout(c, why);
	if (ret)
		return ret;

	/* The features the driver will see decide what it reads of config. */
	c->device_features = vlb_offered_features(c->device_features);
	return vlb_check_config(c, c->config, why);
}

int vlb_check_reattach(const struct vlb_reattach *r, const char **why)
{
	if (!vlb_all_zero(r->reserved, sizeof(r->reserved)))
		return vlb_fail(why, "reserved: must be zero", -EINVAL);
	return vlb_check_name(r->name, why);
}

int vlb_check_scope(const struct vlb_scope *s, const char **why)
{
	if (!vlb_device_type_allowed(s->device_id))
		return vlb_fail(why, "device_id: type not allowed", -EPROTONOSUPPORT);
	if (s->flags || !vlb_all_zero(s->reserved, sizeof(s->reserved)))
		return vlb_fail(why, "reserved or flags: must be zero", -EINVAL);
	if (s->iova_size && (s->iova_size < VLB_IOVA_SIZE_MIN ||
			     s->iova_size > VLB_IOVA_SIZE_MAX ||
			     s->iova_size % VLB_PAGE_SIZE))
		return vlb_fail(why, "iova_size: page multiple within VLB_IOVA_SIZE_MIN..MAX",
				-EINVAL);
	if (s->max_granted_pages > VLB_IOVA_SIZE_MAX / VLB_PAGE_SIZE)
		return vlb_fail(why, "max_granted_pages: exceeds the largest IOVA space",
				-EINVAL);
	if (s->bounce_pool_pages > VLB_BOUNCE_POOL_MAX)
		return vlb_fail(why, "bounce_pool_pages: above VLB_BOUNCE_POOL_MAX",
				-EINVAL);
	return vlb_check_name(s->name, why);
}

int vlb_scope_allows_name(const struct vlb_scope *s,
			  const char name[VLB_NAME_MAX], const char **why)
{
	size_t i;

	/* Both are NUL-padded after checks: compare every byte. */
	for (i = 0; i < VLB_NAME_MAX; i++)
		if (s->name[i] != name[i])
			return vlb_fail(why, "name: not the one this file is scoped to",
					-EPERM);
	return 0;
}

int vlb_scope_allows_device(const struct vlb_scope *s, __u32 device_id,
			    const char name[VLB_NAME_MAX], const char **why)
{
	int ret = vlb_scope_allows_name(s, name, why);

	if (ret)
		return ret;
	if (device_id != s->device_id)
		return vlb_fail(why, "device_id: not the type this file is scoped to",
				-EPERM);
	return 0;
}

int vlb_scope_allows_create(const struct vlb_scope *s,
			    const struct vlb_create *c, const char **why)
{
	int ret = vlb_scope_allows_device(s, c->device_id, c->name, why);

	if (ret)
		return ret;
	if (s->iova_size && c->iova_size > s->iova_size)
		return vlb_fail(why, "iova_size: above this file's scope", -EPERM);
	if (s->max_granted_pages && c->max_granted_pages > s->max_granted_pages)
		return vlb_fail(why, "max_granted_pages: above this file's scope",
				-EPERM);
	if (s->bounce_pool_pages && c->bounce_pool_pages > s->bounce_pool_pages)
		return vlb_fail(why, "bounce_pool_pages: above this file's scope",
				-EPERM);
	return 0;
}

int vlb_check_reply(const struct vlb_reply *r, const char **why)
{
	if (!vlb_all_zero(r->reserved, sizeof(r->reserved)))
		return vlb_fail(why, "reply reserved: must be zero", -EINVAL);
	/* A failure must be a real errno so the driver sees a sane error. */
	if (r->result > 0 || r->result < -4095)
		return vlb_fail(why, "reply result: must be 0 or -errno", -EINVAL);
	return 0;
}

int vlb_check_vq_eventfd(const struct vlb_vq_eventfd *e, __u32 num_queues,
			 const char **why)
{
	if (e->reserved)
		return vlb_fail(why, "reserved: must be zero", -EINVAL);
	if (e->index >= num_queues)
		return vlb_fail(why, "index: no such queue", -EINVAL);
	if (e->fd < -1)
		return vlb_fail(why, "fd: must be an eventfd or -1", -EBADF);
	return 0;
}

int vlb_check_config_update(const struct vlb_config_update *u,
			    __u32 config_size, const char **why)
{
	if (u->reserved)
		return vlb_fail(why, "reserved: must be zero", -EINVAL);
	if (u->len == 0 || u->len > VLB_CONFIG_MAX || u->offset > config_size ||
	    u->len > config_size - u->offset)
		return vlb_fail(why, "offset/len: outside the config space", -EINVAL);
	return 0;
}

int vlb_check_vq_index(const struct vlb_vq_index *v, __u32 num_queues,
		       const char **why)
{
	if (v->reserved)
		return vlb_fail(why, "reserved: must be zero", -EINVAL);
	if (v->index >= num_queues)
		return vlb_fail(why, "index: no such queue", -EINVAL);
	return 0;
}

int vlb_check_iova_copy(const struct vlb_iova_copy *c, const char **why)
{
	if (c->reserved0 || !vlb_all_zero(c->reserved, sizeof(c->reserved)))
		return vlb_fail(why, "reserved: must be zero", -EINVAL);
	if (c->flags != VLB_IOVA_COPY_TO_FILE &&
	    c->flags != VLB_IOVA_COPY_FROM_FILE)
		return vlb_fail(why, "flags: exactly one of TO_FILE, FROM_FILE",
				-EINVAL);
	if (c->nr_segs == 0 || c->nr_segs > VLB_IOVA_COPY_SEGS_MAX)
		return vlb_fail(why, "nr_segs: 1 to VLB_IOVA_COPY_SEGS_MAX",
				-EINVAL);
	if (c->fd < 0)
		return vlb_fail(why, "fd: not an fd", -EBADF);
	/* The file position is a signed 64-bit loff_t. */
	if (c->offset > 0x7fffffffffffffffULL)
		return vlb_fail(why, "offset: beyond what a file can have",
				-EINVAL);
	if (!c->segs)
		return vlb_fail(why, "segs: NULL", -EFAULT);
	return 0;
}

int vlb_check_iova_call(const struct vlb_iova_call *c, const char **why)
{
	if (c->reserved)
		return vlb_fail(why, "reserved: must be zero", -EINVAL);
	if (c->fd < 0)
		return vlb_fail(why, "fd: not an fd", -EBADF);
	return 0;
}

int vlb_check_iova_segs(const struct vlb_iova_seg *segs, __u32 nr_segs,
			__u64 iova_size, __u64 offset, __u64 *bytes,
			__u32 *pages, const char **why)
{
	__u64 total = 0;
	__u32 n = 0, i;

	for (i = 0; i < nr_segs; i++) {
		const struct vlb_iova_seg *s = &segs[i];

		if (s->len == 0)
			return vlb_fail(why, "segs: a segment of length 0",
					-EINVAL);
		if (s->iova >= iova_size || s->len > iova_size - s->iova)
			return vlb_fail(why, "segs: outside the IOVA space",
					-EFAULT);
		/* Both bounded by iova_size (at most VLB_IOVA_SIZE_MAX). */
		if (s->len > VLB_IOVA_COPY_BYTES_MAX - total)
			return vlb_fail(why, "segs: more than VLB_IOVA_COPY_BYTES_MAX bytes",
					-EINVAL);
		total += s->len;
		n += (__u32)((s->iova + s->len - 1) / VLB_PAGE_SIZE -
			     s->iova / VLB_PAGE_SIZE + 1);
	}
	if (total > 0x7fffffffffffffffULL - offset)
		return vlb_fail(why, "offset: the copy would run past the largest file position",
				-EINVAL);
	*bytes = total;
	*pages = n;
	return 0;
}
