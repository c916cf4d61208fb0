// SPDX-License-Identifier: Apache-2.0
// The daemon's state: one DeviceUnit per loaded policy, the event loop that
// watches their pidfds and timers, signals, and the control socket.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "device_unit.h"
#include "events.h"
#include "identities.h"
#include "vlb/log.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/event_loop.h"

namespace vlb::supervisor {

struct Options {
	std::string policy_dir = "/etc/virtio-loopback/policies";
	std::string control_socket = "/run/virtio-loopback/control.sock";
	gid_t control_group = 0; // members may use the control socket too
	IdRange ids;             // each device's own uid and gid come from here
	Paths paths;
};

class Supervisor {
public:
	Supervisor(Options options, const Logger &log);
	~Supervisor();
	Supervisor(const Supervisor &) = delete;
	Supervisor &operator=(const Supervisor &) = delete;
	Supervisor(Supervisor &&) = delete;
	Supervisor &operator=(Supervisor &&) = delete;

	// Loads the policies, starts their devices, serves until SIGTERM/SIGINT,
	// then stops every device. Returns the exit status.
	int run();

private:
	void reload();
	void retire(DeviceUnit &unit);
	void rewatch(DeviceUnit &unit);
	void on_signal();
	void on_control_client();
	std::string handle_command(const std::string &line);
	void notify_status();
	[[nodiscard]] std::string status_table() const;
	[[nodiscard]] std::string status_json() const;

	Options options_;
	const Logger *log_;
	Events events_;
	Identities identities_;
	vu::EventLoop loop_;
	std::map<std::string, std::unique_ptr<DeviceUnit>> units_;
	std::map<DeviceUnit *, std::vector<int>> watched_;
	std::vector<std::string> broken_; // "file: error" of policies that did not load
	UniqueFd signal_fd_;
	UniqueFd control_;
	UniqueFd watchdog_timer_;
	bool stopping_ = false;
};

} // namespace vlb::supervisor
