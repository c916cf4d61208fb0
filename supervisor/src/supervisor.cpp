// SPDX-License-Identifier: Apache-2.0
#include "supervisor.h"

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

#include "vlb/policy/policy.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace vlb::supervisor {
namespace {

constexpr std::chrono::milliseconds kStopGrace{10000};

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
	: options_(std::move(options)), log_(&log), events_(log), identities_(options_.ids)
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
	loop_.watch(control_.get(), [this] { on_control_client(); });

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
			notify_status();
		});
		watched_[&unit].push_back(fd);
	};
	watch(unit.backend_pidfd(), &DeviceUnit::on_backend_exit);
	watch(unit.adapter_pidfd(), &DeviceUnit::on_adapter_exit);
	watch(unit.timer_fd(), &DeviceUnit::on_timer);
}

// Stops |unit| for good. Its fds leave the loop first and stay out: a
// stopping unit reports its changed fds, and a watch on an fd it is about
// to close would outlive it.
void Supervisor::retire(DeviceUnit &unit)
{
	unit.on_fds_changed = nullptr;
	for (const int fd : watched_[&unit])
		loop_.unwatch(fd);
	watched_.erase(&unit);
	unit.stop(kStopGrace);
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
		retire(*it->second);
		identities_.release(it->first);
		it = units_.erase(it);
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
	sd_notify(0, status.c_str());
}

void Supervisor::on_signal()
{
	signalfd_siginfo si{};
	while (::read(signal_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
		if (si.ssi_signo == SIGHUP) {
			log_->info("SIGHUP: reloading %s", options_.policy_dir.c_str());
			sd_notify(0, "RELOADING=1");
			reload();
			sd_notify(0, "READY=1");
		} else {
			log_->info("%s: stopping every device", sigabbrev_np(static_cast<int>(si.ssi_signo)));
			stopping_ = true;
			loop_.stop();
		}
	}
}

void Supervisor::on_control_client()
{
	const UniqueFd client(::accept4(control_.get(), nullptr, nullptr, SOCK_CLOEXEC));
	if (!client)
		return;
	ucred peer{};
	socklen_t len = sizeof peer;
	if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0)
		return;
	// The socket's mode already limits who connects; check again.
	if (peer.uid != 0 && !peer_in_group(client.get(), peer, options_.control_group)) {
		log_->warn("control socket: refused uid %u", peer.uid);
		const std::string no = "error: uid " + std::to_string(peer.uid) + " is not root or in the control group\n";
		(void)!::send(client.get(), no.data(), no.size(), MSG_NOSIGNAL);
		return;
	}
	const timeval timeout{2, 0};
	::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
	std::string line;
	char c = 0;
	while (line.size() < 256 && ::read(client.get(), &c, 1) == 1 && c != '\n')
		line += c;
	const std::string reply = handle_command(line);
	(void)!::send(client.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
}

std::string Supervisor::handle_command(const std::string &line)
{
	if (line == "status")
		return status_table();
	if (line == "status --json")
		return status_json();
	if (line == "reload") {
		reload();
		return "ok: reloaded " + options_.policy_dir + "\n";
	}
	if (line.rfind("restart ", 0) == 0) {
		const auto it = units_.find(line.substr(8));
		if (it == units_.end())
			return "error: no device '" + line.substr(8) + "'\n";
		it->second->restart();
		notify_status();
		return "ok: restarted " + it->first + "\n";
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
	sd_notify(0, "STOPPING=1");
	for (auto &[name, u] : units_)
		retire(*u);
	units_.clear();
	return 0;
}

} // namespace vlb::supervisor
