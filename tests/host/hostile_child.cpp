// SPDX-License-Identifier: Apache-2.0
// vlb-hostile-child: stands in for a device's back-end or adapter under
// vlb-supervisord (sandboxed by the real profile of its role) and attacks
// the supervisor's logging and stop path:
//   --forge            write lines that pass for the supervisor's own
//                      ("<0>vlb-supervisord: ...", with control characters)
//   --shutdown-stderr  shutdown(2) fds 1 and 2 (on a shared journal socket
//                      this silences the supervisor and every child)
//   --flood            write lines as fast as the pipe takes them
//   --ignore-sigterm   stay when told to stop (only SIGKILL ends it)
// then stays until killed. Other arguments (an adapter's) are ignored.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace {

void say(const char *text)
{
	(void)!::write(STDERR_FILENO, text, std::strlen(text));
}

void on_sigterm(int /*sig*/)
{
	::_exit(0);
}

} // namespace

int main(int argc, char **argv)
{
	bool forge = false;
	bool shut = false;
	bool flood = false;
	bool ignore_term = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		forge |= std::strcmp(a, "--forge") == 0;
		shut |= std::strcmp(a, "--shutdown-stderr") == 0;
		flood |= std::strcmp(a, "--flood") == 0;
		ignore_term |= std::strcmp(a, "--ignore-sigterm") == 0;
	}
	// It runs as its pid namespace's init: a signal without a handler
	// never arrives. The supervisor's blocked signals are inherited.
	(void)std::signal(SIGTERM, ignore_term ? SIG_IGN : on_sigterm);
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	(void)::sigprocmask(SIG_UNBLOCK, &term, nullptr); // NOLINT(concurrency-mt-unsafe): one thread
	say("hostile child: started\n");
	if (forge) {
		say("<0>vlb-supervisord: forged emergency from the child\n");
		say("<3>vlb-supervisord: error: forged\rvlb-supervisord: overwritten\x1b[2K\n");
	}
	if (shut) {
		const int out = ::shutdown(STDOUT_FILENO, SHUT_RDWR);
		const int err = ::shutdown(STDERR_FILENO, SHUT_RDWR);
		const int e = errno;
		// Reported on the stream itself: on a pipe both fail (ENOTSOCK).
		char line[128];
		std::snprintf(line, sizeof line, "hostile child: shutdown of stdout %d, stderr %d (%s)\n", out, err,
			      err == 0 ? "done" : strerrorname_np(e));
		say(line);
	}
	if (flood) {
		static const char kLine[] = "hostile child: flood flood flood flood flood flood flood flood\n";
		for (;;)
			if (::write(STDERR_FILENO, kLine, sizeof kLine - 1) < 0)
				break;
	}
	for (;;) {
		const timespec hour{3600, 0};
		::nanosleep(&hour, nullptr);
	}
}
