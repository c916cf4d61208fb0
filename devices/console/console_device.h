// SPDX-License-Identifier: Apache-2.0
// ConsoleDevice: virtio-console with one port (no MULTIPORT). Bytes the
// driver transmits go to the port's sink; bytes from the port's source fill
// the driver's receive buffers. With no receive buffer posted the source is
// not read at all, so a slow guest pushes back instead of losing input.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "vlb/log.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/backend.h"
#include "vlb/vu/event_loop.h"

namespace vlb::devices {

// The host end of the port: where guest output goes, where input comes from.
struct PortEnds {
	int in = -1;   // read: input for the guest
	int out = -1;  // write: the guest's output
};

class ConsoleDevice final : public vu::Device {
public:
	ConsoleDevice(vu::EventLoop &loop, const Logger &log) : loop_(loop), log_(log) {}
	~ConsoleDevice() override { detach(); }
	ConsoleDevice(const ConsoleDevice &) = delete;
	ConsoleDevice &operator=(const ConsoleDevice &) = delete;
	ConsoleDevice(ConsoleDevice &&) = delete;
	ConsoleDevice &operator=(ConsoleDevice &&) = delete;

	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 2; }
	// struct virtio_console_config; its fields mean something only with
	// SIZE/MULTIPORT, which this device does not offer, so it is zeros.
	[[nodiscard]] std::vector<std::uint8_t> config() const override
	{
		std::vector<std::uint8_t> zeros(12);
		return zeros;
	}
	void process(vu::VirtQueue &q) override;
	void queue_stopped(vu::VirtQueue &q) override;
	void reset() override;

	// Connects the port to |ends| (not owned); |on_eof| runs when the
	// input side reaches end of file.
	void attach(PortEnds ends, std::function<void()> on_eof);
	void detach();

private:
	void read_input();
	void deliver();
	void write_output(const vu::Chain &chain);
	void update_watch();

	vu::EventLoop &loop_;
	const Logger &log_;
	PortEnds ends_;
	std::function<void()> on_eof_;
	bool watching_ = false;
	std::vector<std::uint8_t> input_;  // read, not yet delivered
	vu::VirtQueue *rxq_ = nullptr;
};

} // namespace vlb::devices
