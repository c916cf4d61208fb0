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

void check_small(std::uint8_t which, Bytes in)
{
	const char *why = nullptr;
	// Queue count and config size come from a validated create; take them
	// from the input, clamped to what a create can produce.
	const std::uint32_t num_queues = in.empty() ? 1U : 1U + in[0] % VLB_MAX_QUEUES;
	const std::uint32_t config_size = in.size() < 2 ? 0U : in[1] % (VLB_CONFIG_MAX + 1U);
	switch (which % 5) {
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
