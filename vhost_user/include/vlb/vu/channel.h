// SPDX-License-Identifier: Apache-2.0
// Channel: one end of a vhost-user unix stream socket. Frames messages,
// carries fds with SCM_RIGHTS (received close-on-exec), and refuses
// oversized or fd-truncated messages before anything parses them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "vlb/unique_fd.h"
#include "vlb/vu/message.h"

namespace vlb::vu {

class Channel {
public:
	Channel() = default;
	explicit Channel(UniqueFd sock) : sock_(std::move(sock)) {}

	// Bounds every wait for the peer; zero means wait forever. A front-end
	// talking to an untrusted back-end sets one, so it cannot be stalled.
	// A message received is bounded as a whole: a peer that trickles one
	// byte just inside the timeout cannot stretch it.
	void set_timeout(std::chrono::milliseconds timeout);

	// Next message; nullopt on a clean EOF between messages. Throws
	// ProtocolError on a short, oversized or fd-truncated message and
	// std::system_error on socket errors. Shape checks are the caller's.
	std::optional<Message> receive();

	void send(std::uint32_t code, std::uint32_t flags, std::span<const std::uint8_t> payload,
		  std::span<const int> fds = {});

	template <typename T>
	void send_value(std::uint32_t code, std::uint32_t flags, const T &v,
			std::span<const int> fds = {})
	{
		// A trivially copyable payload struct viewed as its bytes.
		send(code, flags,
		     std::span<const std::uint8_t>(
			     reinterpret_cast<const std::uint8_t *>(&v), // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
			     sizeof(v)),
		     fds);
	}

	[[nodiscard]] int fd() const { return sock_.get(); }
	[[nodiscard]] bool valid() const { return sock_.valid(); }
	void close() { sock_.reset(); }

private:
	// Waits until the socket is readable or the message's |deadline|
	// passes; throws ProtocolError(|timed_out|) then. No-op without a
	// timeout.
	void wait_readable(std::chrono::steady_clock::time_point deadline, const char *timed_out) const;

	UniqueFd sock_;
	std::chrono::milliseconds timeout_{0};
};

} // namespace vlb::vu
