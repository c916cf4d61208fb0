// SPDX-License-Identifier: Apache-2.0
// UserDriver: a virtio driver in user space on top of Frontend. It owns
// the "guest" memory (one memfd region), lays out split rings in it, and
// submits descriptor chains to any vhost-user back-end: this project's
// devices and third-party ones such as qemu-storage-daemon. Host tests,
// fuzz seeds and benchmarks drive devices through it, no kernel needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vlb/mapping.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/frontend.h"
#include "vlb/vu/split_ring.h"

namespace vlb::vu {

// A buffer in driver memory, as an offset into the region.
struct DriverBuffer {
	std::uint64_t offset;
	std::uint32_t len;
};

struct Completion {
	std::uint16_t head;
	std::uint32_t len;
};

class UserDriver {
public:
	struct Options {
		std::uint16_t queues = 1;
		std::uint16_t queue_size = 128;
		std::uint64_t memory_bytes = 64ULL << 20;
		// Virtio feature bits the driver accepts beyond VERSION_1.
		std::uint64_t wanted_features = 0;
		bool inflight = false;  // set up INFLIGHT_SHMFD if offered
		std::chrono::milliseconds timeout = std::chrono::seconds(5);
	};

	// Connects and initialises the device (features, memory, rings).
	UserDriver(UniqueFd sock, const Options &opt);
	// Connects to a unix socket path.
	static UniqueFd connect(const std::string &path);

	// Puts a chain on |queue|; returns its head, or nullopt when the ring
	// has no free descriptors.
	std::optional<std::uint16_t> submit(std::uint16_t queue, std::span<const DriverBuffer> readable,
					    std::span<const DriverBuffer> writable);
	// Waits up to |timeout| for completions on |queue|.
	std::vector<Completion> wait(std::uint16_t queue, std::chrono::milliseconds timeout);
	// Returns completions already in the used ring, without waiting.
	std::vector<Completion> poll(std::uint16_t queue);
	// With kicks held, submit() only publishes chains; kick() then hands
	// them all to the device at once, as one batch.
	void hold_kicks(std::uint16_t queue, bool hold) { queues_.at(queue).hold_kicks = hold; }
	void kick(std::uint16_t queue);
	// How often the device signalled |queue|'s call eventfd since the last
	// wait() or take_calls() (which resets the count).
	std::uint64_t take_calls(std::uint16_t queue);

	// Driver memory: [offset, offset + len) as host bytes.
	[[nodiscard]] std::span<std::uint8_t> memory(std::uint64_t offset, std::uint64_t len) const;
	// Bump allocator over the data area (after the rings); throws when full.
	DriverBuffer alloc(std::uint32_t len, std::uint32_t align = 4096);
	void free_all_buffers() { next_free_ = data_start_; }

	[[nodiscard]] std::uint64_t features() const { return features_; }
	[[nodiscard]] std::uint64_t protocol_features() const { return protocol_features_; }
	[[nodiscard]] Frontend &frontend() { return fe_; }
	[[nodiscard]] std::uint16_t in_flight(std::uint16_t queue) const;

	// Sends the memory table again, as QEMU does when guest memory changes:
	// the back-end must finish with requests in flight, remap and go on.
	void send_memory_table();

	// Re-establishes the session on a new connection (back-end restart):
	// same memory, same rings, the inflight region handed back.
	void reconnect(UniqueFd sock);

private:
	struct Queue {
		std::uint64_t desc_off = 0, avail_off = 0, used_off = 0;
		UniqueFd kick, call;
		std::vector<std::uint16_t> free;  // free descriptor indices
		std::vector<std::vector<std::uint16_t>> chains;  // by head
		std::uint16_t avail_idx = 0;
		std::uint16_t last_used = 0;
		std::uint16_t outstanding = 0;
		bool hold_kicks = false;
	};

	void negotiate();
	void setup_queue(std::uint16_t i);
	[[nodiscard]] std::uint8_t *at(std::uint64_t off) const;

	Options opt_;
	Frontend fe_;
	UniqueFd mem_fd_;
	Mapping mem_;
	std::vector<Queue> queues_;
	std::uint64_t data_start_ = 0;
	std::uint64_t next_free_ = 0;
	std::uint64_t features_ = 0;
	std::uint64_t protocol_features_ = 0;
	Frontend::Inflight inflight_;
};

} // namespace vlb::vu
