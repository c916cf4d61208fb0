// SPDX-License-Identifier: Apache-2.0
#include "vlb/program.h"

#include <exception>
#include <stdexcept>

namespace vlb {

int run_program(const Logger &log, const std::function<int()> &body)
{
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

} // namespace vlb
