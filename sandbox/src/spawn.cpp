// SPDX-License-Identifier: Apache-2.0
// spawn(): clone3 into the namespaces, run the steps of sandbox.h in the
// child, report each over a close-on-exec pipe, exec. The parent learns the
// outcome from that pipe: EOF after the report means exec happened.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <string>

#include "steps.h"
#include "vlb/sandbox/sandbox.h"
#include "vlb/sys_error.h"

namespace vlb::sandbox {
namespace {

constexpr std::chrono::seconds kReportTimeout{30};
constexpr std::size_t kReportMax = std::size_t{64} * 1024;

unsigned long clone_flags(unsigned ns)
{
	unsigned long f = 0;
	f |= (ns & kNsUser) != 0U ? CLONE_NEWUSER : 0UL;
	f |= (ns & kNsMount) != 0U ? CLONE_NEWNS : 0UL;
	f |= (ns & kNsPid) != 0U ? CLONE_NEWPID : 0UL;
	f |= (ns & kNsNet) != 0U ? CLONE_NEWNET : 0UL;
	f |= (ns & kNsIpc) != 0U ? CLONE_NEWIPC : 0UL;
	f |= (ns & kNsUts) != 0U ? CLONE_NEWUTS : 0UL;
	f |= (ns & kNsCgroup) != 0U ? CLONE_NEWCGROUP : 0UL;
	return f;
}

std::string namespace_names(unsigned ns)
{
	static constexpr std::pair<unsigned, const char *> kNames[] = {
		{kNsUser, "user"}, {kNsMount, "mount"}, {kNsPid, "pid"},      {kNsNet, "net"},
		{kNsIpc, "ipc"},   {kNsUts, "uts"},     {kNsCgroup, "cgroup"},
	};
	std::string s;
	for (const auto &[bit, name] : kNames)
		if ((ns & bit) != 0U)
			s += std::string(s.empty() ? "" : " ") + name;
	return s.empty() ? "none (shares the supervisor's)" : s;
}

void write_all(int fd, const std::string &s)
{
	std::size_t done = 0;
	while (done < s.size()) {
		const ssize_t n = retry_eintr([&] { return ::write(fd, s.data() + done, s.size() - done); });
		if (n <= 0)
			return; // the parent went away; nothing to report to
		done += static_cast<std::size_t>(n);
	}
}

void write_id_map(pid_t pid, const char *file, unsigned id)
{
	const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
	const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
	const std::string line = std::to_string(id) + " " + std::to_string(id) + " 1\n";
	if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
		throw_errno("write " + path);
}

// Moves the handed-over fds to their numbers and closes every other fd.
// Returns the new numbers of the status pipe, just above the handed-over
// ones, and of the program's fd, at |exec_fd|: both close-on-exec. The
// program's fd sits at the nofile limit the process will have, which no fd
// it opens or duplicates can reach (open, dup2 and F_DUPFD all stay below
// it): the one execveat the filter allows, by fd number, can then never run
// a file the process put at that number itself (a memfd it wrote).
std::pair<int, int> arrange_fds(const Exec &exec, int status_fd, int binary_fd, int exec_fd, std::string &line)
{
	int top = 2;
	for (const auto &[target, source] : exec.fds)
		top = std::max(top, target);
	const int status_new = top + 1;
	if (exec_fd <= status_new)
		throw std::runtime_error("fds: nofile " + std::to_string(exec_fd) + " leaves no number free above the " +
					 std::to_string(top + 1) + " handed-over fds");
	// First out of the way (above every target and source), then in place:
	// a source may sit on another entry's target number.
	std::vector<std::pair<int, int>> moved;
	int floor = top + 3;
	for (const auto &[target, source] : exec.fds)
		floor = std::max(floor, source + 1);
	floor = std::max({floor, status_fd + 1, binary_fd + 1});
	for (const auto &[target, source] : exec.fds) {
		const int high = ::fcntl(source, F_DUPFD_CLOEXEC, floor);
		if (high < 0)
			throw_errno("fds: dup " + std::to_string(source));
		moved.emplace_back(target, high);
	}
	const int status_high = ::fcntl(status_fd, F_DUPFD_CLOEXEC, floor);
	const int binary_high = ::fcntl(binary_fd, F_DUPFD_CLOEXEC, floor);
	if (status_high < 0 || binary_high < 0)
		throw_errno("fds: dup status/program");
	for (const auto &[target, high] : moved)
		if (::dup2(high, target) != target) // dup2 clears close-on-exec
			throw_errno("fds: dup2 to " + std::to_string(target));
	if (::dup3(status_high, status_new, O_CLOEXEC) != status_new || ::dup3(binary_high, exec_fd, O_CLOEXEC) != exec_fd)
		throw_errno("fds: place status/program");
	for (int fd = 0; fd <= top; ++fd) {
		const bool handed = std::any_of(exec.fds.begin(), exec.fds.end(),
						[&](const auto &e) { return e.first == fd; });
		if (!handed)
			::close(fd);
	}
	if ((exec_fd > status_new + 1 && ::syscall(SYS_close_range, status_new + 1, exec_fd - 1, 0) != 0) ||
	    ::syscall(SYS_close_range, exec_fd + 1, ~0U, 0) != 0)
		throw_errno("fds: close_range");
	line = "fds: " + std::to_string(exec.fds.size()) + " handed over (0.." + std::to_string(top) +
	       "), the program's at " + std::to_string(exec_fd) + " (the nofile limit), every other fd closed";
	return {status_new, exec_fd};
}

// Whether the read end of the pipe |fd| writes to is closed: the
// supervisor holds it, so it died.
bool reader_gone(int fd)
{
	pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
	return retry_eintr([&] { return ::poll(&p, 1, 0); }) == 1 && (p.revents & POLLERR) != 0;
}

// execve's NULL-terminated char *[] over |strings|, which outlive it.
std::vector<char *> c_strings(const std::vector<std::string> &strings)
{
	std::vector<char *> out(strings.size() + 1, nullptr);
	std::transform(strings.begin(), strings.end(), out.begin(), [](const std::string &s) {
		return const_cast<char *>(s.c_str()); // NOLINT(cppcoreguidelines-pro-type-const-cast): execve's type
	});
	return out;
}

[[noreturn]] void child_main(const Spec &spec, const Exec &exec, int status_fd, int go_fd)
{
	std::string step = "start";
	try {
		char go = 0;
		if (retry_eintr([&] { return ::read(go_fd, &go, 1); }) != 1)
			throw std::runtime_error("the parent did not set up the user namespace");
		::close(go_fd);

		std::vector<std::string> lines;
		lines.push_back("namespaces: " + namespace_names(spec.namespaces));
		step = "fds";
		const std::vector<Rlimit> limits = detail::with_nofile_limit(spec.rlimits);
		const auto nofile = std::find_if(limits.begin(), limits.end(), [](const Rlimit &l) {
					    return l.resource == RLIMIT_NOFILE;
				    })->value;
		detail::make_room_for_fd(nofile);
		std::string line;
		const auto [status, binary] =
			arrange_fds(exec, status_fd, exec.binary_fd, static_cast<int>(nofile), line);
		status_fd = status;
		lines.push_back(line);
		step = "mounts";
		lines.push_back(spec.mount == MountMode::kMinimal
					? detail::build_minimal_root(exec.root_mountpoint, spec)
					: "mounts: unchanged");
		step = "rlimits";
		lines.push_back(detail::apply_rlimits(limits));
		step = "identity";
		lines.push_back(detail::apply_identity_and_capabilities(spec));
		// Die with the supervisor rather than run on unwatched. Only now:
		// a change of the effective or filesystem ids clears the signal.
		step = "parent death signal";
		if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			throw_errno("PR_SET_PDEATHSIG");
		if (reader_gone(status_fd))
			throw std::runtime_error("the supervisor died during set-up");
		step = "no_new_privs";
		if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			throw_errno("PR_SET_NO_NEW_PRIVS");
		lines.emplace_back("no_new_privs: set");
		step = "landlock";
		lines.push_back(detail::apply_landlock(spec.landlock, binary));
		step = "seccomp";
		lines.push_back(detail::apply_seccomp(spec.seccomp, binary));

		std::string report;
		for (const auto &l : lines)
			report += "ok " + l + "\n";
		write_all(status_fd, report);

		auto argv = c_strings(exec.argv);
		auto envp = c_strings(exec.env);
		step = "exec";
		::syscall(SYS_execveat, binary, "", argv.data(), envp.data(), AT_EMPTY_PATH);
		throw_errno("execveat " + exec.argv.at(0));
	} catch (const std::exception &e) {
		write_all(status_fd, "err " + step + ": " + e.what() + "\n");
	}
	::_exit(127);
}

} // namespace

std::string Report::summary() const
{
	std::string s;
	for (const auto &l : applied)
		s += (s.empty() ? "" : "; ") + l;
	return s;
}

Child spawn(const Spec &spec, const Exec &exec)
{
	if (exec.binary_fd < 0 || exec.argv.empty())
		throw SpawnError("spawn: no program given");
	if (spec.mount == MountMode::kMinimal && (spec.namespaces & kNsMount) == 0U)
		throw SpawnError("spawn: a minimal root needs the mount namespace");
	int status_pipe[2];
	int go_pipe[2];
	if (::pipe2(status_pipe, O_CLOEXEC) != 0)
		throw_errno("pipe2");
	UniqueFd status_read(status_pipe[0]);
	UniqueFd status_write(status_pipe[1]);
	if (::pipe2(go_pipe, O_CLOEXEC) != 0)
		throw_errno("pipe2");
	UniqueFd go_read(go_pipe[0]);
	UniqueFd go_write(go_pipe[1]);

	int pidfd = -1;
	clone_args args{};
	args.flags = CLONE_PIDFD | clone_flags(spec.namespaces);
	args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
	args.exit_signal = SIGCHLD;
	const long pid = ::syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0)
		throw_errno("clone3 (namespaces: " + namespace_names(spec.namespaces) + ")");
	if (pid == 0) {
		go_write.reset();
		status_read.reset();
		child_main(spec, exec, status_write.get(), go_read.get());
	}
	Child child;
	child.pid = static_cast<pid_t>(pid);
	child.pidfd.reset(pidfd);
	status_write.reset();
	go_read.reset();

