// SPDX-License-Identifier: Apache-2.0
// The individual steps spawn() runs in the child. Each throws
// std::system_error or std::runtime_error and returns its report line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vlb/sandbox/spec.h"

namespace vlb::sandbox::detail {

// Library directories the dynamic loader reads, and the loader itself.
std::vector<std::string> system_read_paths();
std::string dynamic_loader_path();

std::string build_minimal_root(const std::string &mountpoint, const Spec &spec);
std::string apply_rlimits(const std::vector<Rlimit> &limits);
// |limits| with a nofile limit always: the inherited soft one if none is
// given. Its value is where the program's fd waits for the exec (spawn.cpp).
std::vector<Rlimit> with_nofile_limit(std::vector<Rlimit> limits);
// Lets this process place an fd at number |nofile| until apply_rlimits().
void make_room_for_fd(std::uint64_t nofile);
std::string apply_identity_and_capabilities(const Spec &spec);
std::string apply_landlock(const LandlockRules &rules, int binary_fd);
std::string apply_seccomp(const SeccompRules &rules, int binary_fd);

} // namespace vlb::sandbox::detail
