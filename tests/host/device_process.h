// SPDX-License-Identifier: Apache-2.0
// DeviceProcess: runs a vhost-user back-end program as a child with one
// end of a socketpair as its --fd, and reaps it on destruction. Host tests
// use it to talk to the real device binaries through UserDriver.
#pragma once

#include <string>
#include <vector>

#include "vlb/unique_fd.h"

namespace vlb::test {

class DeviceProcess {
public:
	// Starts |argv| (argv[0] is the program path) with "--fd N" appended,
	// plus |extra_fds| inherited at the same numbers. Its stderr goes to
	// |log_path| when given.
	explicit DeviceProcess(std::vector<std::string> argv, const std::string &log_path = {},
		      const std::vector<int> &extra_fds = {});
	~DeviceProcess();
	DeviceProcess(const DeviceProcess &) = delete;
	DeviceProcess &operator=(const DeviceProcess &) = delete;
	DeviceProcess(DeviceProcess &&) = delete;
	DeviceProcess &operator=(DeviceProcess &&) = delete;

	// The front-end's end of the socket (moved out once).
	UniqueFd take_socket() { return std::move(sock_); }
	[[nodiscard]] int pid() const { return pid_; }
	void kill(int sig) const;
	// Waits for exit; returns the exit status, or 128 + signal.
	int wait();

private:
	int pid_ = -1;
	UniqueFd sock_;
};

// A file's whole contents (for comparing the device's log).
std::string read_file(const std::string &path);

} // namespace vlb::test
