// SPDX-License-Identifier: Apache-2.0
// Resource limits: soft and hard set alike, so the process cannot raise
// them again.
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "steps.h"
#include "vlb/sys_error.h"

namespace vlb::sandbox::detail {
namespace {

std::string name_of(int resource)
{
	switch (resource) {
	case RLIMIT_NOFILE: return "nofile";
	case RLIMIT_NPROC: return "nproc";
	case RLIMIT_AS: return "as";
	case RLIMIT_MEMLOCK: return "memlock";
	case RLIMIT_FSIZE: return "fsize";
	case RLIMIT_CORE: return "core";
	case RLIMIT_STACK: return "stack";
	case RLIMIT_CPU: return "cpu";
	default: return "resource " + std::to_string(resource);
	}
}

} // namespace

std::string apply_rlimits(const std::vector<Rlimit> &limits)
{
	std::string line = "rlimits:";
	for (const auto &l : limits) {
		const rlimit rl{l.value, l.value};
		if (::setrlimit(static_cast<__rlimit_resource>(l.resource), &rl) != 0)
			throw_errno("setrlimit " + name_of(l.resource));
		line += " " + name_of(l.resource) + "=" + std::to_string(l.value);
	}
	return limits.empty() ? "rlimits: inherited" : line;
}

std::vector<Rlimit> with_nofile_limit(std::vector<Rlimit> limits)
{
	if (std::none_of(limits.begin(), limits.end(), [](const Rlimit &l) { return l.resource == RLIMIT_NOFILE; })) {
		rlimit now{};
		if (::getrlimit(RLIMIT_NOFILE, &now) != 0)
			throw_errno("getrlimit nofile");
		limits.push_back({RLIMIT_NOFILE, now.rlim_cur});
	}
	return limits;
}

void make_room_for_fd(std::uint64_t nofile)
{
	rlimit now{};
	if (::getrlimit(RLIMIT_NOFILE, &now) != 0)
		throw_errno("getrlimit nofile");
	if (nofile > INT32_MAX - 1 || nofile + 1 > now.rlim_max)
		throw std::runtime_error("rlimits: nofile " + std::to_string(nofile) +
					 " is not below the supervisor's own hard limit (" + std::to_string(now.rlim_max) +
					 "): the program's fd is placed at that number");
	if (now.rlim_cur < nofile + 1) {
		const rlimit rl{nofile + 1, now.rlim_max};
		if (::setrlimit(RLIMIT_NOFILE, &rl) != 0)
			throw_errno("setrlimit nofile");
	}
}

} // namespace vlb::sandbox::detail
