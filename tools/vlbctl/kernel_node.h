// SPDX-License-Identifier: Apache-2.0
// Access to the kernel module's control node, /dev/virtio-loopback.
#pragma once

#include <cstdint>
#include <string>

#include "vlb/unique_fd.h"

namespace vlb {

inline constexpr const char *kDefaultControlNode = "/dev/virtio-loopback";

struct AbiVersion {
	std::uint32_t major = 0;
	std::uint32_t minor = 0;
};

class KernelNode {
public:
	// Opens |path| read-write, close-on-exec; throws std::system_error.
	explicit KernelNode(const std::string &path = kDefaultControlNode);

	// VLB_IOC_GET_VERSION; throws std::system_error.
	[[nodiscard]] AbiVersion version() const;

	[[nodiscard]] int fd() const noexcept { return fd_.get(); }

private:
	std::string path_;
	UniqueFd fd_;
};

// True when user space built against |built| can talk to a kernel at
// |running|: same major; a newer kernel minor only adds.
[[nodiscard]] bool abi_compatible(AbiVersion built, AbiVersion running) noexcept;

} // namespace vlb
