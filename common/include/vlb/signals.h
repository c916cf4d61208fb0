// SPDX-License-Identifier: Apache-2.0
// Signals as file descriptors, for an event loop.
#pragma once

#include <initializer_list>

#include "vlb/unique_fd.h"

namespace vlb {

// Blocks |signals| and returns a non-blocking signalfd that reports them.
// Call it before any thread exists: the mask is then the whole process's.
// Throws std::system_error.
UniqueFd blocked_signalfd(std::initializer_list<int> signals);

} // namespace vlb
