// SPDX-License-Identifier: Apache-2.0
// Bridge: one kernel loopback device in front of one vhost-user back-end,
// in the three stages of the design:
//   1. from the back-end: features, protocol features, queues, config;
//   2. to the kernel: CREATE with exactly that (the driver probes);
//   3. to the back-end, as the kernel reports the driver's progress: the
//      acknowledged features, one memory region (the device's IOVA space,
//      so descriptors carry IOVAs), vring num/addr/base, the kernel's
//      kick and call eventfds, vring enable.
// A device a previous adapter left in the kernel's grace period is taken
// over instead of created: REATTACH, and stage 3 replayed from the kernel's
// record of the driver's features, the rings and the requests in flight.
// Afterwards it only reacts: config writes forwarded, back-end config
// changes turned into config interrupts, queue teardown and resets into
// GET_VRING_BASE / RESET_DEVICE. It never touches the data path.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "kernel_device.h"
#include "vlb/log.h"
#include "vlb/vu/channel.h"
#include "vlb/vu/event_loop.h"
#include "vlb/vu/frontend.h"

namespace vlb::adapter {

struct BridgeOptions {
	std::string type;          // blk, rng, input, console
	std::string name;
	std::string control_node = "/dev/virtio-loopback";
	// An inherited, open control node (the supervisor opens it); used
	// instead of |control_node| when valid.
	int control_fd = -1;
	std::uint32_t max_granted_pages = 0;
	std::uint32_t bounce_threshold = 0;
	std::uint64_t iova_size = 0;
	std::uint16_t queue_size = 256;
	// Where the back-end listens; empty for an inherited fd. With a path,
	// a back-end that goes away is waited for and reconnected.
	std::string backend_path;
	std::chrono::milliseconds reconnect_timeout{30000};
	// Where a replacement back-end connection comes from when there is no
	// path: the supervisor restarts the back-end and passes the new socket
	// (SCM_RIGHTS on --supervisor-fd). Returns an invalid fd at |deadline|.
	std::function<UniqueFd(std::chrono::steady_clock::time_point deadline)> next_backend;
	// Judges the back-end's credentials (SO_PEERCRED) before anything is
	// sent to it, at start and at every reconnect; throws to refuse it.
	// Attestation plugs in here.
	std::function<void(const ucred &)> verify_peer;
};

// Virtio device id and config size of a type name; throws on unknown.
struct DeviceType {
	std::uint32_t id;
	std::uint32_t config_size;
};
DeviceType device_type(const std::string &name);

class Bridge {
public:
	// Runs stages 1 and 2 against |backend| (a connected socket), or the
	// take-over of a device in its grace period.
	Bridge(BridgeOptions opt, UniqueFd backend, vu::EventLoop &loop, const Logger &log);
	~Bridge();
	Bridge(const Bridge &) = delete;
	Bridge &operator=(const Bridge &) = delete;
	Bridge(Bridge &&) = delete;
	Bridge &operator=(Bridge &&) = delete;

	// Non-empty once the bridge cannot go on (back-end gone, protocol error).
	[[nodiscard]] const std::string &failure() const { return failure_; }
	// The kernel device's counters as one log line ("grants 12, ..."), or
	// why they cannot be read; empty before the device exists.
	[[nodiscard]] std::string counters() const;

private:
	struct QueueSetup {
		std::uint32_t num;
		std::uint64_t desc, avail, used;
	};

	// The back-end socket, once its peer passed verify_peer.
	static UniqueFd verified(UniqueFd sock, const BridgeOptions &opt, const Logger &log);
	void on_kernel_message();
	int handle(const vlb_msg &msg);
	void start_queue(const vlb_msg &msg);
	void send_memory();
	void send_queue(std::uint32_t index, const QueueSetup &q, std::uint16_t base = 0);
	void negotiate_protocol();
	[[nodiscard]] std::vector<std::uint8_t> backend_config() const;
	// Pushes backend_config() to the kernel; false (logged) if refused.
	bool push_config(const char *when);
	KernelDevice open_kernel_device(const CreateParams &p);
	void take_over(const CreateParams &p);
	void hand_over_inflight(const std::vector<std::optional<QueueState>> &queues, std::uint16_t size);
	void watch_backend();
	void on_backend_gone();
	[[nodiscard]] UniqueFd next_connection(std::chrono::steady_clock::time_point deadline) const;
	void replay(UniqueFd sock);
	static bool peer_hung_up(int fd);
	void on_backend_request();
	void fail(const std::string &why);

	BridgeOptions opt_;
	vu::EventLoop &loop_;
	const Logger &log_;
	int backend_fd_;  // owned by fe_; watched for hang-up
	std::unique_ptr<vu::Frontend> fe_;
	vu::Channel backend_req_;
	std::unique_ptr<KernelDevice> dev_;
	std::uint64_t backend_features_ = 0;
	std::uint64_t protocol_features_ = 0;
	std::uint32_t config_size_ = 0;
	std::uint16_t queues_ = 1;
	bool memory_sent_ = false;
	bool reattached_ = false;  // took over a previous adapter's device
	// Largest ring the kernel device allows: --queue-size, or on a take-over
	// what the device was created with (a changed policy does not apply).
	std::uint16_t ring_size_ = opt_.queue_size;
	std::optional<std::uint64_t> acked_;          // driver's features, as sent
	std::optional<vu::Frontend::Inflight> inflight_;
	std::vector<std::optional<QueueSetup>> running_;  // by queue
	unsigned reconnects_ = 0;
	std::string failure_;
};

} // namespace vlb::adapter
