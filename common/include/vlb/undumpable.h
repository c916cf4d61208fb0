// SPDX-License-Identifier: Apache-2.0
// Every vlb program's first act: no longer dumpable. execve sets a
// program that runs with its own real ids dumpable again (fs/exec.c), so
// the sandbox cannot do this for it; only the program itself, after exec.
// Undumpable, a process of the same uid can no longer ptrace it, take its
// fds with pidfd_getfd, read its memory (process_vm_readv, /proc/PID/mem)
// or dump its core. The sandbox's seccomp filter allows exactly this prctl
// call. Header-only: the escape probe, built without the project's
// libraries, runs it as the programs do.
#pragma once

#include <sys/prctl.h>

namespace vlb {

// Returns false when the kernel refused (the caller decides whether to go on).
inline bool stop_being_dumpable() { return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0; }

} // namespace vlb
