// SPDX-License-Identifier: Apache-2.0
#include "device_unit.h"

#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_loopback.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "handed_file.h"
#include "vlb/signals.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace vlb::supervisor {
namespace {

// How long a back-end's clean exit waits for its adapter's (see
// on_backend_exit): a timer state, the loop goes on meanwhile.
constexpr std::chrono::milliseconds kAdapterExitWait{2000};

std::uint32_t virtio_id(policy::DeviceType type)
{
	switch (type) {
	case policy::DeviceType::kBlk:
		return VIRTIO_ID_BLOCK;
	case policy::DeviceType::kRng:
		return VIRTIO_ID_RNG;
	case policy::DeviceType::kInput:
		return VIRTIO_ID_INPUT;
	case policy::DeviceType::kConsole:
		return VIRTIO_ID_CONSOLE;
	}
	throw std::logic_error("unknown device type");
}

// Locks the control file an adapter gets to the policy's one device, for
// good (VLB_IOC_SCOPE): a compromised adapter can neither take over
// another policy's device nor create one of another name or type, nor ask
// for more kernel memory than the policy gives it.
void scope_control_file(int control, const policy::Policy &p)
{
	vlb_scope s{};
	s.device_id = virtio_id(p.type);
	if (p.name.empty() || p.name.size() >= sizeof(s.name))
		throw std::invalid_argument("device name '" + p.name + "' does not fit the kernel's");
	std::memcpy(s.name, p.name.data(), p.name.size());
	s.max_granted_pages = p.memory.max_granted_pages;
	s.iova_size = p.memory.iova_size;
	s.bounce_pool_pages = VLB_BOUNCE_POOL_DEFAULT; // the adapter asks for the default
	if (::ioctl(control, VLB_IOC_SCOPE, &s) != 0)
		throw_errno("VLB_IOC_SCOPE of the control file to '" + p.name + "'");
}

// Reaps the process behind |pidfd| and says how it ended. |failed| is set
// for anything but exit status 0.
std::string reap(int pidfd, bool &failed)
{
	siginfo_t info{};
	if (retry_eintr([&] { return ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED); }) != 0)
		throw_errno("waitid");
	if (info.si_code == CLD_EXITED) {
		failed = info.si_status != 0;
		return "exited with status " + std::to_string(info.si_status);
	}
	failed = true;
	const int sig = info.si_status;
	if (sig == SIGSYS)
		return "killed by SIGSYS: a system call outside its seccomp profile";
	return "killed by signal " + signal_abbrev(sig);
}

// A pidfd is readable once its process has exited; an event for an fd
// number that meanwhile belongs to a new process must not block in waitid.
bool has_exited(const std::optional<RunningProcess> &p)
{
	if (!p)
		return false;
	pollfd pfd{p->pidfd.get(), POLLIN, 0};
	return ::poll(&pfd, 1, 0) == 1;
}

// Reaps |p| (it has exited), takes in the rest of its output, forgets it.
std::string retire_process(std::optional<RunningProcess> &p, bool &failed)
{
	std::string how = reap(p->pidfd.get(), failed);
	if (p->log)
		p->log->drain();
	p.reset();
	return how;
}

std::string json_string(const std::string &s)
{
	std::string out = "\"";
	for (const char c : s) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += c;
		} else if (static_cast<unsigned char>(c) < 0x20) {
			char buf[8];
			std::snprintf(buf, sizeof buf, "\\u%04x", c);
			out += buf;
		} else {
			out += c;
		}
	}
	return out + "\"";
}

const char *state_name(DeviceUnit::State s)
{
	switch (s) {
	case DeviceUnit::State::kRunning: return "running";
	case DeviceUnit::State::kBackoff: return "restarting";
	case DeviceUnit::State::kDown: return "down";
	case DeviceUnit::State::kStopping: return "stopping";
	case DeviceUnit::State::kStopped: return "stopped";
	}
	return "?";
}

