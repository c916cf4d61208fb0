// SPDX-License-Identifier: Apache-2.0
#include "vlb/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "vlb/sys_error.h"

namespace vlb {
namespace {

sockaddr_un address(const std::string &path)
{
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(sa.sun_path))
		throw std::invalid_argument("unix socket path empty or too long: " + path);
	std::memcpy(sa.sun_path, path.c_str(), path.size() + 1); // NOLINT(cppcoreguidelines-pro-bounds-array-to-pointer-decay): the sockaddr API
	return sa;
}

UniqueFd stream_socket()
{
	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd)
		throw_errno("socket");
	return fd;
}

} // namespace

UniqueFd connect_unix(const std::string &path)
{
	const sockaddr_un sa = address(path);
	UniqueFd fd = stream_socket();
	if (retry_eintr([&] {
		    return ::connect(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): the sockaddr API
	    }) != 0)
		throw_errno("connect " + path);
	return fd;
}

UniqueFd listen_unix(const std::string &path, int backlog)
{
	const sockaddr_un sa = address(path);
	UniqueFd fd = stream_socket();
	struct stat st{};
	if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
		::unlink(path.c_str());
	if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0) // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): the sockaddr API
		throw_errno("bind " + path);
	if (::listen(fd.get(), backlog) != 0)
		throw_errno("listen " + path);
	return fd;
}

} // namespace vlb
