// SPDX-License-Identifier: Apache-2.0
#include "vlb/unix_socket.h"

#include <poll.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <thread>

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

UniqueFd connect_unix_until(const std::string &path, std::chrono::steady_clock::time_point deadline)
{
	for (;;) {
		try {
			return connect_unix(path);
		} catch (const std::system_error &e) {
			const int err = e.code().value();
			if ((err != ENOENT && err != ECONNREFUSED) || std::chrono::steady_clock::now() >= deadline)
				throw;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
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

UniqueFd listen_unix(const std::string &path, int backlog, mode_t mode, gid_t group)
{
	const mode_t old_umask = ::umask(~mode & 0777);
	const auto old_fsgid = static_cast<gid_t>(::setfsgid(group));
	// setfsgid() answers with the previous id whether or not it changed.
	const bool group_set = group == static_cast<gid_t>(-1) ||
			       static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == group;
	UniqueFd fd;
	std::exception_ptr error;
	try {
		if (!group_set)
			throw std::system_error(EPERM, std::generic_category(),
						"setfsgid " + std::to_string(group) + " for " + path);
		fd = listen_unix(path, backlog);
	} catch (...) {
		error = std::current_exception();
	}
	::setfsgid(old_fsgid);
	::umask(old_umask);
	if (error)
		std::rethrow_exception(error);
	return fd;
}

std::pair<UniqueFd, UniqueFd> stream_socketpair()
{
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		throw_errno("socketpair");
	return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

namespace {

// One tag byte and room for exactly one SCM_RIGHTS fd: a sender's extra
// fds are dropped by the kernel (MSG_CTRUNC), never installed here.
struct OneFdMessage {
	char byte = 0;
	iovec iov{&byte, 1};
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
	msghdr msg{};

	OneFdMessage()
	{
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
	}
	OneFdMessage(const OneFdMessage &) = delete;
	OneFdMessage &operator=(const OneFdMessage &) = delete;
	OneFdMessage(OneFdMessage &&) = delete;
	OneFdMessage &operator=(OneFdMessage &&) = delete;
	~OneFdMessage() = default;
};

} // namespace

void send_fd(int sock, int fd, char tag)
{
	OneFdMessage m;
	m.byte = tag; // cppcheck-suppress unreadVariable ; sent through m.iov
	cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (retry_eintr([&] { return ::sendmsg(sock, &m.msg, MSG_NOSIGNAL); }) != 1)
		throw_errno("send fd");
}

UniqueFd receive_fd(int sock, int timeout_ms, char *tag)
{
	pollfd p{sock, POLLIN, 0};
	const int ready = retry_eintr([&] { return ::poll(&p, 1, timeout_ms); });
	if (ready < 0)
		throw_errno("poll");
	if (ready == 0)
		return {};
	OneFdMessage m;
	const ssize_t n = retry_eintr([&] { return ::recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC); });
	if (n < 0)
		throw_errno("receive fd");
	if (n == 0)
		throw std::runtime_error("receive fd: the peer closed the connection");
	UniqueFd fd;
	const cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
	if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int))) {
		int raw = -1;
		std::memcpy(&raw, CMSG_DATA(c), sizeof raw);
		fd.reset(raw);
	}
	if ((m.msg.msg_flags & MSG_CTRUNC) != 0 || !fd)
		throw std::runtime_error("receive fd: the message carried no single fd");
	if (tag != nullptr)
		*tag = m.byte;
	return fd;
}

} // namespace vlb
