// SPDX-License-Identifier: Apache-2.0
// InputDevice: virtio-input. The config space is a select/subsel window
// the driver writes and then reads (name, serial, ids, property and event
// bitmaps, axis info); events flow device-to-driver on the event queue,
// LED/status writes come back on the status queue.
#pragma once

#include <linux/virtio_input.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "vlb/log.h"
#include "vlb/vu/backend.h"

namespace vlb::devices {

// What the driver learns about the device through config space.
struct InputIdentity {
	std::string name = "vlb-input";
	std::string serial;
	virtio_input_devids ids{};
	std::array<std::uint8_t, 128> props{};
	std::map<std::uint8_t, std::array<std::uint8_t, 128>> ev_bits;  // by event type
	std::map<std::uint8_t, virtio_input_absinfo> abs;                // by axis

	void set_event(std::uint16_t type, std::uint16_t code);
};

class InputDevice final : public vu::Device {
public:
	InputDevice(InputIdentity id, const Logger &log) : id_(std::move(id)), log_(log) {}

	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 2; }
	[[nodiscard]] std::vector<std::uint8_t> config() const override;
	bool write_config(std::uint32_t offset, std::span<const std::uint8_t> data) override;
	void process(vu::VirtQueue &q) override;
	void queue_stopped(vu::VirtQueue &q) override;
	void reset() override;

	// Queues an event for the driver and delivers what buffers allow.
	void push(std::uint16_t type, std::uint16_t code, std::int32_t value);
	[[nodiscard]] std::size_t pending() const { return pending_.size(); }

	// Bound on undelivered events; beyond it whole oldest frames are dropped.
	static constexpr std::size_t kMaxPending = 4096;

private:
	void deliver();

	InputIdentity id_;
	const Logger &log_;
	std::uint8_t select_ = 0;
	std::uint8_t subsel_ = 0;
	std::deque<virtio_input_event> pending_;
	vu::VirtQueue *eventq_ = nullptr;
	std::uint64_t dropped_ = 0;
};

} // namespace vlb::devices
