// SPDX-License-Identifier: Apache-2.0
#include "device_process.h"

#include <fcntl.h>
#include <csignal>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace vlb::test {

DeviceProcess::DeviceProcess(std::vector<std::string> argv, const std::string &log_path,
			     const std::vector<int> &extra_fds)
{
	auto [mine, theirs] = stream_socketpair();
	argv.emplace_back("--fd");
	argv.push_back(std::to_string(theirs.get()));
	std::vector<char *> args;
	args.reserve(argv.size() + 1);
	std::transform(argv.begin(), argv.end(), std::back_inserter(args),
		       [](std::string &a) { return a.data(); });
	args.push_back(nullptr);
	// After the socketpair and argv: the child uses both.
	pid_ = ::fork(); // NOLINT(cppcoreguidelines-prefer-member-initializer)
	if (pid_ < 0)
		throw_errno("fork");
	if (pid_ == 0) {
		// Child: only async-signal-safe calls from here on.
		::fcntl(theirs.get(), F_SETFD, 0);
		for (int fd : extra_fds)
			::fcntl(fd, F_SETFD, 0);
		if (!log_path.empty()) {
			const int lfd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (lfd >= 0)
				::dup2(lfd, 2);
		}
		::execv(args[0], args.data());
		::_exit(127);
	}
	sock_ = std::move(mine);
}

DeviceProcess::~DeviceProcess()
{
	if (pid_ > 0) {
		::kill(pid_, SIGKILL);
		wait();
	}
}

void DeviceProcess::kill(int sig) const
{
	if (pid_ > 0)
		::kill(pid_, sig);
}

int DeviceProcess::wait()
{
	if (pid_ <= 0)
		return -1;
	int st = 0;
	while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
	}
	pid_ = -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

std::string read_file(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

} // namespace vlb::test
