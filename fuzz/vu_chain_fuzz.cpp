// SPDX-License-Identifier: Apache-2.0
// Fuzzes the split ring over hostile memory: the input is the guest memory
// (descriptor table, avail ring, indirect tables, everything) and the ring
// is drained as a device would. Walking must stay inside the region and
// terminate whatever the bytes say.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "vlb/vu/memory_table.h"
#include "vlb/vu/split_ring.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace vlb;
	using namespace vlb::vu;
	constexpr std::size_t kMem = 1 << 16;
	constexpr std::uint64_t kBase = 0x10000;
	if (size < 2)
		return 0;
	// First byte: queue size exponent and features; the rest: memory.
	const auto qsize = static_cast<std::uint16_t>(1U << (data[0] % 8));  // 1..128
	const std::uint64_t features = (data[1] & 1 ? bit(kFRingIndirectDesc) : 0) |
				       (data[1] & 2 ? bit(kFRingEventIdx) : 0);
	UniqueFd fd(::memfd_create("fuzz-ring", MFD_CLOEXEC));
	if (!fd || ::ftruncate(fd.get(), kMem) != 0)
		return 0;
	const std::size_t n = std::min(size - 2, kMem);
	if (::pwrite(fd.get(), data + 2, n, 0) != static_cast<ssize_t>(n))
		return 0;
	MemoryTable mem;
	mem.add(MemRegion{kBase, kMem, kBase, 0}, std::move(fd));
	// Rings at fixed places in the fuzzed memory (sized for 128 entries),
	// buffers and indirect tables anywhere.
	SplitRing ring({mem.guest_to_host(kBase, desc_table_bytes(qsize)),
			mem.guest_to_host(kBase + 0x800, avail_ring_bytes(qsize)),
			mem.guest_to_host(kBase + 0xA00, used_ring_bytes(qsize))},
		       qsize, features);
	Chain chain;
	std::uint64_t bytes = 0;
	for (int i = 0; i < 512; i++) {
		bool broken = false;
		const auto head = ring.pop(broken);
		if (!head || broken)
			break;
		if (ring.walk(*head, mem, chain) != ChainError::kNone)
			break;
		for (const auto &s : chain.readable)
			bytes += s.data[0] + s.data[s.len - 1]; // cppcheck-suppress useStlAlgorithm
		for (const auto &s : chain.writable)
			s.data[s.len - 1] = 0;
		ring.push_used(*head, static_cast<std::uint32_t>(chain.writable_bytes));
		(void)ring.should_notify();
	}
	return bytes == 0xdeadbeef ? 1 : 0;
}
