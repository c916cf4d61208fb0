// SPDX-License-Identifier: Apache-2.0
// The daemon's state: one DeviceUnit per loaded policy, the event loop that
// watches their pidfds, log pipes and timers, signals, and the control
// socket. No handler blocks: a slow control client, a stopping device or a
// flooding child costs the loop a bounded amount of work per event, so the
// watchdog ping and every other device keep their turn.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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
	void retire(std::unique_ptr<DeviceUnit> unit);
	void rewatch(DeviceUnit &unit);
	void on_signal();
	void on_unit_event(DeviceUnit &unit);
	void on_control_accept();
	void on_client_readable(int fd);
	void on_client_writable(int fd);
	void start_reply(int fd, std::string reply);
	void drop_client(int fd);
	void on_client_timer();
	void arm_client_timer();
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
	// Units on their way out (stopping): destroyed once idle. A new unit of
	// the same name starts after its predecessor is gone (deferred_).
	std::vector<std::unique_ptr<DeviceUnit>> retiring_;
	std::set<std::string> deferred_;
	std::map<DeviceUnit *, std::vector<int>> watched_;
	std::vector<std::string> broken_; // "file: error" of policies that did not load
	UniqueFd signal_fd_;
	UniqueFd control_;
	UniqueFd watchdog_timer_;
	// One control connection: the request is read, the reply written, each
	// without blocking, all before |deadline|.
	struct Client {
		UniqueFd fd;
		std::string request;
		std::string reply;
		std::size_t sent = 0;
		std::chrono::steady_clock::time_point deadline;
	};
	std::map<int, Client> clients_;
	UniqueFd client_timer_;
	std::string last_status_; // the STATUS= last sent
	bool stopping_ = false;
	bool retiring_all_ = false; // on_signal is retiring every unit
};

} // namespace vlb::supervisor
