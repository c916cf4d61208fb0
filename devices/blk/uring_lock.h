// SPDX-License-Identifier: Apache-2.0
// io_uring under seccomp: the kernel runs a ring's operations without the
// process's seccomp filter seeing them, so an unrestricted ring would hand
// a compromised vlb-dev-blk socket(), connect(), openat() and the rest.
// Before the device reads any input:
//   1. every ring is created disabled, restricted to the opcodes the
//      engine submits (READV, WRITEV, FSYNC), no SQE flags and no further
//      registration, and only then enabled (setup_engine_ring);
//   2. a filter of its own forbids io_uring_setup to every thread of the
//      process for the rest of its life (forbid_new_rings), so no
//      unrestricted ring can follow.
// The escape probe (tests/sandbox) uses the same two functions.
#pragma once

#include <liburing.h>

namespace vlb::devices {

// A ring of |depth| entries for the engine, reporting completions on
// |eventfd| (none when -1). Returns 0 or -errno; on failure there is no
// ring to tear down.
int setup_engine_ring(unsigned depth, io_uring &ring, int eventfd);

// Kills the process on any later io_uring_setup, in every thread. Returns 0
// or -errno: -EACCES outside a sandbox, where no_new_privs is not set and
// the process may not add filters (and has no filter to escape).
int forbid_new_rings();

} // namespace vlb::devices
