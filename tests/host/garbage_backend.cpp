// SPDX-License-Identifier: Apache-2.0
// vlb-garbage-backend: a vhost-user back-end (an rng, one queue) that
// answers correctly except for one fault, chosen on the command line, so
// tests can check that the adapter refuses each kind of garbage with a
// clear message and never leaves a kernel device half-configured. It
// speaks the wire format by hand on purpose: the library under test must
// not be the one producing the garbage.
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "vlb/unique_fd.h"

namespace {

using vlb::UniqueFd;

constexpr std::uint32_t kVersion = 0x1;
constexpr std::uint32_t kReplyFlag = 0x4;
constexpr std::uint32_t kNeedReply = 0x8;
constexpr std::uint64_t kFeatures = (1ULL << 32) | (1ULL << 30); // VERSION_1, PROTOCOL_FEATURES
constexpr std::uint64_t kProtocolFeatures = (1ULL << 0) | (1ULL << 3); // MQ, REPLY_ACK
constexpr std::uint64_t kBackendReqFeature = 1ULL << 5;                // BACKEND_REQ

enum Req : std::uint32_t {
	kGetFeatures = 1,
	kSetMemTable = 5,
	kGetVringBase = 11,
	kSetVringKick = 12,
	kGetProtocolFeatures = 15,
	kGetQueueNum = 17,
	kSetBackendReqFd = 21,
};

struct Header {
	std::uint32_t request;
	std::uint32_t flags;
	std::uint32_t size;
};

const std::map<std::string, std::string> kFaults = {
	{"short-features", "GET_FEATURES answered with 4 payload bytes instead of 8"},
	{"no-reply-flag", "GET_FEATURES answered without the reply flag"},
	{"wrong-request", "GET_FEATURES answered as if it were GET_PROTOCOL_FEATURES"},
	{"fd-in-reply", "GET_PROTOCOL_FEATURES answered with an fd attached"},
	{"huge-size", "GET_FEATURES answered with a 256 MiB payload size"},
	{"hangup", "the connection closed instead of answering GET_QUEUE_NUM"},
	{"zero-queues", "GET_QUEUE_NUM answered with 0"},
	{"nack-mem-table", "SET_MEM_TABLE refused through REPLY_ACK (after the kernel device exists)"},
	{"hangup-kick", "the connection closed at SET_VRING_KICK (after the kernel device exists)"},
	{"stall-backend-req", "one byte of a BACKEND_REQ message header, then silence (after the kernel device exists)"},
};

bool send_message(int fd, Header h, void *payload, std::size_t len, int pass_fd = -1)
{
	std::array<iovec, 2> iov{{{&h, sizeof h}, {payload, len}}};
	msghdr msg{};
	msg.msg_iov = iov.data();
	msg.msg_iovlen = len != 0 ? 2 : 1;
	alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
	if (pass_fd >= 0) {
		msg.msg_control = control.data();
		msg.msg_controllen = control.size();
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	return ::sendmsg(fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof h + len);
}

// One request: header, payload; the first fd received is kept in |kept|,
// the others are closed at once.
bool receive(int fd, Header &h, std::vector<std::uint8_t> &payload, UniqueFd &kept)
{
	msghdr msg{};
	iovec iov{&h, sizeof h};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 8)> control{};
	msg.msg_control = control.data();
	msg.msg_controllen = control.size();
	if (::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) != static_cast<ssize_t>(sizeof h))
		return false;
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (std::size_t i = 0; i < n; i++) {
			int received = -1;
			std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			UniqueFd closer(received);
			if (i == 0)
				kept = std::move(closer);
		}
	}
	if (h.size > 4096)
		return false;
	payload.resize(h.size);
	return h.size == 0 || ::recv(fd, payload.data(), h.size, MSG_WAITALL) == static_cast<ssize_t>(h.size);
}

bool reply_u64(int fd, std::uint32_t request, std::uint64_t value)
{
	return send_message(fd, {request, kVersion | kReplyFlag, sizeof value}, &value, sizeof value);
}

