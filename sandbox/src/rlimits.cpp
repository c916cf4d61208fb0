// SPDX-License-Identifier: Apache-2.0
// Resource limits: soft and hard set alike, so the process cannot raise
// them again.
#include <sys/resource.h>

#include <array>
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

} // namespace vlb::sandbox::detail
