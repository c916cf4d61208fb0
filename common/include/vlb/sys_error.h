// SPDX-License-Identifier: Apache-2.0
// Helpers that turn a failed system call into a std::system_error whose
// message says what was being done, e.g. "open /dev/virtio-loopback: ...".
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace vlb {

[[noreturn]] inline void throw_errno(const std::string &what, int err = errno)
{
	throw std::system_error(err, std::generic_category(), what);
}

// Calls |fn| again while it fails with EINTR; returns its last result.
// strerror() without its shared buffer.
inline std::string errno_string(int err) { return std::generic_category().message(err); }

template <typename Fn> auto retry_eintr(Fn &&fn)
{
	for (;;) {
		auto ret = fn();
		if (ret != -1 || errno != EINTR)
			return ret;
	}
}

} // namespace vlb
