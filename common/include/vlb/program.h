// SPDX-License-Identifier: Apache-2.0
// What every program's main() does with errors: a usage error
// (std::invalid_argument) is logged with a pointer to --help and exits 2,
// anything else is logged and exits 1.
#pragma once

#include <functional>

#include "vlb/log.h"

namespace vlb {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run_program(const Logger &log, const std::function<int()> &body);

} // namespace vlb