// The default fsize bounds the memfds a back-end can fill; a blk
// back-end writes its backing file up to the end, wherever that is.
// |opened| are the fds of |files|, in order (a listening socket has no size).
void fit_file_size_limit(sandbox::Spec &spec, const std::vector<policy::HandedFile> &files,
			 const std::vector<UniqueFd> &opened)
{
	std::uint64_t largest = 0;
	const std::size_t first = opened.size() - files.size();
	for (std::size_t i = 0; i < files.size(); ++i) {
		struct stat st{};
		if (files[i].writable && ::fstat(opened[first + i].get(), &st) == 0 && S_ISREG(st.st_mode))
			largest = std::max(largest, static_cast<std::uint64_t>(st.st_size));
	}
	for (auto &l : spec.rlimits)
		if (l.resource == RLIMIT_FSIZE)
			l.value = std::max(l.value, largest);
}

} // namespace

DeviceUnit::DeviceUnit(policy::Policy policy, const Paths &paths, const Events &events)
	: policy_(std::move(policy)), paths_(&paths), events_(&events), restarts_(policy_.restart),
	  timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)),
	  deadline_timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK))
{
	if (!timer_ || !deadline_timer_)
		throw_errno("timerfd_create");
}

DeviceUnit::~DeviceUnit() noexcept
{
	// Never leave processes behind; stop() is the orderly way.
	for (auto *p : {&adapter_, &backend_}) {
		if (!*p)
			continue;
		::syscall(SYS_pidfd_send_signal, (*p)->pidfd.get(), SIGKILL, nullptr, 0);
		siginfo_t info{};
		::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>((*p)->pidfd.get()), &info, WEXITED);
	}
}

std::string DeviceUnit::program_path(const std::string &binary) const
{
	return binary.find('/') == std::string::npos ? paths_->libexec_dir + "/" + binary : binary;
}

RunningProcess DeviceUnit::spawn(const policy::Process &proc, const sandbox::Spec &spec, std::vector<std::string> args,
				 std::vector<std::pair<int, int>> fds, const char *role)
{
	const std::string path = program_path(proc.binary);
	const UniqueFd binary(::open(path.c_str(), O_PATH | O_CLOEXEC));
	if (!binary)
		throw_errno(std::string(role) + " program " + path);
	const UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
	// Its own pipe, not the supervisor's stderr (see child_log.h).
	auto log = std::make_unique<ChildLog>(*events_, policy_.name, role);
	fds.insert(fds.begin(), {{0, devnull.get()}, {1, log->write_fd()}, {2, log->write_fd()}});

	sandbox::Exec exec;
	exec.binary_fd = binary.get();
	exec.argv.push_back(path.substr(path.rfind('/') + 1));
	exec.argv.insert(exec.argv.end(), args.begin(), args.end());
	// Single-threaded daemon: nothing changes the environment under us.
	if (const char *js = std::getenv("JOURNAL_STREAM")) // NOLINT(concurrency-mt-unsafe)
		exec.env.push_back(std::string("JOURNAL_STREAM=") + js);
	exec.fds = std::move(fds);
	exec.root_mountpoint = paths_->runtime_dir + "/root-" + policy_.name + "-" + role;
	if (::mkdir(exec.root_mountpoint.c_str(), 0755) != 0 && errno != EEXIST)
		throw_errno("mkdir " + exec.root_mountpoint);

	auto child = sandbox::spawn(spec, exec);
	log->close_write_end();
	log->set_pid(child.pid);
	RunningProcess p{child.pid, std::move(child.pidfd), std::chrono::steady_clock::now(),
			 std::move(child.report), std::move(log), std::nullopt};
	events_->emit(Severity::kInfo, policy_.name, p.pid, std::string(role) + " started", p.report.summary());
	return p;
}

