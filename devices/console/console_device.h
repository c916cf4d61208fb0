// SPDX-License-Identifier: Apache-2.0
// ConsoleDevice: virtio-console with one port. Bytes the driver transmits
// go to the port's sink; bytes from the port's source fill the driver's
// receive buffers. With no receive buffer posted the source is not read at
// all, so a slow guest pushes back instead of losing input. Output is taken
// from the driver into a bounded buffer and written as the sink allows: a
// slow sink holds the transmit queue (the guest's writes wait), never the
// device's loop, so the control queue and input keep moving.
//
// Without a port name the port is the console (the guest's /dev/hvc0).
// With one, the device offers MULTIPORT and announces port 0 as a named
// generic port (the guest's /dev/vportNp0, /dev/virtio-ports/NAME) over the
// control queues: hvc writes spin with interrupts off until the device
// answers, generic port writes sleep.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
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
	ConsoleDevice(vu::EventLoop &loop, const Logger &log, std::string port_name = {})
		: loop_(loop), log_(log), port_name_(std::move(port_name))
	{
	}
	~ConsoleDevice() override { detach(); }
	ConsoleDevice(const ConsoleDevice &) = delete;
	ConsoleDevice &operator=(const ConsoleDevice &) = delete;
	ConsoleDevice(ConsoleDevice &&) = delete;
	ConsoleDevice &operator=(ConsoleDevice &&) = delete;

	[[nodiscard]] std::uint64_t features() const override;
	// Port 0's receive and transmit queues; with a port name, the control
	// queues (driver-bound, device-bound) after them.
	[[nodiscard]] std::uint16_t num_queues() const override { return port_name_.empty() ? 2 : 4; }
	// struct virtio_console_config: max_nr_ports (1) with MULTIPORT.
	[[nodiscard]] std::vector<std::uint8_t> config() const override;
	void set_features(std::uint64_t features) override;
	void process(vu::VirtQueue &q) override;
	void queue_stopped(vu::VirtQueue &q) override;
	void reset() override;

	// Connects the port to |ends| (not owned); |on_eof| runs when the
	// input side reaches end of file.
	void attach(PortEnds ends, std::function<void()> on_eof);
	void detach();

private:
	// Handles one message of the driver; its replies are only queued.
	void control_message(const vu::Chain &chain);
	// Queues a control message for the driver.
	void queue_control(std::uint16_t event, std::uint16_t value, std::span<const std::uint8_t> extra = {});
	// Queues it and hands the driver what its buffers can take.
	void send_control(std::uint16_t event, std::uint16_t value, std::span<const std::uint8_t> extra = {});
	void flush_control();
	// Whether the guest may be handed input: with MULTIPORT, only while it
	// has the port open (the driver discards data for a closed port).
	[[nodiscard]] bool guest_reads() const { return !multiport_ || guest_open_; }
	void read_input();
	void deliver();
	void pump_output();
	[[nodiscard]] bool write_output();
	void update_watch();

	vu::EventLoop &loop_;
	const Logger &log_;
	PortEnds ends_;
	std::function<void()> on_eof_;
	bool watching_ = false;
	std::vector<std::uint8_t> input_;  // read, not yet delivered
	vu::VirtQueue *rxq_ = nullptr;
	vu::VirtQueue *txq_ = nullptr;
	std::vector<std::uint8_t> output_;  // taken from the driver, not yet written
	UniqueFd out_watch_;                // a dup of ends_.out, watched for room

	std::string port_name_;
	bool multiport_ = false;          // negotiated
	bool port_ready_ = false;         // the driver added port 0
	bool guest_open_ = false;         // the guest has port 0 open
	vu::VirtQueue *control_in_ = nullptr;
	std::deque<std::vector<std::uint8_t>> control_out_;  // waiting for driver buffers
	bool control_drops_logged_ = false;  // since the backlog last moved
};

} // namespace vlb::devices
