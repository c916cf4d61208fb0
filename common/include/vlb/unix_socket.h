// SPDX-License-Identifier: Apache-2.0
// Unix stream sockets by path: connect, or listen after replacing a stale
// socket file (never any other kind of file). Errors throw
// std::system_error naming the path; an over-long path throws
// std::invalid_argument.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>

#include "vlb/unique_fd.h"

namespace vlb {

UniqueFd connect_unix(const std::string &path);
// connect_unix() again every 50 ms while nobody listens at |path| yet (no
// socket file, or no listener on it), until |deadline|; then the last
// error. A back-end started at the same time as its client, or restarted,
// listens a moment later.
UniqueFd connect_unix_until(const std::string &path, std::chrono::steady_clock::time_point deadline);
UniqueFd listen_unix(const std::string &path, int backlog = 1);
// The same, the socket file created with |mode| and, unless -1, owned by
// |group|: no chown or chmod of a path that could have been replaced by
// then, and no CAP_CHOWN. Sets the umask and the fsgid around bind(), so
// only for a single-threaded caller; |group| needs CAP_SETGID.
UniqueFd listen_unix(const std::string &path, int backlog, mode_t mode, gid_t group = static_cast<gid_t>(-1));

// A connected pair of close-on-exec unix stream sockets.
std::pair<UniqueFd, UniqueFd> stream_socketpair();

// Passing one fd over a connected unix socket (SCM_RIGHTS, one tag byte).
void send_fd(int sock, int fd, char tag);
// Waits up to |timeout_ms| (-1: forever). Returns an invalid fd on timeout
// and throws when the peer closed or sent anything but one fd; the fd
// arrives close-on-exec.
UniqueFd receive_fd(int sock, int timeout_ms, char *tag = nullptr);

} // namespace vlb
