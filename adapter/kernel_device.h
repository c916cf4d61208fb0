// SPDX-License-Identifier: Apache-2.0
// KernelDevice: one virtio-loopback device as the adapter sees it through
// the uapi: CREATE (or REATTACH), the control channel (messages in,
// replies out), the per-queue kick/call eventfds the kernel uses, the IOVA
// fd the back-end maps, and config updates. Errors throw std::system_error
// naming the ioctl.
#pragma once

#include <linux/virtio_loopback.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vlb/unique_fd.h"

namespace vlb::adapter {

struct CreateParams {
	std::uint32_t device_id = 0;
	std::uint64_t features = 0;
	std::uint16_t num_queues = 1;
	std::uint16_t queue_size_max = 256;
	std::vector<std::uint8_t> config;
	std::uint32_t max_granted_pages = 0;
	std::uint32_t bounce_threshold = 0;
	std::uint64_t iova_size = 0;
	std::string name;
};

// One queue as the kernel left it when the previous adapter went
// (VLB_DEV_GET_VQ_STATE), for a new back-end to resume.
struct QueueState {
	std::uint32_t num = 0;
	std::uint64_t desc = 0, avail = 0, used = 0;
	std::uint16_t last_avail = 0;  // requests published to the device
	std::uint16_t used_idx = 0;    // completions the kernel consumed
	std::vector<std::uint16_t> inflight;  // heads, oldest first
};

class KernelDevice {
public:
	// Creates the device; the kernel registers it and the driver probes.
	static KernelDevice create(int control_fd, const CreateParams &p);
	// Binds to |name|, left by a previous adapter and still in its grace
	// period, with fresh kick and call eventfds.
	static KernelDevice reattach(int control_fd, const std::string &name);

	[[nodiscard]] int fd() const { return dev_.get(); }
	[[nodiscard]] std::uint64_t iova_size() const { return iova_size_; }
	[[nodiscard]] std::uint64_t offered_features() const { return offered_; }
	// A new fd on the device's IOVA space (for the back-end's memory table).
	[[nodiscard]] UniqueFd iova_fd() const;
	[[nodiscard]] int kick(std::uint16_t q) const { return kicks_.at(q).get(); }
	[[nodiscard]] int call(std::uint16_t q) const { return calls_.at(q).get(); }

	// What the kernel remembers: the driver's status and features, and
	// the device as created (VLB_DEV_GET_STATE).
	[[nodiscard]] vlb_dev_state state() const;
	// The device's counters since it was created (VLB_DEV_GET_STATS).
	[[nodiscard]] vlb_stats stats() const;
	// Queue |q|'s rings and requests in flight; nullopt if the driver has
	// not set it up. Meaningful only while no back-end serves it.
	[[nodiscard]] std::optional<QueueState> queue_state(std::uint16_t q) const;

	// The next control message, or nullopt if none is pending.
	[[nodiscard]] std::optional<vlb_msg> read_message() const;
	void reply(const vlb_msg &msg, int result) const;
	// 0, or the errno of a config the kernel refused (EINVAL: a value the
	// driver could not take, or a field it reads only once; EBUSY: an
	// answer given already; EAGAIN: too many changes). The driver then
	// keeps the config it has.
	[[nodiscard]] int update_config(std::uint32_t offset, std::span<const std::uint8_t> bytes) const;

private:
	KernelDevice() = default;
	void attach_eventfds(std::uint32_t num_queues);

	UniqueFd dev_;
	std::uint64_t iova_size_ = 0;
	std::uint64_t offered_ = 0;
	std::vector<UniqueFd> kicks_;
	std::vector<UniqueFd> calls_;
};

} // namespace vlb::adapter
