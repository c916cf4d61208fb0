// SPDX-License-Identifier: Apache-2.0
// Starts a program confined by a Spec. The steps run in the child, in this
// fixed order (docs/sandbox.md explains each):
//
//   1. namespaces      clone3() with the Spec's CLONE_NEW* flags; a user
//                      namespace maps exactly the Spec's uid and gid
//   2. fds             the handed-over fds are moved to their numbers,
//                      every other fd is closed
//   3. mounts          minimal root (tmpfs + read-only system libraries)
//   4. rlimits
//   5. identity        supplementary groups dropped, gid, uid (libcap-ng)
//   6. capabilities    only the Spec's, in every set incl. bounding/ambient
//   7. no_new_privs
//   8. Landlock        newest ABI the kernel has; the Spec's paths/ports
//   9. seccomp         baseline profile ± the Spec's changes, loaded last
//  10. execveat        the program, from an fd opened by the caller
//
// Each step's result is reported back to the parent before exec, for the
// logs and for attestation. A failed step kills the child before exec and
// spawn() throws SpawnError naming the step.
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vlb/sandbox/spec.h"
#include "vlb/unique_fd.h"

namespace vlb::sandbox {

struct Exec {
	int binary_fd = -1;            // opened O_PATH or O_RDONLY by the caller
	std::vector<std::string> argv; // argv[0] included
	std::vector<std::string> env;
	// (number in the child, fd in the parent); everything else is closed.
	std::vector<std::pair<int, int>> fds;
	// An empty directory to mount the minimal root on (MountMode::kMinimal).
	std::string root_mountpoint;
};

struct Report {
	std::vector<std::string> applied; // one line per step, in order
	[[nodiscard]] std::string summary() const;
};

struct Child {
	pid_t pid = -1;
	UniqueFd pidfd;
	Report report;
};

class SpawnError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

// Must be called from a single-threaded process: the child runs ordinary
// library code between clone3() and exec.
Child spawn(const Spec &spec, const Exec &exec);

// Landlock ABI of the running kernel, 0 when Landlock is unavailable.
int landlock_abi();

} // namespace vlb::sandbox
