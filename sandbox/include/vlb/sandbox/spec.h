// SPDX-License-Identifier: Apache-2.0
// What the sandbox applies to one process. A policy file (policy/) becomes
// one Spec per process; the supervisor adds the fds it hands over.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vlb::sandbox {

// Namespaces the process gets fresh copies of (bit set of these values).
enum Namespace : unsigned {
	kNsUser = 1U << 0,
	kNsMount = 1U << 1,
	kNsPid = 1U << 2,
	kNsNet = 1U << 3,
	kNsIpc = 1U << 4,
	kNsUts = 1U << 5,
	kNsCgroup = 1U << 6,
};
inline constexpr unsigned kAllNamespaces = 0x7f;

// Filesystem view: "none" leaves the mount table alone (Landlock still
// restricts access); "minimal" pivots into an empty tmpfs that holds only
// the system's library directories, /dev/{null,zero,urandom} and the
// policy's Landlock paths. "minimal" needs the mount namespace.
enum class MountMode { kNone, kMinimal };

enum class SeccompAction { kKillProcess, kErrno, kLog };

struct Rlimit {
	int resource = 0; // RLIMIT_*
	std::uint64_t value = 0; // soft and hard
};

struct LandlockRules {
	std::vector<std::string> read;  // files and directories, read-only
	std::vector<std::string> write; // read and write, create and remove beneath
	std::vector<std::string> exec;  // may be executed (the binary is added)
	std::vector<std::uint16_t> tcp_bind;    // network rules (Landlock ABI 4+)
	std::vector<std::uint16_t> tcp_connect;
	// Start anyway, with what the kernel supports, when the kernel lacks a
	// Landlock feature the rules need. Off: refuse to start.
	bool best_effort = false;
};

struct SeccompRules {
	std::string profile;             // baseline name (profiles.h)
	std::vector<std::string> allow;  // syscalls added to the profile
	std::vector<std::string> deny;   // syscalls removed from it
	SeccompAction action = SeccompAction::kKillProcess;
	int errno_value = 1;             // EPERM, with kErrno
};

struct Spec {
	unsigned namespaces = 0;
	MountMode mount = MountMode::kNone;
	std::vector<Rlimit> rlimits;
	uid_t uid = 65534;
	gid_t gid = 65534;
	std::vector<std::string> capabilities; // kept; none by default
	LandlockRules landlock;
	SeccompRules seccomp;
};

} // namespace vlb::sandbox
