// SPDX-License-Identifier: Apache-2.0
// One policy at run time: its back-end and adapter processes, the fds the
// supervisor opened for them, and their restarts.
//
// Start: open the handed files and the control node, create the
// socketpairs, spawn the back-end, then the adapter, each sandboxed.
// Back-end exit: restart it after the backoff with a new socketpair and pass
// the adapter its end (the adapter resumes from the inflight region, so no
// request is lost). Adapter exit: the kernel device went with it; stop the
// back-end and start the pair again after the backoff.
//
// Nothing here blocks the supervisor's loop: a stop sends SIGTERM and arms
// the deadline timer for the SIGKILL; the pidfds report the exits. The
// unit's deadline timer also ends the short wait of a back-end's clean exit
// for its adapter's (see on_backend_exit).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "child_log.h"
#include "events.h"
#include "restart_tracker.h"
#include "vlb/policy/policy.h"
#include "vlb/sandbox/sandbox.h"
#include "vlb/unique_fd.h"

namespace vlb::supervisor {

struct Paths {
	std::string libexec_dir = "/usr/libexec/virtio-loopback";
	std::string control_node = "/dev/virtio-loopback";
	std::string runtime_dir = "/run/virtio-loopback";
};

struct RunningProcess {
	pid_t pid = -1;
	UniqueFd pidfd;
	std::chrono::steady_clock::time_point started;
	sandbox::Report report;
	std::unique_ptr<ChildLog> log; // its stdout and stderr
	// Set once it was sent SIGTERM: its exit is expected, and SIGKILL
	// follows at this time.
	std::optional<std::chrono::steady_clock::time_point> kill_at;
	bool killed = false;
};

class DeviceUnit {
public:
	enum class State { kRunning, kBackoff, kDown, kStopping, kStopped };

	DeviceUnit(policy::Policy policy, const Paths &paths, const Events &events);
	~DeviceUnit() noexcept;
	DeviceUnit(const DeviceUnit &) = delete;
	DeviceUnit &operator=(const DeviceUnit &) = delete;
	DeviceUnit(DeviceUnit &&) = delete;
	DeviceUnit &operator=(DeviceUnit &&) = delete;

	// Starts both processes; on failure the unit is down and the reason logged.
	void start();
	// SIGTERM to the adapter (it removes the kernel device), then, once it
	// is gone, to the back-end; SIGKILL to each after |grace|. Returns at
	// once: the state is kStopping until both exits are reaped, kStopped
	// then.
	void stop(std::chrono::milliseconds grace);
	// Operator's restart: both processes, without counting against the
	// restart budget; the new pair starts once the old one is gone.
	void restart();
	// No process left (a stopped unit may be destroyed).
	[[nodiscard]] bool idle() const { return !backend_ && !adapter_; }

	// The event loop calls these when a pidfd, a log pipe or a timer fires.
	void on_backend_exit();
	void on_adapter_exit();
	void on_timer();
	void on_deadline();
	void on_backend_log();
	void on_adapter_log();

	[[nodiscard]] int backend_pidfd() const { return backend_ ? backend_->pidfd.get() : -1; }
	[[nodiscard]] int adapter_pidfd() const { return adapter_ ? adapter_->pidfd.get() : -1; }
	[[nodiscard]] int timer_fd() const { return timer_.get(); }
	[[nodiscard]] int deadline_fd() const { return deadline_timer_.get(); }
	[[nodiscard]] int backend_log_fd() const { return backend_ && backend_->log ? backend_->log->read_fd() : -1; }
	[[nodiscard]] int adapter_log_fd() const { return adapter_ && adapter_->log ? adapter_->log->read_fd() : -1; }
	[[nodiscard]] const policy::Policy &policy() const { return policy_; }
	[[nodiscard]] State state() const { return state_; }
	[[nodiscard]] std::string status_json() const;
	[[nodiscard]] std::string status_line() const;

	// Set by the supervisor: called whenever a pidfd appears or goes, so the
	// loop can watch the new one.
	std::function<void()> on_fds_changed;

private:
	void spawn_backend();
	void spawn_adapter();
	void schedule(std::chrono::milliseconds delay, bool whole_pair);
	void go_down(const std::string &why);
	void terminate(std::optional<RunningProcess> &p, std::chrono::milliseconds grace);
	void shut_down(std::chrono::milliseconds adapter_grace, std::chrono::milliseconds backend_grace);
	void arm_deadlines();
	void judge_backend_exit(const std::string &how, bool failed, pid_t pid);
	void settle();
	void fds_changed() const;
	RunningProcess spawn(const policy::Process &proc, const sandbox::Spec &spec, std::vector<std::string> args,
			     std::vector<std::pair<int, int>> fds, const char *role);
	[[nodiscard]] std::string program_path(const std::string &binary) const;

	policy::Policy policy_;
	const Paths *paths_;
	const Events *events_;
	RestartTracker restarts_;
	State state_ = State::kDown;
	bool pending_pair_ = false; // the timer restarts both, not just the back-end
	std::string down_reason_;
	std::optional<RunningProcess> backend_;
	std::optional<RunningProcess> adapter_;
	UniqueFd adapter_backend_end_; // socketpair end for the adapter, until it is handed over
	UniqueFd supervisor_channel_;  // our end of --supervisor-fd
	UniqueFd timer_;
	UniqueFd deadline_timer_;
	// SIGTERM the back-end with this grace once the adapter is gone.
	std::optional<std::chrono::milliseconds> backend_grace_after_adapter_;
	bool pending_start_ = false; // start the pair once no process is left
	// A back-end's clean exit, judged at |deadline| unless its adapter's
	// exit comes first (then that is the story).
	struct CleanBackendExit {
		std::string how;
		pid_t pid;
		std::chrono::steady_clock::time_point deadline;
	};
	std::optional<CleanBackendExit> backend_exit_;
	unsigned backend_starts_ = 0;
	unsigned adapter_starts_ = 0;
};

} // namespace vlb::supervisor
