// SPDX-License-Identifier: Apache-2.0
#include "supervisor.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <optional>

#include "vlb/policy/policy.h"
#include "vlb/signals.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace vlb::supervisor {
namespace {

constexpr std::chrono::milliseconds kStopGrace{10000};
// A control client has this long for its whole request, and again for
// taking the whole reply; then it is dropped. Neither blocks the loop.
constexpr std::chrono::milliseconds kRequestTimeout{2000};
constexpr std::chrono::milliseconds kReplyTimeout{2000};
constexpr std::size_t kMaxRequest = 256;
// Connections served at once; more are refused, not queued in memory.
constexpr std::size_t kMaxClients = 16;

void arm_oneshot(int timer, std::optional<std::chrono::steady_clock::time_point> at)
{
	itimerspec when{};
	if (at) {
		const auto left = std::max<std::chrono::nanoseconds>(*at - std::chrono::steady_clock::now(),
								      std::chrono::nanoseconds(1));
		when.it_value.tv_sec = static_cast<time_t>(left.count() / 1000000000);
		when.it_value.tv_nsec = static_cast<long>(left.count() % 1000000000);
	}
	if (::timerfd_settime(timer, 0, &when, nullptr) != 0)
		throw_errno("timerfd_settime");
}

// Best effort, never blocking: for a client about to be dropped.
void send_parting_words(int fd, const std::string &text)
{
	(void)!::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Whether the peer is in the control group, as its primary group or a
// supplementary one (SO_PEERGROUPS: the groups it had when it connected).
bool peer_in_group(int sock, const ucred &peer, gid_t group)
{
	if (group == 0)
		return false;
	if (peer.gid == group)
		return true;
	std::vector<gid_t> groups(64);
	for (;;) {
		auto len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
		if (::getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
			groups.resize(len / sizeof(gid_t));
			return std::find(groups.begin(), groups.end(), group) != groups.end();
		}
		if (errno != ERANGE || groups.size() >= 65536)
			return false;
		groups.resize(len / sizeof(gid_t) + 1);
	}
}

} // namespace

Supervisor::Supervisor(Options options, const Logger &log)
	: options_(std::move(options)), log_(&log), events_(log), identities_(options_.ids, options_.control_group)
{
	sigset_t set;
	sigemptyset(&set);
	for (const int sig : {SIGTERM, SIGINT, SIGHUP})
		sigaddset(&set, sig);
	// Single-threaded daemon: this is the process's mask.
	if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) // NOLINT(concurrency-mt-unsafe)
		throw_errno("sigprocmask");
	signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!signal_fd_)
		throw_errno("signalfd");
	loop_.watch(signal_fd_.get(), [this] { on_signal(); });

	if (::mkdir(options_.paths.runtime_dir.c_str(), 0755) != 0 && errno != EEXIST)
		throw_errno("mkdir " + options_.paths.runtime_dir);
	// Created with its mode and group: no chown (the unit keeps no
	// CAP_CHOWN) or chmod of a path after.
	control_ = listen_unix(options_.control_socket, 8, options_.control_group != 0 ? 0660 : 0600,
			       options_.control_group != 0 ? options_.control_group : static_cast<gid_t>(-1));
	// Non-blocking: a client that is gone by the time we accept must not
	// hold the loop in accept().
	if (::fcntl(control_.get(), F_SETFL, ::fcntl(control_.get(), F_GETFL) | O_NONBLOCK) != 0)
		throw_errno("fcntl control socket");
	loop_.watch(control_.get(), [this] { on_control_accept(); });
	client_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
	if (!client_timer_)
		throw_errno("timerfd_create");
	loop_.watch(client_timer_.get(), [this] { on_client_timer(); });

	std::uint64_t watchdog_usec = 0;
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
		watchdog_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
		itimerspec every{};
		const auto half = static_cast<long>(watchdog_usec / 2);
		every.it_interval.tv_sec = half / 1000000;
		every.it_interval.tv_nsec = (half % 1000000) * 1000;
		every.it_value = every.it_interval;
		::timerfd_settime(watchdog_timer_.get(), 0, &every, nullptr);
		loop_.watch(watchdog_timer_.get(), [this] {
			std::uint64_t n = 0;
			(void)!::read(watchdog_timer_.get(), &n, sizeof n);
			sd_notify(0, "WATCHDOG=1");
		});
	}
}

