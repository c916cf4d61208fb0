// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/message.h"

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "vlb/sys_error.h"

namespace vlb::vu {
namespace {

[[noreturn]] void reject(const Message &msg, const std::string &why)
{
	throw ProtocolError(std::string(request_name(msg.code())) + " (" +
			    std::to_string(msg.code()) + "): " + why);
}

void check_shape(const Message &msg, const RequestShape &shape)
{
	const auto size = msg.payload.size();
	if (msg.hdr.size != size)
		reject(msg, "header size disagrees with payload");
	if (size < shape.min_size || size > shape.max_size)
		reject(msg, "payload of " + std::to_string(size) + " bytes, expected " +
				    (shape.min_size == shape.max_size
					     ? std::to_string(shape.min_size)
					     : std::to_string(shape.min_size) + ".." +
						       std::to_string(shape.max_size)));
	const auto nfds = msg.fds.size();
	if (nfds < shape.min_fds || nfds > shape.max_fds)
		reject(msg, std::to_string(nfds) + " fds attached, expected " +
				    std::to_string(shape.min_fds) +
				    (shape.min_fds == shape.max_fds
					     ? std::string()
					     : ".." + std::to_string(shape.max_fds)));
}

// Variable-size payloads must agree with the counts inside them.
void check_inner(const Message &msg)
{
	switch (static_cast<Request>(msg.code())) {
	case Request::SetMemTable: {
		const auto h = msg.as<MemTableHeader>();
		if (h.nregions == 0 || h.nregions > kMaxMemRegions)
			reject(msg, "nregions " + std::to_string(h.nregions) + " out of 1.." +
					    std::to_string(kMaxMemRegions));
		if (msg.payload.size() != sizeof(MemTableHeader) + h.nregions * sizeof(MemRegion))
			reject(msg, "payload size does not match nregions");
		if (msg.fds.size() != h.nregions)
			reject(msg, "fd count does not match nregions");
		break;
	}
	case Request::SetVringKick:
	case Request::SetVringCall:
	case Request::SetVringErr: {
		const auto v = msg.as_u64();
		if (v & ~(kVringIndexMask | kVringNoFd))
			reject(msg, "reserved bits set");
		const std::size_t want = (v & kVringNoFd) ? 0 : 1;
		if (msg.fds.size() != want)
			reject(msg, "fd presence disagrees with the no-fd flag");
		break;
	}
	case Request::GetConfig:
	case Request::SetConfig: {
		const auto h = msg.as<ConfigHeader>();
		if (msg.payload.size() != sizeof(ConfigHeader) + std::size_t{h.size})
			reject(msg, "config size disagrees with payload");
		break;
	}
	default:
		break;
	}
}

void check_header_flags(const Message &msg, bool reply)
{
	if ((msg.hdr.flags & kVersionMask) != kVersion)
		reject(msg, "unsupported protocol version " +
				    std::to_string(msg.hdr.flags & kVersionMask));
	if (((msg.hdr.flags & kFlagReply) != 0) != reply)
		reject(msg, reply ? "reply flag missing" : "reply flag set on a request");
	const std::uint32_t known = kVersionMask | kFlagReply | kFlagNeedReply;
	if (msg.hdr.flags & ~known)
		reject(msg, "unknown header flags");
}

} // namespace

UniqueFd Message::take_fd(std::size_t i)
{
	if (i >= fds.size())
		throw ProtocolError(std::string(request_name(hdr.request)) + ": fd missing");
	return std::move(fds[i]);
}

void check_request(const Message &msg)
{
	check_header_flags(msg, false);
	const auto shape = request_shape(msg.code());
	if (!shape)
		reject(msg, "unsupported request");
	check_shape(msg, *shape);
	check_inner(msg);
}

void check_reply(const Message &msg, std::uint32_t request)
{
	check_header_flags(msg, true);
	if (msg.code() != request)
		throw ProtocolError("reply to " + std::string(request_name(msg.code())) +
				    " while waiting for " + std::string(request_name(request)));
	const auto shape = reply_shape(request);
	if (!shape)
		reject(msg, "no reply expected");
	check_shape(msg, *shape);
	if (msg.code() == static_cast<std::uint32_t>(Request::GetConfig))
		check_inner(msg);
}

void check_backend_request(const Message &msg)
{
	check_header_flags(msg, false);
	switch (static_cast<BackendRequest>(msg.code())) {
	case BackendRequest::ConfigChangeMsg:
		check_shape(msg, RequestShape{0, 0, 0, 0, false});
		return;
	default:
		throw ProtocolError("back-end request " + std::to_string(msg.code()) +
				    " not supported");
	}
}

void check_fd_covers(int fd, std::uint64_t offset, std::uint64_t size, const char *what)
{
	struct stat st{};
	if (::fstat(fd, &st) != 0)
		throw_errno(std::string("fstat ") + what);
	if (size > UINT64_MAX - offset || !S_ISREG(st.st_mode) ||
	    static_cast<std::uint64_t>(st.st_size) < offset + size)
		throw ProtocolError(std::string(what) + ": fd is not a file covering " + std::to_string(size) +
				    " bytes at offset " + std::to_string(offset));
}

} // namespace vlb::vu
