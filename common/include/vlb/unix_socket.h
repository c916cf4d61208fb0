// SPDX-License-Identifier: Apache-2.0
// Unix stream sockets by path: connect, or listen after replacing a stale
// socket file (never any other kind of file). Errors throw
// std::system_error naming the path; an over-long path throws
// std::invalid_argument.
#pragma once

#include <string>

#include "vlb/unique_fd.h"

namespace vlb {

UniqueFd connect_unix(const std::string &path);
UniqueFd listen_unix(const std::string &path, int backlog = 1);

} // namespace vlb
