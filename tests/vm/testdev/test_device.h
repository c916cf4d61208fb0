// SPDX-License-Identifier: Apache-2.0
// A virtio device served straight over the kernel uapi (no vhost-user):
// the test double of a device process, used to prove the transport with
// the stock drivers, and to misbehave on purpose.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <linux/virtio_loopback.h>

#include "iova_space.h"
#include "late_copier.h"
#include "vlb/unique_fd.h"

namespace vlb::testdev {

enum class DeviceType { rng, blk, console };

// Ways to misbehave, one per run.
enum class Hostile {
	none,
	bad_used_id,     // complete a head that was never published (console:
	                 // the driver's PORT_READY, so its port is up)
	long_len,        // claim more bytes written than the chain holds
	never_complete,  // take requests, never answer them
	empty,           // answer every request with a used length of 0
	no_replies,      // never answer control messages
	late_copy,       // blk: copy into reads of 64 KiB+ while completing them
	short_control,   // console: a PORT_NAME shorter than its 8-byte header
	late_grant,      // SIGUSR2: break the device as soon as a notify is held
	                 // (test_notify_delay_ms), then report whether the
	                 // request it publishes can still be reached
	early_rx,        // console: complete port 0's first receive buffer with
	                 // one byte as soon as the driver adds it, before the
	                 // driver has said PORT_READY (it is still filling)
};

struct Options {
	DeviceType type = DeviceType::rng;
	std::string name = "testdev0";
	std::string control_node = "/dev/virtio-loopback";
	unsigned queues = 1;  // console: always 4
	unsigned queue_size = 256;
	std::uint64_t capacity_mb = 64;  // blk
	std::uint32_t bounce_threshold = 0;
	std::uint32_t max_granted_pages = 0;
	std::uint64_t iova_size = 0;
	std::uint32_t request_timeout_ms = 0;
	Hostile hostile = Hostile::none;
	// Check, from child processes, what the kernel lets this device reach.
	bool probes = false;
	// Before serving, read what every from-device page of the request
	// shows and count the pages holding anything but zeros (printed as
	// 'peek pages=N stale=S' at exit).
	bool peek = false;
	// Set VRING_USED_F_NO_NOTIFY while draining a queue (kick suppression).
	bool suppress_kicks = false;
	// Complete through VLB_DEV_VQ_INTERRUPT instead of the call eventfd.
	bool interrupt_ioctl = false;
	// Complete through VLB_IOVA_CALL on the IOVA fd instead.
	bool call_ioctl = false;
	// With probes: files VLB_IOVA_COPY must refuse (ELOOP) as being on a
	// virtio-loopback device; each is tried once, when it can be opened.
	// VLB_IOVA_COPY refusals to check: a file and the errno it must get
	// (ELOOP: on a virtio-loopback disk; EOPNOTSUPP: served by a process).
	std::vector<std::pair<std::string, int>> copy_refusals;
	bool verbose = false;
};

struct Segment {
	std::uint64_t addr;
	std::uint32_t len;
	bool writable;
};

// virtio 1.2, 5.3.6.2: a console control message.
struct ConsoleControl {
	std::uint32_t id;
	std::uint16_t event;
	std::uint16_t value;
};

struct Queue {
	std::uint32_t index = 0;
	std::uint32_t num = 0;
	std::uint64_t desc = 0, avail = 0, used = 0;
	std::uint16_t last_avail = 0;
	std::uint16_t used_idx = 0;
	bool enabled = false;
	UniqueFd kick, call;
};

class TestDevice {
public:
	explicit TestDevice(Options opts);

	// Serves messages and requests until SIGINT/SIGTERM; returns 0, or 1
	// after a fatal error (printed).
	int run();

	[[nodiscard]] vlb_stats kernel_stats() const;
	[[nodiscard]] const std::string &name() const noexcept { return opts_.name; }

private:
	void create();
	// False once the kernel removed the device (ENODEV).
	bool handle_message();
	void process_queue(Queue &q);
	// Serves what is available; true if anything completed.
	bool drain(Queue &q);
	void notify_driver(Queue &q);
	[[nodiscard]] std::vector<LateCopier::Target> late_copy_targets(const std::vector<Segment> &chain) const;
	[[nodiscard]] std::vector<Segment> walk_chain(const Queue &q, std::uint16_t head) const;
	// The length to complete |head| with, or nothing while the device
	// keeps the buffer (console: buffers for what it has not yet to say).
	[[nodiscard]] std::optional<std::uint32_t> serve(const Queue &q, std::uint16_t head,
							 std::span<const Segment> chain);
	[[nodiscard]] std::uint32_t serve_rng(std::span<const Segment> chain);
	[[nodiscard]] std::uint32_t serve_blk(std::span<const Segment> chain);
	[[nodiscard]] std::optional<std::uint32_t> serve_console(const Queue &q, std::uint16_t head,
								 std::span<const Segment> chain);
	// console: fills held control buffers with queued control messages.
	void send_console_control();
	void complete(Queue &q, std::uint32_t id, std::uint32_t len);
	// blk: doubles the disk and tells the driver (config change).
	void grow();
	// --hostile late-grant: a bad used entry breaks the device; a request
	// published after that must be revoked with the rest.
	void break_then_probe_late_grant();
	[[nodiscard]] bool wait_for_held_notify() const;
	void run_probes(const Queue &q, const std::vector<Segment> &chain);
	bool run_fault_around_probes(const std::vector<Segment> &chain);
	void check_subpage(const Segment &s);
	void peek(const std::vector<Segment> &chain);
	void run_copy_probes(const Queue &q, const std::vector<Segment> &chain);
	void run_copy_refusals(const std::vector<Segment> &chain);

	Options opts_;
	UniqueFd dev_;
	std::unique_ptr<IovaSpace> iova_;
	std::unique_ptr<LateCopier> late_;  // --hostile late-copy
	std::vector<Queue> queues_;
	std::vector<std::byte> disk_;  // blk backing store
	std::deque<std::uint16_t> console_control_heads_;  // driver buffers held for messages
	std::deque<ConsoleControl> console_control_out_;   // messages waiting for a buffer
	bool console_port_ready_ = false;                  // the driver said PORT_READY for port 0
	bool early_rx_sent_ = false;                       // --hostile early-rx: done
	std::uint64_t served_ = 0;
	std::uint64_t peeked_ = 0, stale_ = 0;  // --peek
	bool stalled_ = false;  // SIGUSR2: take requests, answer none from now on
	bool self_broken_ = false;  // --hostile late-grant, after SIGUSR2
	bool first_probes_done_ = false;
	bool after_completion_done_ = false;
	bool around_to_device_done_ = false;
	bool around_from_device_done_ = false;
	std::vector<Segment> completed_chain_;  // a chain the kernel has revoked
	UniqueFd scratch_;  // probes: a memfd that VLB_IOVA_COPY copies to and from
	std::vector<bool> copy_refusals_done_;
};

} // namespace vlb::testdev
