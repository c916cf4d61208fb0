// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/split_ring.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace vlb::vu {
namespace {

// Ring field offsets (virtio 1.x, split layout).
constexpr std::size_t kAvailIdx = 2;
constexpr std::size_t kAvailRing = 4;
constexpr std::size_t kUsedIdx = 2;
constexpr std::size_t kUsedRing = 4;
constexpr std::size_t kUsedElem = 8;

std::uint16_t *u16_at(std::uint8_t *base, std::size_t off)
{
	return reinterpret_cast<std::uint16_t *>(base + off);
}

std::uint16_t load16(std::uint8_t *base, std::size_t off, int order = __ATOMIC_RELAXED)
{
	return __atomic_load_n(u16_at(base, off), order);
}

void store16(std::uint8_t *base, std::size_t off, std::uint16_t v, int order = __ATOMIC_RELAXED)
{
	__atomic_store_n(u16_at(base, off), v, order);
}

// Host ranges are compared as integers: they may lie in different mappings.
bool ranges_overlap(const std::uint8_t *a, std::uint64_t alen, const std::uint8_t *b,
		    std::uint64_t blen)
{
	const auto x = reinterpret_cast<std::uintptr_t>(a); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
	const auto y = reinterpret_cast<std::uintptr_t>(b); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
	return x < y + blen && y < x + alen;
}

} // namespace

std::string_view chain_error_name(ChainError e)
{
	switch (e) {
	case ChainError::kNone: return "ok";
	case ChainError::kHeadOutOfRange: return "head index out of range";
	case ChainError::kNextOutOfRange: return "next index out of range";
	case ChainError::kTooLong: return "chain longer than its table (loop)";
	case ChainError::kOutOfRegion: return "buffer outside guest memory";
	case ChainError::kReadableAfterWritable: return "readable descriptor after a writable one";
	case ChainError::kIndirectNotNegotiated: return "indirect descriptor not negotiated";
	case ChainError::kIndirectBadSize: return "indirect table size invalid";
	case ChainError::kIndirectNested: return "indirect descriptor inside a chain or table";
	case ChainError::kIndirectWithNext: return "indirect descriptor with NEXT set";
	case ChainError::kTooManyBytes: return "chain carries more than 4 GiB";
	case ChainError::kOverlapsRing: return "buffer overlaps the ring itself";
	}
	return "unknown";
}

std::uint64_t desc_table_bytes(std::uint32_t size) { return std::uint64_t{16} * size; }
std::uint64_t avail_ring_bytes(std::uint32_t size) { return 6 + std::uint64_t{2} * size; }
std::uint64_t used_ring_bytes(std::uint32_t size) { return 6 + std::uint64_t{kUsedElem} * size; }

bool valid_queue_size(std::uint32_t size)
{
	return size != 0 && size <= kMaxQueueSize && (size & (size - 1)) == 0;
}

bool ring_parts_overlap(const RingAddresses &a, std::uint16_t size)
{
	const std::uint64_t desc = desc_table_bytes(size);
	const std::uint64_t avail = avail_ring_bytes(size);
	const std::uint64_t used = used_ring_bytes(size);
	return ranges_overlap(a.desc, desc, a.avail, avail) ||
	       ranges_overlap(a.desc, desc, a.used, used) ||
	       ranges_overlap(a.avail, avail, a.used, used);
}

SplitRing::SplitRing(const RingAddresses &addrs, std::uint16_t size, std::uint64_t features)
	: a_(addrs), size_(size), event_idx_((features & (std::uint64_t{1} << kFRingEventIdx)) != 0),
	  indirect_((features & (std::uint64_t{1} << kFRingIndirectDesc)) != 0)
{
}

std::uint16_t SplitRing::avail_idx() const
{
	// Acquire: the ring entries and descriptors the driver wrote before
	// publishing idx are visible once we see it.
	return load16(a_.avail, kAvailIdx, __ATOMIC_ACQUIRE);
}

std::uint16_t SplitRing::used_idx() const { return used_shadow_; }

void SplitRing::sync_used_idx()
{
	used_shadow_ = load16(a_.used, kUsedIdx, __ATOMIC_ACQUIRE);
	signalled_valid_ = false;
}

std::optional<std::uint16_t> SplitRing::pop(bool &broken)
{
	const std::uint16_t idx = avail_idx();
	const auto pending = static_cast<std::uint16_t>(idx - last_avail_);
	if (pending > size_) {
		broken = true;
		return std::nullopt;
	}
	if (pending == 0)
		return std::nullopt;
	const std::uint16_t head =
		load16(a_.avail, kAvailRing + 2 * std::size_t{static_cast<std::uint16_t>(last_avail_ % size_)});
	last_avail_++;
	if (event_idx_)
		store16(a_.used, kUsedRing + kUsedElem * size_, last_avail_);
	return head;
}

