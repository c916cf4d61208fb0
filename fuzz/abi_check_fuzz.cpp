// SPDX-License-Identifier: Apache-2.0
// Fuzzes the kernel's ioctl/message validation (kmod/vlb_abi_check.c).
// Input: one selector byte, then the bytes of the structure it checks.
// Besides crashes, the target traps when an accepted input breaks an
// invariant the kernel relies on after validation.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "vlb_abi_check.h"

namespace {

using Bytes = std::span<const std::uint8_t>;

void require(bool ok)
{
	if (!ok)
		__builtin_trap();
}

template <typename T> T from_bytes(Bytes in)
{
	T v{};
	std::memcpy(&v, in.data(), std::min(in.size(), sizeof(T)));
	return v;
}

template <std::size_t N> bool nul_terminated(const char (&s)[N])
{
	return std::find(std::begin(s), std::end(s), '\0') != std::end(s);
}

void check_create(Bytes in)
{
	auto c = from_bytes<vlb_create>(in);
	const char *why = nullptr;
	if (vlb_check_create(&c, &why) != 0) {
		require(why != nullptr);
		return;
	}
	require(vlb_device_type_allowed(c.device_id));
	require((c.device_features & ~(VLB_DEVICE_TYPE_FEATURES | VLB_TRANSPORT_FEATURES)) == 0);
	require((c.device_features & VLB_F_VERSION_1) != 0);
	require((c.device_features & VLB_F_ACCESS_PLATFORM) == 0);
	require(c.num_queues >= 1 && c.num_queues <= VLB_MAX_QUEUES);
	require(c.queue_size_max >= 2 && c.queue_size_max <= VLB_QUEUE_SIZE_MAX);
	require((c.queue_size_max & (c.queue_size_max - 1)) == 0);
	require(c.config_size <= VLB_CONFIG_MAX);
	require(c.iova_size >= VLB_IOVA_SIZE_MIN && c.iova_size <= VLB_IOVA_SIZE_MAX);
	require(c.iova_size % VLB_PAGE_SIZE == 0);
	require(c.max_granted_pages >= 1 && c.max_granted_pages <= c.iova_size / VLB_PAGE_SIZE);
	require(c.bounce_pool_pages >= 1 && c.bounce_pool_pages <= VLB_BOUNCE_POOL_MAX);
	require(c.bounce_threshold >= 1);
	require(nul_terminated(c.name));
}

// A VLB_IOVA_COPY: the fixed part, then up to VLB_IOVA_COPY_SEGS_MAX
// segments. Accepted segments lie in the space and within the byte limit,
// and the bio_vec count the kernel allocates covers every page they span.
void check_iova_copy(Bytes in)
{
	const char *why = nullptr;
	const auto c = from_bytes<vlb_iova_copy>(in);
	if (vlb_check_iova_copy(&c, &why) != 0) {
		require(why != nullptr);
		return;
	}
	require(c.nr_segs >= 1 && c.nr_segs <= VLB_IOVA_COPY_SEGS_MAX);
	require(c.flags == VLB_IOVA_COPY_TO_FILE || c.flags == VLB_IOVA_COPY_FROM_FILE);
	// After the fixed part: a byte choosing the IOVA space (any size a
	// create can produce), then the segments.
	const Bytes rest = in.size() > sizeof(c) ? in.subspan(sizeof(c)) : Bytes{};
	const std::uint64_t space = VLB_IOVA_SIZE_MIN << ((rest.empty() ? 0U : rest[0]) % 13U);
	const Bytes seg_bytes = rest.empty() ? rest : rest.subspan(1);
	std::vector<vlb_iova_seg> segs(c.nr_segs);
	if (!seg_bytes.empty())  // an empty span's data() may be null, which memcpy must not see
		std::memcpy(segs.data(), seg_bytes.data(), std::min(seg_bytes.size(), segs.size() * sizeof(vlb_iova_seg)));
	__u64 bytes = 0;
	__u32 pages = 0;
	if (vlb_check_iova_segs(segs.data(), c.nr_segs, space, c.offset, &bytes, &pages, &why) != 0) {
		require(why != nullptr);
		return;
	}
	require(bytes <= VLB_IOVA_COPY_BYTES_MAX && c.offset + bytes >= c.offset);
	std::uint64_t sum = 0;
	std::uint64_t spanned = 0;
	for (const auto &s : segs) {
		require(s.len >= 1 && s.iova < space && s.len <= space - s.iova);
		sum += s.len;
		spanned += (s.iova + s.len - 1) / VLB_PAGE_SIZE - s.iova / VLB_PAGE_SIZE + 1;
	}
	require(sum == bytes && spanned == pages);
	require(pages <= VLB_IOVA_COPY_BYTES_MAX / VLB_PAGE_SIZE + 2ULL * VLB_IOVA_COPY_SEGS_MAX);
}

// A VLB_IOC_SCOPE, then a create: a scope accepted names one allowed
// type and device, and a create it lets through is that device, within
// its limits.
void check_scope(Bytes in)
{
	const char *why = nullptr;
	const auto s = from_bytes<vlb_scope>(in);
	if (vlb_check_scope(&s, &why) != 0) {
		require(why != nullptr);
		return;
	}
	require(nul_terminated(s.name) && vlb_device_type_allowed(s.device_id));
	if (in.size() <= sizeof(s))
		return;
	auto c = from_bytes<vlb_create>(in.subspan(sizeof(s)));
	if (vlb_check_create(&c, &why) != 0 || vlb_scope_allows_create(&s, &c, &why) != 0)
		return;
	require(std::memcmp(c.name, s.name, VLB_NAME_MAX) == 0 && c.device_id == s.device_id);
	require(s.iova_size == 0 || c.iova_size <= s.iova_size);
	require(s.max_granted_pages == 0 || c.max_granted_pages <= s.max_granted_pages);
	require(s.bounce_pool_pages == 0 || c.bounce_pool_pages <= s.bounce_pool_pages);
}

void check_small(std::uint8_t which, Bytes in)
{
	const char *why = nullptr;
	// Queue count and config size come from a validated create; take them
	// from the input, clamped to what a create can produce.
	const std::uint32_t num_queues = in.empty() ? 1U : 1U + in[0] % VLB_MAX_QUEUES;
	const std::uint32_t config_size = in.size() < 2 ? 0U : in[1] % (VLB_CONFIG_MAX + 1U);
	switch (which % 8) {
	case 0: {
		const auto r = from_bytes<vlb_reattach>(in);
		if (vlb_check_reattach(&r, &why) == 0)
			require(nul_terminated(r.name));
		break;
	}
	case 1: {
		const auto r = from_bytes<vlb_reply>(in);
		if (vlb_check_reply(&r, &why) == 0)
			require(r.result <= 0 && r.result >= -4095);
		break;
	}
	case 2: {
		const auto e = from_bytes<vlb_vq_eventfd>(in);
		if (vlb_check_vq_eventfd(&e, num_queues, &why) == 0)
			require(e.index < num_queues && e.fd >= -1);
		break;
	}
	case 3: {
		const auto u = from_bytes<vlb_config_update>(in);
		if (vlb_check_config_update(&u, config_size, &why) == 0)
			require(u.len >= 1 && std::uint64_t{u.offset} + u.len <= config_size);
		break;
	}
	case 4:
		check_iova_copy(in);
		break;
	case 6:
		check_scope(in);
		break;
	case 5: {
		const auto c = from_bytes<vlb_iova_call>(in);
		if (vlb_check_iova_call(&c, &why) == 0)
			require(c.fd >= 0 && c.reserved == 0);
		break;
	}
	default: {
		const auto v = from_bytes<vlb_vq_index>(in);
		if (vlb_check_vq_index(&v, num_queues, &why) == 0)
			require(v.index < num_queues);
		break;
	}
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const Bytes input(data, size);
	if (input.empty())
		return 0;
	const std::uint8_t which = input[0];
	if (which % 2 == 0)
		check_create(input.subspan(1));
	else
		check_small(static_cast<std::uint8_t>(which / 2), input.subspan(1));
	return 0;
}
