// SPDX-License-Identifier: Apache-2.0
// Signals as file descriptors, for an event loop.
#pragma once

#include <initializer_list>
#include <string>

#include "vlb/unique_fd.h"

namespace vlb {

// Blocks |signals| and returns a non-blocking signalfd that reports them.
// Call it before any thread exists: the mask is then the whole process's.
// Throws std::system_error.
UniqueFd blocked_signalfd(std::initializer_list<int> signals);

// "TERM" for a signal glibc names, its number ("34") for the others (the
// real-time ones, whose sigabbrev_np() is NULL): a process that killed
// itself with any number must not crash whoever describes its death.
std::string signal_abbrev(int sig);

} // namespace vlb