Supervisor::~Supervisor() { ::unlink(options_.control_socket.c_str()); }

void Supervisor::rewatch(DeviceUnit &unit)
{
	for (const int fd : watched_[&unit])
		loop_.unwatch(fd);
	watched_[&unit].clear();
	auto watch = [&](int fd, void (DeviceUnit::*handler)()) {
		if (fd < 0)
			return;
		// Handlers run after rewatch returns; the unit outlives its watches.
		loop_.watch(fd, [this, u = &unit, handler] {
			(u->*handler)();
			on_unit_event(*u); // may destroy *u: last
		});
		watched_[&unit].push_back(fd);
	};
	watch(unit.backend_pidfd(), &DeviceUnit::on_backend_exit);
	watch(unit.adapter_pidfd(), &DeviceUnit::on_adapter_exit);
	watch(unit.timer_fd(), &DeviceUnit::on_timer);
	watch(unit.deadline_fd(), &DeviceUnit::on_deadline);
	watch(unit.backend_log_fd(), &DeviceUnit::on_backend_log);
	watch(unit.adapter_log_fd(), &DeviceUnit::on_adapter_log);
}

// Stops |unit| for good, without waiting: it stays watched (its exits and
// deadlines drive the stop) and is destroyed once idle (on_unit_event).
void Supervisor::retire(std::unique_ptr<DeviceUnit> unit)
{
	unit->stop(kStopGrace);
	retiring_.push_back(std::move(unit));
	on_unit_event(*retiring_.back());
}

void Supervisor::on_unit_event(DeviceUnit &unit)
{
	notify_status();
	const auto it = std::find_if(retiring_.begin(), retiring_.end(),
				     [&](const std::unique_ptr<DeviceUnit> &r) { return r.get() == &unit; });
	if (it == retiring_.end() || !unit.idle())
		return;
	const std::string name = unit.policy().name;
	for (const int fd : watched_[&unit])
		loop_.unwatch(fd);
	watched_.erase(&unit);
	retiring_.erase(it);
	// Its ids are free once its processes are gone, not before: another
	// device given them while they still ran would share their identity.
	// A successor of the same name took them over already (assign).
	if (!units_.contains(name))
		identities_.release(name);
	// Its successor may have the kernel device's name now.
	const bool still_retiring = std::any_of(retiring_.begin(), retiring_.end(),
						[&](const auto &r) { return r->policy().name == name; });
	if (!still_retiring && deferred_.erase(name) != 0) {
		const auto next = units_.find(name);
		if (next != units_.end())
			next->second->start();
	}
	if (stopping_ && !retiring_all_ && retiring_.empty())
		loop_.stop();
	notify_status();
}

void Supervisor::reload()
{
	std::vector<policy::DirectoryEntry> entries;
	try {
		entries = policy::load_policy_directory(options_.policy_dir);
	} catch (const std::exception &e) {
		log_->error("%s; keeping the devices as they are", e.what());
		return;
	}
	broken_.clear();
	std::map<std::string, policy::Policy> wanted;
	for (auto &e : entries) {
		if (!e.policy) {
			log_->error("policy skipped: %s", e.error.c_str());
			broken_.push_back(e.error);
			continue;
		}
		wanted.emplace(e.policy->name, std::move(*e.policy));
	}
	// Gone or changed: stop. Unchanged (same digest): not touched.
	for (auto it = units_.begin(); it != units_.end();) {
		const auto w = wanted.find(it->first);
		if (w != wanted.end() && w->second.digest == it->second->policy().digest) {
			wanted.erase(w);
			++it;
			continue;
		}
		log_->info("%s: policy %s; stopping the device", it->first.c_str(),
			   w == wanted.end() ? "removed" : "changed");
		auto unit = std::move(it->second);
		it = units_.erase(it);
		retire(std::move(unit));
	}
	for (auto &[name, p] : wanted) {
		try {
			identities_.assign(p);
		} catch (const std::exception &e) {
			const std::string error = p.file + ": identity: " + e.what();
			log_->error("policy skipped: %s", error.c_str());
			broken_.push_back(error);
			continue;
		}
		auto unit = std::make_unique<DeviceUnit>(std::move(p), options_.paths, events_);
		DeviceUnit *u = unit.get();
		u->on_fds_changed = [this, u] { rewatch(*u); };
		units_.emplace(name, std::move(unit));
		const std::string &unit_name = name; // a lambda cannot capture a binding (C++20, clang 14)
		const bool predecessor = std::any_of(retiring_.begin(), retiring_.end(), [&](const auto &r) {
			return r->policy().name == unit_name;
		});
		if (predecessor)
			deferred_.insert(name); // starts once the old one is gone
		else
			u->start();
	}
	notify_status();
}

