// SPDX-License-Identifier: Apache-2.0
// What every program's main() does with errors: a usage error
// (std::invalid_argument) is logged with a pointer to --help and exits 2,
// anything else is logged and exits 1.
#pragma once

#include <cstdint>
#include <functional>

#include "vlb/log.h"

namespace vlb {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Whether the program runs in a sandbox and so must never exec anything
// (vlb/self_filter.h): the adapter and the device back-ends.
enum class ExecAfterStart { kAllowed, kForbidden };

int run_program(const Logger &log, const std::function<int()> &body,
		ExecAfterStart exec = ExecAfterStart::kAllowed);

// A command-line number: decimal or 0x-prefixed, nothing before or after
// it (strtoull alone would take " -1" as 2^64-1), at most |max|. Throws
// std::invalid_argument naming |what| otherwise.
std::uint64_t parse_u64(const char *s, const char *what, std::uint64_t max = UINT64_MAX);

} // namespace vlb
