// SPDX-License-Identifier: Apache-2.0
// The front-end (driver) side of vhost-user: typed requests to a back-end
// the caller does not trust. Every wait is bounded by the channel timeout,
// every reply is checked against the request's shape, and with REPLY_ACK
// negotiated every request without a reply of its own is acknowledged.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "vlb/unique_fd.h"
#include "vlb/vu/channel.h"

namespace vlb::vu {

class Frontend {
public:
	explicit Frontend(UniqueFd sock,
			  std::chrono::milliseconds timeout = std::chrono::seconds(5));

	std::uint64_t get_features();
	void set_features(std::uint64_t features);
	std::uint64_t get_protocol_features();
	// Also turns on REPLY_ACK use if it is in |features|.
	void set_protocol_features(std::uint64_t features);
	std::uint64_t get_queue_num();
	void set_owner();
	void reset_device();

	void set_mem_table(std::span<const MemRegion> regions, std::span<const int> fds);
	void set_vring_num(std::uint32_t index, std::uint32_t num);
	void set_vring_addr(const VringAddr &addr);
	void set_vring_base(std::uint32_t index, std::uint16_t base);
	std::uint16_t get_vring_base(std::uint32_t index);
	// fd < 0 sends the "no fd" form.
	void set_vring_kick(std::uint32_t index, int fd);
	void set_vring_call(std::uint32_t index, int fd);
	void set_vring_enable(std::uint32_t index, bool enable);

	std::vector<std::uint8_t> get_config(std::uint32_t offset, std::uint32_t size);
	void set_config(std::uint32_t offset, std::span<const std::uint8_t> data);

	struct Inflight {
		UniqueFd fd;
		std::uint64_t mmap_size = 0;
		std::uint64_t mmap_offset = 0;
		std::uint16_t num_queues = 0;
		std::uint16_t queue_size = 0;
	};
	Inflight get_inflight_fd(std::uint16_t num_queues, std::uint16_t queue_size);
	void set_inflight_fd(const Inflight &inflight);
	void set_backend_req_fd(int fd);

	[[nodiscard]] int fd() const { return chan_.fd(); }

private:
	// Sends a request that has a reply of its own and returns the checked reply.
	Message call(Request req, std::span<const std::uint8_t> payload,
		     std::span<const int> fds = {});
	// Sends a request without a reply; waits for the ack under REPLY_ACK.
	void post(Request req, std::span<const std::uint8_t> payload,
		  std::span<const int> fds = {});
	void set_vring_fd(Request req, std::uint32_t index, int fd);

	Channel chan_;
	bool reply_ack_ = false;
};

} // namespace vlb::vu
