// SPDX-License-Identifier: Apache-2.0
// One vhost-user message as received: header, payload bytes and the fds
// that came with it, plus the checks that decide whether it is well formed.
//
// Error convention of this library's control plane: a malformed or
// unexpected message throws ProtocolError with a reason fit for the log;
// the connection owner catches it and closes the connection.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "vlb/unique_fd.h"
#include "vlb/vu/protocol.h"

namespace vlb::vu {

class ProtocolError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

struct Message {
	Header hdr{};
	std::vector<std::uint8_t> payload;
	std::vector<UniqueFd> fds;

	[[nodiscard]] std::uint32_t code() const { return hdr.request; }
	[[nodiscard]] bool needs_reply() const { return (hdr.flags & kFlagNeedReply) != 0; }

	// The payload as a T; the size was checked against the request's
	// shape already, this re-checks so a caller mistake cannot overread.
	template <typename T> [[nodiscard]] T as() const
	{
		if (payload.size() < sizeof(T))
			throw ProtocolError(std::string(request_name(hdr.request)) +
					    ": payload too short");
		T v{};
		std::memcpy(&v, payload.data(), sizeof(T));
		return v;
	}
	[[nodiscard]] std::uint64_t as_u64() const { return as<std::uint64_t>(); }

	// Takes fd |i| out of the message.
	[[nodiscard]] UniqueFd take_fd(std::size_t i = 0);
};

// Checks a front-end request: version, flags, supported code, payload size
// (exact, or bounded for variable ones, with the inner counts consistent)
// and fd count. Throws ProtocolError naming what is wrong.
void check_request(const Message &msg);

// Checks the back-end's reply to |request|: reply flag, same code, shape.
void check_reply(const Message &msg, std::uint32_t request);

// Checks a back-end request on the back-end channel.
void check_backend_request(const Message &msg);

// A shared-memory fd a peer sent must really hold [offset, offset + size):
// mapping beyond its end would turn the first access into SIGBUS. Throws
// ProtocolError naming |what| otherwise.
void check_fd_covers(int fd, std::uint64_t offset, std::uint64_t size, const char *what);

} // namespace vlb::vu