namespace {

void check_socket_directory(const std::string &dir)
{
	struct stat st {};
	if (::lstat(dir.c_str(), &st) != 0)
		throw_errno("backend.socket_path: " + dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		throw std::runtime_error("backend.socket_path: " + dir + " must be a directory (not a symbolic link) "
					 "that only root may write: the supervisor listens there for the back-end, "
					 "and whoever else could write it could pose as the back-end");
}

} // namespace

void DeviceUnit::spawn_backend()
{
	const auto &b = policy_.backend;
	std::vector<std::string> args = b.args;
	std::vector<std::pair<int, int>> fds;
	std::vector<UniqueFd> opened;
	int next = 3;
	if (b.connect == policy::Connect::kSocketpair) {
		auto [ours, theirs] = stream_socketpair();
		adapter_backend_end_ = std::move(ours);
		args.push_back("--fd=" + std::to_string(next));
		fds.emplace_back(next++, theirs.get());
		opened.push_back(std::move(theirs));
	} else {
		// The supervisor listens for the back-end, whose profile makes no
		// socket; the socket file is its adapter's group's (0660), so the
		// adapter may connect. A restart listens afresh. Nobody but root
		// may write the directory, or another process could put its own
		// socket at the path while the back-end restarts, and the adapter
		// would hand it the device (peer credentials cannot tell: root is
		// unmapped in the adapter's user namespace).
		check_socket_directory(b.socket_path.substr(0, b.socket_path.rfind('/')));
		UniqueFd listener = listen_unix(b.socket_path, 1, 0660, policy_.adapter.sandbox.gid);
		args.push_back("--fd=" + std::to_string(next));
		fds.emplace_back(next++, listener.get());
		opened.push_back(std::move(listener));
	}
	for (std::size_t i = 0; i < b.files.size(); ++i) {
		const auto &f = b.files[i];
		// Clients of a listening port: root and the socket's group; the
		// mode comes with the file, no chmod that follows a link.
		UniqueFd fd = f.listen ? listen_unix(f.path, 4, 0660)
				       : open_handed_file(f, "backend.files[" + std::to_string(i) + "]",
							  paths_->control_node);
		args.push_back(f.option + "=" + std::to_string(next));
		fds.emplace_back(next++, fd.get());
		opened.push_back(std::move(fd));
	}
	sandbox::Spec spec = b.sandbox;
	if (!b.fsize_written)
		fit_file_size_limit(spec, b.files, opened);
	backend_ = spawn(b, spec, std::move(args), std::move(fds), "back-end");
	++backend_starts_;
}

void DeviceUnit::spawn_adapter()
{
	const auto &b = policy_.backend;
	sandbox::Spec spec = policy_.adapter.sandbox;
	const UniqueFd control(::open(paths_->control_node.c_str(), O_RDWR | O_CLOEXEC));
	if (!control)
		throw_errno("open " + paths_->control_node);
	scope_control_file(control.get(), policy_);
	std::vector<std::string> args = {
		"--type=" + std::string(policy::to_string(policy_.type)),
		"--name=" + policy_.name,
		"--control-fd=4",
		"--queue-size=" + std::to_string(policy_.queue_size),
		"--max-granted-pages=" + std::to_string(policy_.memory.max_granted_pages),
		"--iova-size=" + std::to_string(policy_.memory.iova_size),
		// Long enough for the slowest restart the policy allows.
		"--reconnect-timeout=" + std::to_string(policy_.restart.backoff_max.count() + 10000),
	};
	if (policy_.memory.bounce_threshold != 0)
		args.push_back("--bounce-threshold=" + std::to_string(policy_.memory.bounce_threshold));
	std::vector<std::pair<int, int>> fds = {{4, control.get()}};
	UniqueFd adapter_channel;
	if (b.connect == policy::Connect::kSocketpair) {
		auto [ours, theirs] = stream_socketpair();
		supervisor_channel_ = std::move(ours);
		adapter_channel = std::move(theirs);
		args.emplace_back("--backend-fd=3");
		args.emplace_back("--supervisor-fd=5");
		fds.emplace_back(3, adapter_backend_end_.get());
		fds.emplace_back(5, adapter_channel.get());
	} else {
		args.push_back("--backend-socket=" + b.socket_path);
		// The adapter reaches the socket by path: its directory, read-only
		// (connecting needs no write access to the mount, and the adapter
		// may not replace the socket).
		spec.landlock.read.push_back(b.socket_path.substr(0, b.socket_path.rfind('/')));
	}
	adapter_ = spawn(policy_.adapter, spec, std::move(args), std::move(fds), "adapter");
	adapter_backend_end_.reset();
	++adapter_starts_;
}

void DeviceUnit::fds_changed() const
{
	if (on_fds_changed)
		on_fds_changed();
}

void DeviceUnit::start()
{
	try {
		if (policy_.backend.spawned)
			spawn_backend();
		spawn_adapter();
		state_ = State::kRunning;
		down_reason_.clear();
	} catch (const std::exception &e) {
		go_down(std::string("start failed: ") + e.what());
	}
	fds_changed();
}

// SIGTERM now, SIGKILL at the deadline (on_deadline); the exit comes by the
// pidfd. A process already told keeps its first deadline.
// cppcheck-suppress constParameter ; p->kill_at is written below
void DeviceUnit::terminate(std::optional<RunningProcess> &p, std::chrono::milliseconds grace)
{
	if (!p || p->kill_at)
		return;
	::syscall(SYS_pidfd_send_signal, p->pidfd.get(), SIGTERM, nullptr, 0);
	p->kill_at = std::chrono::steady_clock::now() + grace;
	arm_deadlines();
}

// The adapter first: it removes the kernel device, with the back-end still
// there to complete what is in flight. The back-end follows once the
// adapter is reaped (settle).
void DeviceUnit::shut_down(std::chrono::milliseconds adapter_grace, std::chrono::milliseconds backend_grace)
{
	if (adapter_ && !adapter_->kill_at) {
		terminate(adapter_, adapter_grace);
		if (backend_ && !backend_->kill_at)
			backend_grace_after_adapter_ = backend_grace;
	} else if (!adapter_) {
		terminate(backend_, backend_grace);
	}
}

void DeviceUnit::arm_deadlines()
{
	std::optional<std::chrono::steady_clock::time_point> next;
	auto consider = [&](std::chrono::steady_clock::time_point t) {
		if (!next || t < *next)
			next = t;
	};
	for (const auto *p : {&backend_, &adapter_})
		if (*p && (*p)->kill_at && !(*p)->killed)
			consider(*(*p)->kill_at);
	if (backend_exit_)
		consider(backend_exit_->deadline);
	itimerspec when{};
	if (next) {
		const auto left = std::max<std::chrono::nanoseconds>(*next - std::chrono::steady_clock::now(),
								      std::chrono::nanoseconds(1));
		when.it_value.tv_sec = static_cast<time_t>(left.count() / 1000000000);
		when.it_value.tv_nsec = static_cast<long>(left.count() % 1000000000);
	}
	if (::timerfd_settime(deadline_timer_.get(), 0, &when, nullptr) != 0)
		throw_errno("timerfd_settime");
}

void DeviceUnit::on_deadline()
{
	std::uint64_t expirations = 0;
	if (::read(deadline_timer_.get(), &expirations, sizeof expirations) != sizeof expirations)
		return;
	const auto now = std::chrono::steady_clock::now();
	for (auto *p : {&adapter_, &backend_}) {
		if (*p && (*p)->kill_at && !(*p)->killed && *(*p)->kill_at <= now) {
			::syscall(SYS_pidfd_send_signal, (*p)->pidfd.get(), SIGKILL, nullptr, 0);
			(*p)->killed = true;
		}
	}
	if (backend_exit_ && backend_exit_->deadline <= now) {
		const CleanBackendExit exit = *backend_exit_;
		backend_exit_.reset();
		judge_backend_exit(exit.how, false, exit.pid);
	}
	arm_deadlines();
	fds_changed();
}

// After a reap: the back-end's turn once the adapter is gone; once both
// are, a stop is complete and a pending start runs.
void DeviceUnit::settle()
{
	if (!adapter_ && backend_grace_after_adapter_) {
		const auto grace = *backend_grace_after_adapter_;
		backend_grace_after_adapter_.reset();
		terminate(backend_, grace);
	}
	if (!idle())
		return;
	backend_grace_after_adapter_.reset();
	if (state_ == State::kStopping) {
		state_ = State::kStopped;
		events_->emit(Severity::kInfo, policy_.name, 0, "stopped", "");
	}
	if (pending_start_) {
		pending_start_ = false;
		start();
	}
}

void DeviceUnit::go_down(const std::string &why)
{
	state_ = State::kDown;
	down_reason_ = why;
	pending_start_ = false;
	backend_exit_.reset();
	shut_down(std::chrono::milliseconds(5000), std::chrono::milliseconds(1000));
	adapter_backend_end_.reset();
	supervisor_channel_.reset();
	arm_deadlines();
	events_->emit(Severity::kError, policy_.name, 0, "down", why);
}

void DeviceUnit::stop(std::chrono::milliseconds grace)
{
	const itimerspec off{};
	::timerfd_settime(timer_.get(), 0, &off, nullptr);
	pending_start_ = false;
	backend_exit_.reset();
	shut_down(grace, grace);
	supervisor_channel_.reset();
	adapter_backend_end_.reset();
	arm_deadlines();
	state_ = State::kStopping;
	settle(); // nothing running: stopped now
	fds_changed();
}

void DeviceUnit::restart()
{
	stop(std::chrono::milliseconds(5000));
	events_->emit(Severity::kInfo, policy_.name, 0, "restart requested", "by the operator");
	if (idle())
		start();
	else
		pending_start_ = true;
}

void DeviceUnit::schedule(std::chrono::milliseconds delay, bool whole_pair)
{
	pending_pair_ = whole_pair;
	state_ = State::kBackoff;
	itimerspec when{};
	when.it_value.tv_sec = static_cast<time_t>(delay.count() / 1000);
	when.it_value.tv_nsec = static_cast<long>(delay.count() % 1000) * 1000000L;
	if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
		when.it_value.tv_nsec = 1; // zero would disarm it
	if (::timerfd_settime(timer_.get(), 0, &when, nullptr) != 0)
		throw_errno("timerfd_settime");
}

void DeviceUnit::judge_backend_exit(const std::string &how, bool failed, pid_t pid)
{
	if (state_ != State::kRunning)
		return;
	const auto delay = restarts_.on_exit(failed, std::chrono::steady_clock::now());
	if (!delay) {
		go_down("back-end " + how + "; not restarted (restart policy, " +
			std::to_string(restarts_.restarts_in_window()) + " restarts in the window)");
	} else {
		events_->emit(failed ? Severity::kWarning : Severity::kInfo, policy_.name, pid, "back-end " + how,
			      "restarting in " + std::to_string(delay->count()) + " ms");
		schedule(*delay, false);
	}
}

void DeviceUnit::on_backend_exit()
{
	if (!has_exited(backend_))
		return;
	const bool expected = backend_->kill_at.has_value();
	const pid_t pid = backend_->pid;
	bool failed = false;
	const std::string how = retire_process(backend_, failed);
	if (expected || state_ != State::kRunning) {
		settle();
		fds_changed();
		return;
	}
	// A back-end whose adapter died ends too (its connection closed): that
	// is the adapter's exit, judged and restarted as such. A dying process
	// closes its files before its exit is reported, so the back-end can
	// see the hang-up and exit cleanly first: a clean exit waits (bounded,
	// on the deadline timer) for the adapter's.
	if (has_exited(adapter_)) {
		on_adapter_exit();
		return;
	}
	if (failed || !adapter_) {
		judge_backend_exit(how, failed, pid);
	} else {
		backend_exit_ = CleanBackendExit{how, pid, std::chrono::steady_clock::now() + kAdapterExitWait};
		arm_deadlines();
	}
	fds_changed();
}

void DeviceUnit::on_adapter_exit()
{
	if (!has_exited(adapter_))
		return;
	const bool expected = adapter_->kill_at.has_value();
	const pid_t pid = adapter_->pid;
	bool failed = false;
	const std::string how = retire_process(adapter_, failed);
	supervisor_channel_.reset();
	backend_exit_.reset();
	arm_deadlines();
	if (expected || (state_ != State::kRunning && state_ != State::kBackoff)) {
		settle();
		fds_changed();
		return;
	}
	// The back-end's connection went with the adapter: start the pair
	// afresh. The new adapter takes the kernel device over while its grace
	// period lasts, with the requests this back-end leaves in flight; it
	// must be gone first, so the kernel's record of them is final (on_timer
	// waits for it).
	terminate(backend_, std::chrono::milliseconds(1000));
	const auto delay = restarts_.on_exit(failed, std::chrono::steady_clock::now());
	if (!delay) {
		go_down("adapter " + how + "; not restarted (restart policy)");
	} else {
		events_->emit(Severity::kWarning, policy_.name, pid, "adapter " + how,
			      "restarting both in " + std::to_string(delay->count()) + " ms");
		schedule(*delay, true);
	}
	fds_changed();
}

void DeviceUnit::on_timer()
{
	std::uint64_t expirations = 0;
	if (::read(timer_.get(), &expirations, sizeof expirations) != sizeof expirations || state_ != State::kBackoff)
		return;
	if (pending_pair_ || !adapter_) {
		if (idle())
			start();
		else
			pending_start_ = true; // the old back-end is still exiting
		return;
	}
	try {
		spawn_backend();
		// By socket path the adapter connects to the new back-end itself
		// (--reconnect-timeout); there is no channel to hand it over.
		if (policy_.backend.connect == policy::Connect::kSocketpair) {
			send_fd(supervisor_channel_.get(), adapter_backend_end_.get(), 'b');
			adapter_backend_end_.reset();
		}
		state_ = State::kRunning;
	} catch (const std::exception &e) {
		go_down(std::string("back-end restart failed: ") + e.what());
	}
	fds_changed();
}

void DeviceUnit::on_backend_log()
{
	if (backend_ && backend_->log && !backend_->log->on_readable())
		fds_changed(); // its stream ended: no longer watched
}

void DeviceUnit::on_adapter_log()
{
	if (adapter_ && adapter_->log && !adapter_->log->on_readable())
		fds_changed();
}

std::string DeviceUnit::status_line() const
{
	auto pid = [](const std::optional<RunningProcess> &p) { return p ? std::to_string(p->pid) : std::string("-"); };
	char line[256];
	std::snprintf(line, sizeof line, "%-16s %-8s %-11s %-8s %-8s %-8u %s", policy_.name.c_str(),
		      std::string(policy::to_string(policy_.type)).c_str(), state_name(state_), pid(backend_).c_str(),
		      pid(adapter_).c_str(), restarts_.total_restarts(), down_reason_.c_str());
	return line;
}

std::string DeviceUnit::status_json() const
{
	auto pid = [](const std::optional<RunningProcess> &p) { return p ? std::to_string(p->pid) : std::string("null"); };
	auto report = [](const std::optional<RunningProcess> &p) {
		std::string s = "[";
		if (p)
			for (const auto &l : p->report.applied)
				s += (s.size() > 1 ? "," : "") + json_string(l);
		return s + "]";
	};
	return "{\"name\":" + json_string(policy_.name) + ",\"type\":" +
	       json_string(std::string(policy::to_string(policy_.type))) + ",\"state\":" +
	       json_string(state_name(state_)) + ",\"backend_pid\":" + pid(backend_) + ",\"adapter_pid\":" +
	       pid(adapter_) + ",\"restarts\":" + std::to_string(restarts_.total_restarts()) +
	       ",\"policy\":" + json_string(policy_.file) + ",\"digest\":" + json_string(policy_.digest) +
	       ",\"reason\":" + json_string(down_reason_) + ",\"sandbox\":{\"backend\":" + report(backend_) +
	       ",\"adapter\":" + report(adapter_) + "}}";
}

} // namespace vlb::supervisor
