// SPDX-License-Identifier: Apache-2.0
// SplitRing: the device side of a virtio split virtqueue in memory the
// driver also writes, so nothing read from it is trusted. Ring indices are
// read once with acquire ordering; each descriptor is copied out before it
// is looked at; chains are bounded (loops), checked for order (readable
// before writable), overflow and region membership, and indirect tables
// are accepted only when negotiated, non-nested and well sized.
//
// Error convention: the data path returns values (ChainError), no
// exceptions; the caller decides whether a bad chain fails one request or
// the whole queue.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <span>
#include <vector>

#include "vlb/vu/memory_table.h"

namespace vlb::vu {

inline constexpr std::uint16_t kDescFNext = 1;
inline constexpr std::uint16_t kDescFWrite = 2;
inline constexpr std::uint16_t kDescFIndirect = 4;
inline constexpr std::uint16_t kAvailFNoInterrupt = 1;
inline constexpr std::uint16_t kUsedFNoNotify = 1;
inline constexpr std::uint32_t kMaxQueueSize = 32768;

// Virtio feature bits the ring code cares about.
inline constexpr unsigned kFRingIndirectDesc = 28;
inline constexpr unsigned kFRingEventIdx = 29;

struct VringDesc {
	std::uint64_t addr;
	std::uint32_t len;
	std::uint16_t flags;
	std::uint16_t next;
};
static_assert(sizeof(VringDesc) == 16);

struct Segment {
	std::uint8_t *data;
	std::uint32_t len;
};

// One request: the buffers the device reads (driver-written) and the
// buffers it writes, in ring order, as host pointers.
struct Chain {
	std::uint16_t head = 0;
	std::vector<Segment> readable;
	std::vector<Segment> writable;
	std::uint64_t readable_bytes = 0;
	std::uint64_t writable_bytes = 0;
	std::uint32_t descriptors = 0;  // walked, empty ones and the indirect one included

	void clear()
	{
		readable.clear();
		writable.clear();
		readable_bytes = writable_bytes = 0;
		descriptors = 0;
	}
};

enum class ChainError {
	kNone,
	kHeadOutOfRange,
	kNextOutOfRange,
	kTooLong,           // more descriptors than the table holds: a loop
	kOutOfRegion,       // buffer not inside one memory region
	kReadableAfterWritable,
	kIndirectNotNegotiated,
	kIndirectBadSize,
	kIndirectNested,
	kIndirectWithNext,
	kTooManyBytes,
	kOverlapsRing,      // buffer or indirect table over the ring's own memory
};
std::string_view chain_error_name(ChainError e);

struct RingAddresses {
	std::uint8_t *desc;
	std::uint8_t *avail;
	std::uint8_t *used;
};

// Bytes each part of a split ring of |size| entries occupies.
std::uint64_t desc_table_bytes(std::uint32_t size);
std::uint64_t avail_ring_bytes(std::uint32_t size);
std::uint64_t used_ring_bytes(std::uint32_t size);
bool valid_queue_size(std::uint32_t size);
// True if two of the ring's parts (descriptor table, avail ring, used ring)
// share a byte. No driver lays a ring out so; a used ring over the avail
// ring would have every completion publish a new request.
bool ring_parts_overlap(const RingAddresses &addrs, std::uint16_t size);

class SplitRing {
public:
	SplitRing(const RingAddresses &addrs, std::uint16_t size, std::uint64_t features);

	// Next available head, or nullopt when the ring is empty. Sets
	// |broken| when the driver moved avail->idx by more than the ring size.
	std::optional<std::uint16_t> pop(bool &broken);
	// Walks the chain at |head| into |out|. A buffer may not overlap the
	// ring itself: the device's writes would change the requests it is
	// reading (and could publish new ones without end).
	ChainError walk(std::uint16_t head, const MemoryTable &mem, Chain &out) const;
	// Puts (id, len) in the used ring and publishes it.
	void push_used(std::uint16_t id, std::uint32_t len);
	// Whether the driver wants an interrupt for what was pushed since the
	// last call (EVENT_IDX or the avail flag).
	bool should_notify();
	// True if the driver has published chains not popped yet.
	[[nodiscard]] bool has_pending() const { return avail_idx() != last_avail_; }
	// Device-side kick suppression while it is draining the ring; after
	// enabling again the caller must poll once more (a kick may have been
	// suppressed in between). Returns true if work arrived meanwhile.
	bool enable_kicks(bool enable);

