// SPDX-License-Identifier: Apache-2.0
// MemoryTable: the front-end's memory regions as mapped by a back-end.
//
// Regions are mmap()ed MAP_SHARED without MAP_POPULATE and never touched
// here: behind the kernel transport the one region is the device's IOVA
// space, where every page outside an in-flight request raises SIGBUS.
// Lookups check the whole range against one region with overflow-safe
// arithmetic; a range that is not inside a region yields nullptr.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "vlb/mapping.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/protocol.h"

namespace vlb::vu {

// Where host memory of a region lives: an offset into the region's fd.
struct FdRange {
	int fd;
	std::uint64_t offset;
};

class MemoryTable {
public:
	// Maps |fd| for |region|; throws ProtocolError on an invalid region
	// (empty, wrapping, overlapping another) and std::system_error if the
	// mapping fails.
	void add(const MemRegion &region, UniqueFd fd);
	// Unmaps the region with the same guest address and size.
	void remove(const MemRegion &region);
	void clear();

	// Host pointer for guest-physical [addr, addr + len), or nullptr.
	[[nodiscard]] std::uint8_t *guest_to_host(std::uint64_t addr, std::uint64_t len) const;
	// Host pointer for front-end virtual [addr, addr + len) (vring
	// addresses are given in the front-end's address space), or nullptr.
	[[nodiscard]] std::uint8_t *user_to_host(std::uint64_t addr, std::uint64_t len) const;

	// The fd and offset behind host [p, p + len) if it lies inside one
	// region: a back-end may hand the range to the kernel by fd instead
	// of by address. The fd stays open until the region goes.
	[[nodiscard]] std::optional<FdRange> host_to_fd(const std::uint8_t *p, std::uint64_t len) const;
	// Changes with every add, remove and clear, and is never the same for
	// two tables of one process: what was learned about the regions' fds
	// holds while it stays the same. (A table that replaces another, as
	// SET_MEM_TABLE or a new connection does, may get the old fds' numbers
	// back for other files.)
	[[nodiscard]] std::uint64_t generation() const { return generation_; }

	[[nodiscard]] std::size_t size() const { return regions_.size(); }
	// The fd of the one region, if there is exactly one (as behind the
	// virtio-loopback transport, whose one region is its IOVA fd).
	[[nodiscard]] std::optional<int> sole_fd() const
	{
		if (regions_.size() != 1)
			return std::nullopt;
		return regions_.front().fd.get();
	}

private:
	struct Region {
		MemRegion desc;
		UniqueFd fd;
		Mapping map;  // covers [0, mmap_offset + size) of the fd
		dev_t dev;    // the file behind the fd, to refuse aliases
		ino_t ino;
		[[nodiscard]] std::uint8_t *base() const
		{
			// The mapping covers [0, mmap_offset + size): see add().
			return static_cast<std::uint8_t *>(map.data()) + desc.mmap_offset; // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
		}
	};
	// The next generation of any table in this process.
	static std::uint64_t next_generation();

	std::vector<Region> regions_;
	std::uint64_t generation_ = next_generation();
};

// True if |fd| is a virtio-loopback IOVA fd that knows ioctl |request|
// (VLB_IOVA_COPY, VLB_IOVA_CALL): the module reads the argument first, so
// NULL answers EFAULT; any other file, QEMU's memfds among them, ENOTTY.
bool iova_fd_knows(int fd, unsigned long request);

// True if [addr, addr + len) lies inside [start, start + size), with no
// overflow anywhere. len == 0 counts as inside when addr is.
constexpr bool range_inside(std::uint64_t addr, std::uint64_t len, std::uint64_t start,
			    std::uint64_t size)
{
	if (addr < start)
		return false;
	const std::uint64_t off = addr - start;
	return off < size && len <= size - off;
}

} // namespace vlb::vu
