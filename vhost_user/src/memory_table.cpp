// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/memory_table.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <limits>
#include <string>

#include "vlb/vu/message.h"

namespace vlb::vu {
namespace {

bool overlaps(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

} // namespace

bool iova_fd_knows(int fd, unsigned long request)
{
	return ::ioctl(fd, request, nullptr) < 0 && errno == EFAULT;
}

std::uint64_t MemoryTable::next_generation()
{
	// A counter for the whole process, not per table: see generation().
	static std::atomic<std::uint64_t> last{0};
	return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void MemoryTable::clear()
{
	regions_.clear();
	generation_ = next_generation();
}

void MemoryTable::add(const MemRegion &r, UniqueFd fd)
{
	constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
	if (r.size == 0)
		throw ProtocolError("memory region of size 0");
	if (r.guest_addr > kMax - r.size || r.user_addr > kMax - r.size ||
	    r.mmap_offset > kMax - r.size)
		throw ProtocolError("memory region wraps the address space");
	if (r.mmap_offset + r.size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
		throw ProtocolError("memory region offset too large");
	if (regions_.size() >= kMaxMemRegions)
		throw ProtocolError("more than " + std::to_string(kMaxMemRegions) + " memory regions");
	if (std::any_of(regions_.begin(), regions_.end(), [&](const Region &o) {
		    return overlaps(r.guest_addr, r.size, o.desc.guest_addr, o.desc.size) ||
			   overlaps(r.user_addr, r.size, o.desc.user_addr, o.desc.size);
	    }))
		throw ProtocolError("memory region overlaps another");
	// A file shorter than the region would turn the first access past its
	// end into SIGBUS. (The kernel transport's IOVA fd is not a regular
	// file; its holes fault by design.)
	struct stat st{};
	if (::fstat(fd.get(), &st) != 0)
		throw ProtocolError("memory region fd is not open");
	if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) < r.mmap_offset + r.size)
		throw ProtocolError("memory region beyond the end of its file");
	// Two regions of one file range are one memory at two addresses: the
	// ring checks, which compare addresses, would not see a buffer in the
	// alias of a ring.
	if (std::any_of(regions_.begin(), regions_.end(), [&](const Region &o) {
		    return o.dev == st.st_dev && o.ino == st.st_ino &&
			   overlaps(r.mmap_offset, r.size, o.desc.mmap_offset, o.desc.size);
	    }))
		throw ProtocolError("memory region aliases another's file range");
	// Lazy on purpose: see the header. MAP_NORESERVE because the front-end
	// owns the memory.
	auto map = Mapping::map(r.mmap_offset + r.size, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_NORESERVE, fd.get(), 0, "vhost-user memory region");
	regions_.push_back(Region{r, std::move(fd), std::move(map), st.st_dev, st.st_ino});
	generation_ = next_generation();
}

void MemoryTable::remove(const MemRegion &r)
{
	const auto it = std::find_if(regions_.begin(), regions_.end(), [&](const Region &o) {
		return o.desc.guest_addr == r.guest_addr && o.desc.size == r.size;
	});
	if (it == regions_.end())
		throw ProtocolError("REM_MEM_REG for a region that is not mapped");
	regions_.erase(it);
	generation_ = next_generation();
}

std::uint8_t *MemoryTable::guest_to_host(std::uint64_t addr, std::uint64_t len) const
{
	const auto it = std::find_if(regions_.begin(), regions_.end(), [&](const Region &r) {
		return range_inside(addr, len, r.desc.guest_addr, r.desc.size);
	});
	return it == regions_.end() ? nullptr : it->base() + (addr - it->desc.guest_addr);
}

std::uint8_t *MemoryTable::user_to_host(std::uint64_t addr, std::uint64_t len) const
{
	const auto it = std::find_if(regions_.begin(), regions_.end(), [&](const Region &r) {
		return range_inside(addr, len, r.desc.user_addr, r.desc.size);
	});
	return it == regions_.end() ? nullptr : it->base() + (addr - it->desc.user_addr);
}

std::optional<FdRange> MemoryTable::host_to_fd(const std::uint8_t *p, std::uint64_t len) const
{
	// Compared as integers: |p| may point into none of the mappings.
	const auto addr = reinterpret_cast<std::uintptr_t>(p); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
	for (const Region &r : regions_) {
		const auto base = reinterpret_cast<std::uintptr_t>(r.base()); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
		if (range_inside(addr, len, base, r.desc.size))
			return FdRange{r.fd.get(), r.desc.mmap_offset + (addr - base)};
	}
	return std::nullopt;
}

} // namespace vlb::vu
