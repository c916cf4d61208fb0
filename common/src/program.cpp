// SPDX-License-Identifier: Apache-2.0
#include "vlb/program.h"

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "vlb/self_filter.h"
#include "vlb/sys_error.h"
#include "vlb/undumpable.h"

namespace vlb {

int run_program(const Logger &log, const std::function<int()> &body, ExecAfterStart exec)
{
	// Before anything reads input: see undumpable.h.
	if (!stop_being_dumpable()) {
		log.error("prctl(PR_SET_DUMPABLE, 0) failed");
		return kExitFailure;
	}
	if (exec == ExecAfterStart::kForbidden) {
		const int r = forbid_exec();
		if (r == -EACCES) {
			log.debug("not sandboxed: exec stays allowed");
		} else if (r < 0) {
			log.error("forbidding exec: %s", errno_string(-r).c_str());
			return kExitFailure;
		}
	}
	try {
		return body();
	} catch (const std::invalid_argument &e) {
		log.error("%s (see --help)", e.what());
		return kExitUsage;
	} catch (const std::exception &e) {
		log.error("%s", e.what());
		return kExitFailure;
	}
}

std::uint64_t parse_u64(const char *s, const char *what, std::uint64_t max)
{
	if (s == nullptr || *s < '0' || *s > '9')
		throw std::invalid_argument(std::string(what) + ": expected an unsigned number");
	errno = 0;
	char *end = nullptr;
	const unsigned long long v = std::strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		throw std::invalid_argument(std::string(what) + ": '" + s + "' is not an unsigned number");
	if (v > max)
		throw std::invalid_argument(std::string(what) + ": " + s + " is larger than " + std::to_string(max));
	return v;
}

} // namespace vlb
