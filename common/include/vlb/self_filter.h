// SPDX-License-Identifier: Apache-2.0
// A filter a sandboxed program adds to its own, for good: system calls it
// will never make again are killed in every thread. Raw BPF, not
// libseccomp: libseccomp probes the kernel with seccomp() calls of its
// own, which the sandbox's filter (SECCOMP_SET_MODE_FILTER only) refuses.
// Header-only: the escape probe, built without the project's libraries,
// runs it as the programs do.
#pragma once

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace vlb {

#if defined(__x86_64__)
inline constexpr std::uint32_t kSelfFilterArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
inline constexpr std::uint32_t kSelfFilterArch = AUDIT_ARCH_AARCH64;
#else
inline constexpr std::uint32_t kSelfFilterArch = 0; // unknown: refuse to guess
#endif

// Kills the process on any later call of |nrs|, in every thread. Returns 0
// or -errno: -EACCES outside a sandbox, where no_new_privs is not set and
// the process may not add filters (and has no filter to escape).
inline int forbid_syscalls_for_good(std::initializer_list<int> nrs)
{
	// cppcheck-suppress knownConditionTrueFalse ; 0 only where no audit value is known
	if (kSelfFilterArch == 0)
		return -ENOSYS;
	const auto stmt = [](std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; };
	std::vector<sock_filter> filter = {
		stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
		sock_filter{BPF_JMP | BPF_JEQ | BPF_K, 1, 0, kSelfFilterArch},
		stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
	};
	for (const int nr : nrs) {
		filter.push_back(sock_filter{BPF_JMP | BPF_JEQ | BPF_K, 0, 1, static_cast<std::uint32_t>(nr)});
		filter.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	}
	filter.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	const sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
	const long r = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r == 0)
		return 0;
	// TSYNC answers with the id of a thread it could not synchronize.
	return r > 0 ? -ESRCH : -errno;
}

// The sandbox lets one execveat through, the supervisor's exec of the
// program, by the fd number it used. A filter cannot read the path, and
// the kernel ignores the fd for an absolute one: so every sandboxed
// program, first thing, forbids itself execve and execveat for good.
inline int forbid_exec() { return forbid_syscalls_for_good({__NR_execve, __NR_execveat}); }

} // namespace vlb