VringDesc SplitRing::read_desc(const std::uint8_t *table, std::uint32_t i)
{
	// One copy: later checks look at this snapshot, never at shared memory.
	VringDesc d{};
	std::memcpy(&d, table + std::size_t{16} * i, sizeof(d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return d;
}

bool SplitRing::overlaps_ring(const std::uint8_t *p, std::uint64_t len) const
{
	return ranges_overlap(p, len, a_.desc, desc_table_bytes(size_)) ||
	       ranges_overlap(p, len, a_.avail, avail_ring_bytes(size_)) ||
	       ranges_overlap(p, len, a_.used, used_ring_bytes(size_));
}

ChainError SplitRing::add(const MemoryTable &mem, const VringDesc &d, Chain &out) const
{
	constexpr std::uint64_t kMaxBytes = std::numeric_limits<std::uint32_t>::max();

	if (d.len == 0)
		return ChainError::kNone;
	std::uint8_t *p = mem.guest_to_host(d.addr, d.len);
	if (p == nullptr)
		return ChainError::kOutOfRegion;
	if (overlaps_ring(p, d.len))
		return ChainError::kOverlapsRing;
	if (d.flags & kDescFWrite) {
		out.writable.push_back({p, d.len});
		out.writable_bytes += d.len;
	} else {
		if (!out.writable.empty())
			return ChainError::kReadableAfterWritable;
		out.readable.push_back({p, d.len});
		out.readable_bytes += d.len;
	}
	if (out.readable_bytes + out.writable_bytes > kMaxBytes)
		return ChainError::kTooManyBytes;
	return ChainError::kNone;
}

ChainError SplitRing::walk(std::uint16_t head, const MemoryTable &mem, Chain &out) const
{
	out.clear();
	out.head = head;
	if (head >= size_)
		return ChainError::kHeadOutOfRange;

	const std::uint8_t *table = a_.desc;
	std::uint32_t table_size = size_;
	std::uint32_t i = head;
	std::uint32_t count = 0;
	bool in_indirect = false;
	for (;;) {
		const VringDesc d = read_desc(table, i);
		out.descriptors++;
		if (d.flags & kDescFIndirect) {
			if (!indirect_)
				return ChainError::kIndirectNotNegotiated;
			if (in_indirect || count != 0)
				return ChainError::kIndirectNested;
			if (d.flags & kDescFNext)
				return ChainError::kIndirectWithNext;
			if (d.len == 0 || d.len % sizeof(VringDesc) != 0 ||
			    d.len / sizeof(VringDesc) > kMaxQueueSize)
				return ChainError::kIndirectBadSize;
			table = mem.guest_to_host(d.addr, d.len);
			if (table == nullptr)
				return ChainError::kOutOfRegion;
			if (overlaps_ring(table, d.len))
				return ChainError::kOverlapsRing;
			table_size = d.len / static_cast<std::uint32_t>(sizeof(VringDesc));
			i = 0;
			in_indirect = true;
			continue;
		}
		// Every descriptor of a table at most once, else it is a loop.
		if (++count > table_size)
			return ChainError::kTooLong;
		if (const auto err = add(mem, d, out); err != ChainError::kNone)
			return err;
		if (!(d.flags & kDescFNext))
			return ChainError::kNone;
		if (d.next >= table_size)
			return ChainError::kNextOutOfRange;
		i = d.next;
	}
}

void SplitRing::push_used(std::uint16_t id, std::uint32_t len)
{
	const std::size_t off =
		kUsedRing + kUsedElem * std::size_t{static_cast<std::uint16_t>(used_shadow_ % size_)};
	__atomic_store_n(reinterpret_cast<std::uint32_t *>(a_.used + off), id, __ATOMIC_RELAXED);
	__atomic_store_n(reinterpret_cast<std::uint32_t *>(a_.used + off + 4), len,
			 __ATOMIC_RELAXED);
	used_shadow_++;
	// Release: the element (and the data written into the buffers) is
	// visible before the index that publishes it.
	store16(a_.used, kUsedIdx, used_shadow_, __ATOMIC_RELEASE);
}

bool SplitRing::should_notify()
{
	// The used index store must be ordered before reading the driver's
	// suppression state, or both sides can miss each other.
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!event_idx_)
		return (load16(a_.avail, 0) & kAvailFNoInterrupt) == 0;
	const std::uint16_t old = signalled_used_;
	const bool valid = signalled_valid_;
	signalled_used_ = used_shadow_;
	signalled_valid_ = true;
	if (!valid)
		return true;
	const std::uint16_t event = load16(a_.avail, kAvailRing + 2 * std::size_t{size_});
	return static_cast<std::uint16_t>(used_shadow_ - event - 1) <
	       static_cast<std::uint16_t>(used_shadow_ - old);
}

bool SplitRing::enable_kicks(bool enable)
{
	if (event_idx_) {
		if (enable)
			store16(a_.used, kUsedRing + kUsedElem * size_, last_avail_);
	} else {
		store16(a_.used, 0, enable ? 0 : kUsedFNoNotify);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx() != last_avail_;
}

std::uint64_t inflight_queue_bytes(std::uint16_t queue_size)
{
	const std::uint64_t raw = sizeof(InflightQueueHeader) + sizeof(InflightDesc) * queue_size;
	return (raw + 63) & ~std::uint64_t{63};
}

void write_inflight_queue(std::span<std::uint8_t> area, std::uint16_t size, std::uint16_t used_idx,
			  std::span<const std::uint16_t> heads)
{
	if (area.size() < inflight_queue_bytes(size))
		throw std::invalid_argument("inflight area too small for the queue");
	std::memset(area.data(), 0, inflight_queue_bytes(size));
	auto *hdr = reinterpret_cast<InflightQueueHeader *>(area.data());
	auto *desc = reinterpret_cast<InflightDesc *>(area.data() + sizeof(InflightQueueHeader));
	hdr->version = 1;
	hdr->desc_num = size;
	hdr->used_idx = used_idx;
	hdr->last_batch_head = 0;
	std::uint64_t counter = 0;
	for (const std::uint16_t h : heads) {
		if (h >= size || desc[h].inflight)
			throw std::invalid_argument("inflight head " + std::to_string(h) + " out of range or repeated");
		desc[h].inflight = 1;
		desc[h].counter = ++counter;
	}
}

void store_inflight_queue(int fd, std::uint64_t offset, std::uint16_t size, std::uint16_t used_idx,
			  std::span<const std::uint16_t> heads)
{
	std::vector<std::uint8_t> area(inflight_queue_bytes(size));
	write_inflight_queue(area, size, used_idx, heads);
	std::size_t done = 0;
	while (done < area.size()) {
		const ssize_t n = ::pwrite(fd, area.data() + done, area.size() - done,
					   static_cast<off_t>(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			throw std::system_error(n < 0 ? errno : EIO, std::generic_category(),
						"write the back-end's inflight region");
		done += static_cast<std::size_t>(n);
	}
}

InflightTracker::InflightTracker(std::uint8_t *region, std::uint16_t size)
	: hdr_(reinterpret_cast<InflightQueueHeader *>(region)),
	  desc_(reinterpret_cast<InflightDesc *>(region + sizeof(InflightQueueHeader))), size_(size)
{
	if (hdr_->version != 1 || hdr_->desc_num != size) {
		// Fresh (zeroed) or from a different queue geometry: start clean.
		std::memset(region, 0, inflight_queue_bytes(size));
		hdr_->version = 1;
		hdr_->desc_num = size;
	}
	for (std::uint16_t i = 0; i < size_; i++)
		counter_ = std::max(counter_, desc_[i].counter);
}

void InflightTracker::begin(std::uint16_t head)
{
	if (!hdr_ || head >= size_)
		return;
	desc_[head].counter = ++counter_;
	__atomic_store_n(&desc_[head].inflight, 1, __ATOMIC_RELEASE);
}

void InflightTracker::before_used(std::uint16_t head)
{
	if (!hdr_)
		return;
	__atomic_store_n(&hdr_->last_batch_head, head, __ATOMIC_RELEASE);
}

void InflightTracker::after_used(std::uint16_t head, std::uint16_t used_idx)
{
	if (!hdr_ || head >= size_)
		return;
	__atomic_store_n(&desc_[head].inflight, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&hdr_->used_idx, used_idx, __ATOMIC_RELEASE);
}

std::vector<std::uint16_t> InflightTracker::recover(std::uint16_t ring_used_idx)
{
	std::vector<std::uint16_t> heads;
	if (!hdr_)
		return heads;
	// Crashed between publishing a used entry and recording it: that
	// request is complete, whatever its inflight byte says.
	if (hdr_->used_idx != ring_used_idx) {
		if (hdr_->last_batch_head < size_)
			desc_[hdr_->last_batch_head].inflight = 0;
		hdr_->used_idx = ring_used_idx;
	}
	for (std::uint16_t i = 0; i < size_; i++)
		if (desc_[i].inflight == 1)
			heads.push_back(i);
		else
			desc_[i].inflight = 0;
	std::sort(heads.begin(), heads.end(),
		  [this](std::uint16_t a, std::uint16_t b) { return desc_[a].counter < desc_[b].counter; });
	return heads;
}

} // namespace vlb::vu
