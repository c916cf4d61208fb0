// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "vlb/sys_error.h"

namespace vlb::vu {
namespace {

constexpr std::size_t kMaxFds = kMaxMemRegions;

// Collects every SCM_RIGHTS fd of |mh| into |out| (so each is closed
// exactly once whatever happens next).
void collect_fds(msghdr &mh, std::vector<UniqueFd> &out)
{
	for (cmsghdr *c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (std::size_t i = 0; i < n; i++) {
			int fd = -1;
			std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			out.emplace_back(fd);
		}
	}
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

} // namespace

void Channel::set_timeout(std::chrono::milliseconds timeout)
{
	timeval tv{};
	tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
	tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
	if (::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    ::setsockopt(sock_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		throw_errno("vhost-user socket timeout");
	timeout_ = timeout;
}

void Channel::wait_readable(std::chrono::steady_clock::time_point deadline, const char *timed_out) const
{
	if (timeout_.count() <= 0)
		return;
	for (;;) {
		const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			throw ProtocolError(timed_out);
		pollfd p{sock_.get(), POLLIN, 0};
		const int n = ::poll(&p, 1, static_cast<int>(left.count()));
		if (n > 0)
			return;
		if (n < 0 && errno != EINTR)
			throw_errno("vhost-user poll");
	}
}

std::optional<Message> Channel::receive()
{
	Message msg;
	auto *hdr_bytes = reinterpret_cast<std::uint8_t *>(&msg.hdr);
	std::size_t got = 0;
	alignas(cmsghdr) std::array<char, CMSG_SPACE(kMaxFds * sizeof(int))> control{};

	const auto deadline = std::chrono::steady_clock::now() + timeout_;
	while (got < sizeof(Header)) {
		wait_readable(deadline, got == 0 ? "timed out waiting for the peer" : "timed out inside a message header");
		iovec iov{hdr_bytes + got, sizeof(Header) - got};
		msghdr mh{};
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		// Fds arrive with the first byte of a message only.
		if (got == 0) {
			mh.msg_control = control.data();
			mh.msg_controllen = control.size();
		}
		const ssize_t n = retry_eintr([&] { return ::recvmsg(sock_.get(), &mh, MSG_CMSG_CLOEXEC); });
		if (n < 0) {
			if (would_block(errno))
				throw ProtocolError("timed out waiting for the peer");
			throw_errno("vhost-user recvmsg");
		}
		if (got == 0)
			collect_fds(mh, msg.fds);
		if (mh.msg_flags & MSG_CTRUNC)
			throw ProtocolError("more fds than any request carries");
		if (n == 0) {
			if (got == 0 && msg.fds.empty())
				return std::nullopt;
			throw ProtocolError("connection closed inside a message header");
		}
		got += static_cast<std::size_t>(n);
	}
	if (msg.hdr.size > kMaxPayload)
		throw ProtocolError(std::string(request_name(msg.hdr.request)) + ": payload of " +
				    std::to_string(msg.hdr.size) + " bytes exceeds " +
				    std::to_string(kMaxPayload));
	msg.payload.resize(msg.hdr.size);
	got = 0;
	while (got < msg.payload.size()) {
		wait_readable(deadline, "timed out inside a message payload");
		const ssize_t n = retry_eintr([&] {
			return ::recv(sock_.get(), msg.payload.data() + got, msg.payload.size() - got, 0);
		});
		if (n < 0) {
			if (would_block(errno))
				throw ProtocolError("timed out inside a message payload");
			throw_errno("vhost-user recv");
		}
		if (n == 0)
			throw ProtocolError("connection closed inside a message payload");
		got += static_cast<std::size_t>(n);
	}
	return msg;
}

void Channel::send(std::uint32_t code, std::uint32_t flags, std::span<const std::uint8_t> payload,
		   std::span<const int> fds)
{
	if (fds.size() > kMaxFds || payload.size() > kMaxPayload)
		throw ProtocolError("outgoing message too large");
	Header hdr{code, flags | kVersion, static_cast<std::uint32_t>(payload.size())};
	// sendmsg() takes non-const iovecs but only reads through them.
	std::array<iovec, 2> iov{{{&hdr, sizeof(hdr)},
				  {const_cast<std::uint8_t *>(payload.data()), // NOLINT(cppcoreguidelines-pro-type-const-cast)
				   payload.size()}}};
	alignas(cmsghdr) std::array<char, CMSG_SPACE(kMaxFds * sizeof(int))> control{};
	msghdr mh{};
	mh.msg_iov = iov.data();
	mh.msg_iovlen = payload.empty() ? 1 : 2;
	if (!fds.empty()) {
		mh.msg_control = control.data();
		mh.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
		cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
		std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
	}
	std::size_t total = sizeof(hdr) + payload.size();
	std::size_t sent = 0;
	while (sent < total) {
		const ssize_t n = retry_eintr([&] { return ::sendmsg(sock_.get(), &mh, MSG_NOSIGNAL); });
		if (n < 0) {
			if (would_block(errno))
				throw ProtocolError("timed out sending to the peer");
			throw_errno("vhost-user sendmsg");
		}
		sent += static_cast<std::size_t>(n);
		// A short write: continue with the rest, without the fds again.
		mh.msg_control = nullptr;
		mh.msg_controllen = 0;
		auto left = static_cast<std::size_t>(n);
		while (mh.msg_iovlen > 0 && left >= mh.msg_iov->iov_len) {
			left -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = static_cast<char *>(mh.msg_iov->iov_base) + left;
			mh.msg_iov->iov_len -= left;
		}
	}
}

} // namespace vlb::vu
