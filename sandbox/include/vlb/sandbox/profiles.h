// SPDX-License-Identifier: Apache-2.0
// Baseline seccomp profiles, one per process role. Each is the set of system
// calls the role's program makes after exec (traced under the host tests and
// reviewed; see src/profiles.cpp for why each call is there). Everything
// else fails with the policy's action.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace vlb::sandbox {

// ioctl is allowed only for requests with (request & mask) == value.
struct IoctlRule {
	std::uint32_t mask;
	std::uint32_t value;
	std::string_view why;
};

struct Profile {
	std::string_view name;
	std::string_view role;
	std::span<const std::string_view> syscalls; // on top of the common base
	std::span<const IoctlRule> ioctls;          // empty: no ioctl at all
};

std::span<const Profile> profiles();
const Profile *find_profile(std::string_view name);

// Calls every process makes: dynamic loader, libc, C++ runtime, event loop.
std::span<const std::string_view> base_syscalls();

// System calls no policy may allow: they reach outside the sandbox (ptrace,
// mount, bpf, module loading, changing identity, ...). Policy validation
// refuses them in [seccomp] allow.
bool is_forbidden_syscall(std::string_view name);
std::span<const std::string_view> forbidden_syscalls();

} // namespace vlb::sandbox