	[[nodiscard]] std::uint16_t last_avail() const { return last_avail_; }
	void set_last_avail(std::uint16_t v) { last_avail_ = v; }
	[[nodiscard]] std::uint16_t used_idx() const;
	[[nodiscard]] std::uint16_t size() const { return size_; }
	// Re-reads used->idx into the local shadow (after a restart).
	void sync_used_idx();

private:
	[[nodiscard]] std::uint16_t avail_idx() const;
	[[nodiscard]] static VringDesc read_desc(const std::uint8_t *table, std::uint32_t i);
	ChainError add(const MemoryTable &mem, const VringDesc &d, Chain &out) const;
	[[nodiscard]] bool overlaps_ring(const std::uint8_t *p, std::uint64_t len) const;

	RingAddresses a_;
	std::uint16_t size_;
	bool event_idx_;
	bool indirect_;
	std::uint16_t last_avail_ = 0;
	std::uint16_t used_shadow_ = 0;
	std::uint16_t signalled_used_ = 0;
	bool signalled_valid_ = false;
};

// The inflight region of one queue (vhost-user "Inflight I/O tracking",
// split layout), kept by the back-end in memory the front-end preserves
// across a back-end restart.
struct InflightDesc {
	std::uint8_t inflight;
	std::uint8_t padding[5];
	std::uint16_t next;
	std::uint64_t counter;
};
static_assert(sizeof(InflightDesc) == 16);

struct InflightQueueHeader {
	std::uint64_t features;
	std::uint16_t version;
	std::uint16_t desc_num;
	std::uint16_t last_batch_head;
	std::uint16_t used_idx;
	// followed by desc_num InflightDesc
};
static_assert(sizeof(InflightQueueHeader) == 16);

// Bytes per queue in the inflight region, 64-byte aligned.
std::uint64_t inflight_queue_bytes(std::uint16_t queue_size);

// Fills one queue's area (inflight_queue_bytes(size)) so that a back-end
// resumes |heads|, oldest first, on a ring whose used->idx is |used_idx|:
// the front-end's side, for requests the back-end never recorded itself
// (a reattaching adapter rebuilds them from the kernel). Throws
// std::invalid_argument for a short area, a head out of range or twice.
void write_inflight_queue(std::span<std::uint8_t> area, std::uint16_t size, std::uint16_t used_idx,
			  std::span<const std::uint16_t> heads);

// The same, into the file |fd| at |offset| with pwrite, not through a
// mapping: the back-end owns that memfd and can shrink it under a
// mapping, which would kill the front-end with SIGBUS. Throws
// std::system_error if the write fails.
void store_inflight_queue(int fd, std::uint64_t offset, std::uint16_t size, std::uint16_t used_idx,
			  std::span<const std::uint16_t> heads);

class InflightTracker {
public:
	InflightTracker() = default;
	// |region| holds one queue's area of inflight_queue_bytes(size) bytes.
	InflightTracker(std::uint8_t *region, std::uint16_t size);

	[[nodiscard]] bool active() const { return hdr_ != nullptr; }
	// Records |head| as taken from the avail ring.
	void begin(std::uint16_t head);
	// Called around publishing a used entry for |head|.
	void before_used(std::uint16_t head);
	void after_used(std::uint16_t head, std::uint16_t used_idx);
	// After a restart: repairs a half-recorded completion against the
	// ring's used->idx and returns the heads still in flight, oldest
	// first; their count plus used->idx is the next avail index.
	std::vector<std::uint16_t> recover(std::uint16_t ring_used_idx);

private:
	InflightQueueHeader *hdr_ = nullptr;
	InflightDesc *desc_ = nullptr;
	std::uint16_t size_ = 0;
	std::uint64_t counter_ = 0;
};

} // namespace vlb::vu