void Supervisor::notify_status()
{
	unsigned running = 0;
	unsigned down = 0;
	for (const auto &[name, u] : units_) {
		running += u->state() == DeviceUnit::State::kRunning ? 1 : 0;
		down += u->state() == DeviceUnit::State::kDown ? 1 : 0;
	}
	const std::string status = "STATUS=" + std::to_string(running) + " of " + std::to_string(units_.size()) +
				   " devices running, " + std::to_string(down) + " down, " +
				   std::to_string(broken_.size()) + " policies rejected";
	// Called after every event (a child's log line too): tell systemd
	// only what changed.
	if (status == last_status_)
		return;
	last_status_ = status;
	sd_notify(0, status.c_str());
}

void Supervisor::on_signal()
{
	signalfd_siginfo si{};
	while (::read(signal_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
		if (si.ssi_signo == SIGHUP && stopping_) {
			log_->info("SIGHUP while stopping: ignored");
		} else if (si.ssi_signo == SIGHUP) {
			log_->info("SIGHUP: reloading %s", options_.policy_dir.c_str());
			sd_notify(0, "RELOADING=1");
			reload();
			sd_notify(0, "READY=1");
		} else {
			if (stopping_)
				continue;
			log_->info("%s: stopping every device", signal_abbrev(static_cast<int>(si.ssi_signo)).c_str());
			sd_notify(0, "STOPPING=1");
			stopping_ = true;
			deferred_.clear();
			auto units = std::move(units_);
			units_.clear();
			// An idle unit leaves retiring_ at once: the loop must not
			// stop before the others are even asked to.
			retiring_all_ = true;
			for (auto &[name, u] : units)
				retire(std::move(u));
			retiring_all_ = false;
			if (retiring_.empty())
				loop_.stop();
		}
	}
}

void Supervisor::on_control_accept()
{
	// A few per event: the loop comes back for the rest.
	for (int i = 0; i < 8; i++) {
		UniqueFd client(::accept4(control_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (!client)
			break;
		ucred peer{};
		socklen_t len = sizeof peer;
		if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0)
			continue;
		// The socket's mode already limits who connects; check again.
		if (peer.uid != 0 && !peer_in_group(client.get(), peer, options_.control_group)) {
			log_->warn("control socket: refused uid %u", peer.uid);
			send_parting_words(client.get(), "error: uid " + std::to_string(peer.uid) +
								 " is not root or in the control group\n");
			continue;
		}
		if (clients_.size() >= kMaxClients) {
			log_->warn("control socket: %zu connections open; refused uid %u", clients_.size(), peer.uid);
			send_parting_words(client.get(), "error: busy, try again\n");
			continue;
		}
		const int fd = client.get();
		clients_.emplace(fd, Client{std::move(client), {}, {}, 0, std::chrono::steady_clock::now() + kRequestTimeout});
		loop_.watch(fd, [this, fd] { on_client_readable(fd); });
	}
	arm_client_timer();
}

void Supervisor::on_client_readable(int fd)
{
	const auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	char buf[kMaxRequest + 1];
	const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		drop_client(fd);
		return;
	}
	std::string &request = it->second.request;
	request.append(buf, static_cast<std::size_t>(n));
	const auto nl = request.find('\n');
	if (nl != std::string::npos) {
		const std::string line = request.substr(0, nl);
		start_reply(fd, handle_command(line));
	} else if (request.size() > kMaxRequest) {
		start_reply(fd, "error: request longer than " + std::to_string(kMaxRequest) + " bytes\n");
	} else if (n == 0) { // the client ended its request without a newline
		if (request.empty())
			drop_client(fd);
		else
			start_reply(fd, handle_command(request));
	}
}

void Supervisor::start_reply(int fd, std::string reply)
{
	const auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	it->second.reply = std::move(reply);
	it->second.sent = 0;
	it->second.deadline = std::chrono::steady_clock::now() + kReplyTimeout;
	loop_.watch_writable(fd, [this, fd] { on_client_writable(fd); });
	on_client_writable(fd);
	arm_client_timer();
}

void Supervisor::on_client_writable(int fd)
{
	const auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	Client &c = it->second;
	while (c.sent < c.reply.size()) {
		const ssize_t n = ::send(fd, c.reply.data() + c.sent, c.reply.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; // the loop calls again when there is room
		if (n <= 0)
			break;
		c.sent += static_cast<std::size_t>(n);
	}
	drop_client(fd); // all sent, or the client is gone
}

void Supervisor::drop_client(int fd)
{
	loop_.unwatch(fd);
	clients_.erase(fd);
}

void Supervisor::on_client_timer()
{
	std::uint64_t expirations = 0;
	(void)!::read(client_timer_.get(), &expirations, sizeof expirations);
	const auto now = std::chrono::steady_clock::now();
	for (auto it = clients_.begin(); it != clients_.end();) {
		const int fd = it->first;
		const bool reading = it->second.reply.empty();
		const bool expired = it->second.deadline <= now;
		++it;
		if (!expired)
			continue;
		if (reading)
			send_parting_words(fd, "error: no complete request within " +
						       std::to_string(kRequestTimeout.count()) + " ms\n");
		log_->warn("control socket: dropped a client that did not %s in time",
			   reading ? "send its request" : "take its reply");
		drop_client(fd);
	}
	arm_client_timer();
}

void Supervisor::arm_client_timer()
{
	std::optional<std::chrono::steady_clock::time_point> next;
	for (const auto &[fd, c] : clients_)
		if (!next || c.deadline < *next)
			next = c.deadline;
	arm_oneshot(client_timer_.get(), next);
}

std::string Supervisor::handle_command(const std::string &line)
{
	if (line == "status")
		return status_table();
	if (line == "status --json")
		return status_json();
	if (stopping_ && (line == "reload" || line.rfind("restart ", 0) == 0))
		return "error: stopping every device\n";
	if (line == "reload") {
		reload();
		return "ok: reloaded " + options_.policy_dir + "\n";
	}
	if (line.rfind("restart ", 0) == 0) {
		const auto it = units_.find(line.substr(8));
		if (it == units_.end())
			return "error: no device '" + line.substr(8) + "'\n";
		if (deferred_.contains(it->first))
			return "error: " + it->first + " waits for its previous instance to stop\n";
		// The old pair stops and the new one starts from the loop: the
		// reply does not wait for a slow process.
		it->second->restart();
		notify_status();
		return "ok: restarting " + it->first + "\n";
	}
	return "error: unknown command '" + line + "' (status, status --json, restart DEVICE, reload)\n";
}

std::string Supervisor::status_table() const
{
	char head[160];
	std::snprintf(head, sizeof head, "%-16s %-8s %-11s %-8s %-8s %-8s %s\n", "DEVICE", "TYPE", "STATE", "BACKEND",
		      "ADAPTER", "RESTARTS", "REASON");
	std::string s = head;
	for (const auto &[name, u] : units_)
		s += u->status_line() + "\n";
	for (const auto &b : broken_)
		s += "rejected policy: " + b + "\n";
	return s;
}

std::string Supervisor::status_json() const
{
	std::string s = "{\"devices\":[";
	bool first = true;
	for (const auto &[name, u] : units_) {
		s += (first ? "" : ",") + u->status_json();
		first = false;
	}
	s += "],\"rejected\":" + std::to_string(broken_.size()) + "}\n";
	return s;
}

int Supervisor::run()
{
	reload();
	sd_notify(0, "READY=1");
	log_->info("serving %zu devices (%zu policies rejected); control socket %s", units_.size(), broken_.size(),
		   options_.control_socket.c_str());
	loop_.run();
	// Every device stopped from the loop (on_signal, on_unit_event); a unit
	// still here is destroyed, which kills its processes.
	for (auto &[fd, c] : clients_)
		loop_.unwatch(fd);
	clients_.clear();
	units_.clear();
	retiring_.clear();
	return 0;
}

} // namespace vlb::supervisor
