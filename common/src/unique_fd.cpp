// SPDX-License-Identifier: Apache-2.0
#include "vlb/unique_fd.h"

#include <unistd.h>

namespace vlb {

void UniqueFd::reset(int fd) noexcept
{
	const int old = std::exchange(fd_, fd);
	// close() is not retried on EINTR: on Linux the fd is released anyway,
	// and a retry could close an fd another thread has just been given.
	if (old >= 0)
		::close(old);
}

} // namespace vlb
