// SPDX-License-Identifier: Apache-2.0
#include "vlb/signals.h"

#include <sys/signalfd.h>

#include <csignal>
#include <cstring>

#include "vlb/sys_error.h"

namespace vlb {

UniqueFd blocked_signalfd(std::initializer_list<int> signals)
{
	sigset_t set;
	sigemptyset(&set);
	for (const int s : signals)
		sigaddset(&set, s);
	if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) // NOLINT(concurrency-mt-unsafe)
		throw_errno("sigprocmask");
	UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!fd)
		throw_errno("signalfd");
	return fd;
}

std::string signal_abbrev(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	return abbrev != nullptr ? std::string(abbrev) : std::to_string(sig);
}

} // namespace vlb