// Serves one connection. Returns when the adapter hangs up or the fault
// says to.
void serve(int fd, const std::string &fault)
{
	Header h{};
	std::vector<std::uint8_t> payload;
	UniqueFd passed;
	UniqueFd backend_req;
	while (receive(fd, h, payload, passed)) {
		const std::uint32_t req = h.request;
		if (req == kSetBackendReqFd)
			backend_req = std::move(passed);
		if (req == kGetFeatures) {
			std::uint64_t v = kFeatures;
			if (fault == "short-features") {
				send_message(fd, {req, kVersion | kReplyFlag, 4}, &v, 4);
			} else if (fault == "no-reply-flag") {
				send_message(fd, {req, kVersion, sizeof v}, &v, sizeof v);
			} else if (fault == "wrong-request") {
				reply_u64(fd, kGetProtocolFeatures, v);
			} else if (fault == "huge-size") {
				send_message(fd, {req, kVersion | kReplyFlag, 256U << 20}, &v, sizeof v);
			} else {
				reply_u64(fd, req, v);
			}
		} else if (req == kGetProtocolFeatures) {
			std::uint64_t v = kProtocolFeatures | (fault == "stall-backend-req" ? kBackendReqFeature : 0);
			const UniqueFd extra(fault == "fd-in-reply" ? ::dup(STDERR_FILENO) : -1);
			send_message(fd, {req, kVersion | kReplyFlag, sizeof v}, &v, sizeof v, extra.get());
		} else if (req == kGetQueueNum) {
			if (fault == "hangup")
				return;
			reply_u64(fd, req, fault == "zero-queues" ? 0 : 1);
		} else if (req == kGetVringBase) {
			std::array<std::uint32_t, 2> state{};
			if (payload.size() >= sizeof(std::uint32_t))
				std::memcpy(state.data(), payload.data(), sizeof(std::uint32_t));
			send_message(fd, {req, kVersion | kReplyFlag, sizeof state}, state.data(), sizeof state);
		} else if (req == kSetVringKick && fault == "hangup-kick") {
			return;
		} else if (req == kSetVringKick && fault == "stall-backend-req" && backend_req) {
			// The adapter's loop sees the channel readable; the rest of
			// the header never comes.
			const std::uint8_t first = 0;
			(void)!::send(backend_req.get(), &first, 1, MSG_NOSIGNAL);
		}
		if ((h.flags & kNeedReply) != 0 && req != kGetFeatures && req != kGetProtocolFeatures &&
		    req != kGetQueueNum && req != kGetVringBase) {
			const std::uint64_t status = (req == kSetMemTable && fault == "nack-mem-table") ? 1 : 0;
			reply_u64(fd, req, status);
		}
	}
}

int usage(FILE *out, int status)
{
	std::fputs("Usage: vlb-garbage-backend (--fd N | --socket-path PATH) --fault FAULT\n"
		   "A vhost-user rng back-end that answers correctly except for FAULT:\n",
		   out);
	for (const auto &[name, what] : kFaults)
		std::fprintf(out, "  %-16s %s\n", name.c_str(), what.c_str());
	return status;
}

} // namespace

int main(int argc, char **argv)
{
	const std::vector<std::string> args(argv + 1, argv + argc);
	int fd = -1;
	std::string fault;
	std::string path;
	for (std::size_t i = 0; i < args.size(); i++) {
		if (args[i] == "--help" || args[i] == "-h")
			return usage(stdout, 0);
		if (i + 1 < args.size() && args[i] == "--fd")
			fd = std::stoi(args[++i]);
		else if (i + 1 < args.size() && args[i] == "--socket-path")
			path = args[++i];
		else if (i + 1 < args.size() && args[i] == "--fault")
			fault = args[++i];
		else
			return usage(stderr, 2);
	}
	if ((fd < 0) == path.empty() || !kFaults.contains(fault))
		return usage(stderr, 2);
	std::fprintf(stderr, "vlb-garbage-backend: fault %s: %s\n", fault.c_str(), kFaults.at(fault).c_str());
	if (fd >= 0) {
		const UniqueFd sock(fd);
		serve(sock.get(), fault);
		return 0;
	}
	// One connection, then exit: each test starts its own.
	const UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (!listener || path.size() >= sizeof addr.sun_path)
		return 1;
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	::unlink(path.c_str());
	if (::bind(listener.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0 ||
	    ::listen(listener.get(), 1) != 0) {
		std::perror(path.c_str());
		return 1;
	}
	const UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
	::unlink(path.c_str());
	if (!conn)
		return 1;
	serve(conn.get(), fault);
	return 0;
}
