// SPDX-License-Identifier: Apache-2.0
// The back-end (device) side of vhost-user: a Backend serves one front-end
// connection for one Device. It owns the protocol state (features, memory
// table, queues, inflight region) and calls the Device for what differs
// per device type: features, config space and request processing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vlb/log.h"
#include "vlb/mapping.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/channel.h"
#include "vlb/vu/event_loop.h"
#include "vlb/vu/memory_table.h"
#include "vlb/vu/split_ring.h"

namespace vlb::vu {

inline constexpr unsigned kFVersion1 = 32;

// What one queue has seen since the back-end started.
struct QueueCounters {
	std::uint64_t chains = 0;          // requests handed to the device
	std::uint64_t refused_chains = 0;  // malformed chains (each stops the queue)
	std::uint64_t refused_ring_overlap = 0;  // of those: a buffer over the ring
	std::uint64_t yields = 0;          // passes cut short by the per-turn budget
};

// One virtqueue as the device sees it.
class VirtQueue {
public:
	explicit VirtQueue(std::uint16_t index) : index_(index) {}

	// Next request, walked and checked. False when there is none, when
	// the queue is broken (a bad chain breaks the queue until reset: the
	// driver's ring is corrupt and nothing after it can be trusted), or
	// when this turn of the event loop has taken one ring's worth of
	// chains from the queue already: then the queue signals its own kick
	// and the rest waits behind the loop's other fds. So no driver, not
	// even one that refills the ring as fast as it drains, holds the loop.
	bool pop(Chain &out);
	// Completes request |head| with |written| bytes and records it in the
	// inflight region. Call notify() after a batch.
	void complete(std::uint16_t head, std::uint32_t written);
	// Signals the call eventfd if the driver wants an interrupt. Behind
	// the virtio-loopback transport (the memory region is its IOVA fd)
	// it asks the kernel to process the completions right away, in this
	// thread (VLB_IOVA_CALL), instead of in a work item the eventfd
	// queues; elsewhere, or if the kernel does not know the eventfd, it
	// writes the eventfd.
	void notify();

	[[nodiscard]] std::uint16_t index() const { return index_; }
	[[nodiscard]] bool running() const { return ring_.has_value() && enabled_ && !broken_; }
	[[nodiscard]] bool broken() const { return broken_; }
	[[nodiscard]] std::uint16_t size() const { return static_cast<std::uint16_t>(num_); }
	// The memory table the ring's buffers live in (null until it runs).
	[[nodiscard]] const MemoryTable *memory() const { return mem_; }
	[[nodiscard]] const QueueCounters &counters() const { return counters_; }

private:
	friend class Backend;

	void stop();
	void reset();
	// Takes one chain from this turn's allowance; false (after asking to
	// be kicked again if work remains) when it is spent.
	bool take_budget();
	// True if the kernel took the call (VLB_IOVA_CALL).
	bool call_through_kernel();

	std::uint16_t index_;
	std::uint16_t base_ = 0;
	std::uint32_t num_ = 0;
	std::optional<VringAddr> addr_;
	UniqueFd kick_;
	UniqueFd call_;
	UniqueFd err_;
	std::optional<SplitRing> ring_;
	InflightTracker inflight_;
	std::vector<std::uint16_t> resubmit_;
	std::size_t resubmit_next_ = 0;
	const MemoryTable *mem_ = nullptr;
	const Logger *log_ = nullptr;
	const EventLoop *loop_ = nullptr;
	QueueCounters counters_;
	// This turn's allowance (take_budget). Indirect tables make a chain
	// of up to 32768 descriptors: the allowance counts them too.
	static constexpr std::uint32_t kDescriptorsPerTurn = 65536;
	std::uint64_t budget_turn_ = UINT64_MAX;
	std::uint32_t budget_ = 0;
	std::uint32_t desc_budget_ = 0;
	// VLB_IOVA_CALL: allowed at all, and what the probe of the memory
	// table of |call_generation_| found (-1: write the eventfd).
	std::uint64_t call_generation_ = UINT64_MAX;
	int kernel_call_fd_ = -1;
	bool kernel_calls_ = true;
	bool enabled_ = false;
	bool broken_ = false;
	bool pending_notify_ = false;
	bool yielded_ = false;
};

class Device {
public:
	virtual ~Device() = default;
	Device() = default;
	Device(const Device &) = delete;
	Device &operator=(const Device &) = delete;
	Device(Device &&) = delete;
	Device &operator=(Device &&) = delete;