	auto reap = [&] {
		::kill(child.pid, SIGKILL);
		::waitpid(child.pid, nullptr, 0);
	};
	try {
		if ((spec.namespaces & kNsUser) != 0U) {
			// Privileged writer: no "deny" to setgroups needed, so the child
			// can still drop its supplementary groups.
			write_id_map(child.pid, "uid_map", spec.uid);
			write_id_map(child.pid, "gid_map", spec.gid);
		}
		if (::write(go_write.get(), "g", 1) != 1)
			throw_errno("start the child");
	} catch (...) {
		reap();
		throw;
	}
	go_write.reset();

	std::string text;
	char buf[4096];
	// The caller's event loop waits for this: bound it. The steps are a
	// few dozen system calls; the report is a few hundred bytes.
	const auto deadline = std::chrono::steady_clock::now() + kReportTimeout;
	for (;;) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			deadline - std::chrono::steady_clock::now());
		pollfd p{status_read.get(), POLLIN, 0};
		if (left.count() <= 0 || retry_eintr([&] { return ::poll(&p, 1, static_cast<int>(left.count())); }) == 0) {
			reap();
			throw SpawnError("sandbox: the child did not reach exec within " +
					 std::to_string(kReportTimeout.count()) + " s");
		}
		const ssize_t n = retry_eintr([&] { return ::read(status_read.get(), buf, sizeof buf); });
		if (n <= 0)
			break;
		if (text.size() + static_cast<std::size_t>(n) > kReportMax) {
			reap();
			throw SpawnError("sandbox: the child's report is too long");
		}
		text.append(buf, static_cast<std::size_t>(n));
	}
	std::size_t pos = 0;
	std::string error;
	while (pos < text.size()) {
		const std::size_t end = text.find('\n', pos);
		const std::string l = text.substr(pos, end - pos);
		pos = end == std::string::npos ? text.size() : end + 1;
		if (l.rfind("ok ", 0) == 0)
			child.report.applied.push_back(l.substr(3));
		else if (l.rfind("err ", 0) == 0)
			error = l.substr(4);
	}
	if (!error.empty() || child.report.applied.empty()) {
		reap();
		throw SpawnError("sandbox: " + (error.empty() ? std::string("the child died before exec") : error));
	}
	return child;
}

} // namespace vlb::sandbox