	// Device-specific virtio feature bits offered (VERSION_1, the ring
	// features and PROTOCOL_FEATURES are added by the Backend).
	[[nodiscard]] virtual std::uint64_t features() const = 0;
	[[nodiscard]] virtual std::uint16_t num_queues() const = 0;
	[[nodiscard]] virtual std::uint16_t max_queue_size() const { return 1024; }
	// The config space as the driver reads it.
	[[nodiscard]] virtual std::vector<std::uint8_t> config() const { return {}; }
	// A driver write to config space; false refuses it.
	virtual bool write_config(std::uint32_t /*offset*/, std::span<const std::uint8_t> /*data*/)
	{
		return false;
	}
	// Features acknowledged by the driver.
	virtual void set_features(std::uint64_t /*features*/) {}
	// The queue was kicked (or started with work pending).
	virtual void process(VirtQueue &q) = 0;
	// A queue stops (GET_VRING_BASE, reset, disconnect): finish or drop
	// what the device holds for it; completions after this are ignored.
	virtual void queue_stopped(VirtQueue & /*q*/) {}
	virtual void reset() {}
};

class Backend {
public:
	// Serves |conn| for |dev|; handlers go on |loop|.
	Backend(Device &dev, UniqueFd conn, EventLoop &loop, const Logger &log);
	~Backend();
	Backend(const Backend &) = delete;
	Backend &operator=(const Backend &) = delete;
	Backend(Backend &&) = delete;
	Backend &operator=(Backend &&) = delete;

	// True once the connection is gone (EOF or protocol error).
	[[nodiscard]] bool closed() const { return !chan_.valid(); }
	// Why the connection was closed ("" for a clean EOF).
	[[nodiscard]] const std::string &close_reason() const { return close_reason_; }

	// Whether queues may signal through the kernel (VLB_IOVA_CALL, see
	// VirtQueue::notify); on by default, off signals by eventfd only.
	void set_kernel_calls(bool on);

	// Asks the front-end to re-read config space (BACKEND_REQ).
	void notify_config_change();

	// Processes one control message; exposed for the fuzzer, which feeds
	// messages without a socket. Throws ProtocolError on a bad message.
	void handle(Message &msg);

	[[nodiscard]] std::uint64_t offered_features() const;
	[[nodiscard]] static std::uint64_t offered_protocol_features();
	[[nodiscard]] std::uint64_t acked_features() const { return features_; }
	[[nodiscard]] VirtQueue &queue(std::size_t i) { return queues_.at(i); }

private:
	void on_readable();
	void close(const std::string &reason);
	void reply(const Message &msg, std::span<const std::uint8_t> payload,
		   std::span<const int> fds = {});
	void reply_u64(const Message &msg, std::uint64_t v);
	VirtQueue &queue_for(std::uint64_t index);
	void handle_memory(Message &msg);
	bool handle_vring(Message &msg);
	void set_mem_table(Message &msg);
	void set_vring_fd(Message &msg);
	// |resume_at|: the ring keeps running at that avail index (a new
	// memory table); otherwise it starts at its base.
	void start_queue(VirtQueue &q, std::optional<std::uint16_t> resume_at = std::nullopt);
	void stop_queue(VirtQueue &q);
	void kick(VirtQueue &q);
	void refuse_while_rings_up(const char *request) const;
	void get_inflight_fd(Message &msg);
	void set_inflight_fd(Message &msg);
	void attach_inflight(VirtQueue &q);
	void reset_device();
	[[nodiscard]] bool negotiated(unsigned protocol_feature) const;

	Device &dev_;
	EventLoop &loop_;
	const Logger &log_;
	Channel chan_;
	Channel backend_req_;
	std::string close_reason_;
	MemoryTable mem_;
	std::vector<VirtQueue> queues_;
	std::uint64_t features_ = 0;
	std::uint64_t protocol_features_ = 0;
	bool features_set_ = false;
	std::uint8_t status_ = 0;
	Mapping inflight_map_;
	std::uint16_t inflight_queue_size_ = 0;
	std::uint16_t inflight_num_queues_ = 0;
};

} // namespace vlb::vu
