// SPDX-License-Identifier: Apache-2.0
// vhost-user framing and per-request shape checks, over a real socketpair.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/mman.h>

#include <array>
#include <cstring>
#include <thread>

#include "vlb/vu/channel.h"
#include "vlb/vu/frontend.h"
#include "vlb/vu/message.h"

namespace vlb::vu {
namespace {

struct Pair {
	Channel a, b;
	Pair()
	{
		int sv[2];
		EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		a = Channel(UniqueFd(sv[0]));
		b = Channel(UniqueFd(sv[1]));
	}
};

Message make(Request r, std::vector<std::uint8_t> payload, std::uint32_t flags = kVersion)
{
	Message m;
	m.hdr = {static_cast<std::uint32_t>(r), flags, static_cast<std::uint32_t>(payload.size())};
	m.payload = std::move(payload);
	return m;
}

template <typename T> std::vector<std::uint8_t> bytes(const T &v)
{
	std::vector<std::uint8_t> out(sizeof(v));
	std::memcpy(out.data(), &v, sizeof(v));
	return out;
}

UniqueFd an_fd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC)); }

TEST(VuMessage, WellFormedRequestsPass)
{
	EXPECT_NO_THROW(check_request(make(Request::GetFeatures, {})));
	EXPECT_NO_THROW(check_request(make(Request::SetFeatures, bytes(std::uint64_t{1}))));
	EXPECT_NO_THROW(check_request(make(Request::SetVringNum, bytes(VringState{0, 256}))));
	auto kick = make(Request::SetVringKick, bytes(std::uint64_t{0}));
	kick.fds.push_back(an_fd());
	EXPECT_NO_THROW(check_request(kick));
	EXPECT_NO_THROW(check_request(make(Request::SetVringCall, bytes(std::uint64_t{kVringNoFd | 1}))));
}

TEST(VuMessage, WrongSizesAreRejected)
{
	EXPECT_THROW(check_request(make(Request::GetFeatures, {1})), ProtocolError);
	EXPECT_THROW(check_request(make(Request::SetFeatures, {1, 2, 3})), ProtocolError);
	EXPECT_THROW(check_request(make(Request::SetVringAddr, std::vector<std::uint8_t>(39))), ProtocolError);
	auto m = make(Request::SetFeatures, bytes(std::uint64_t{1}));
	m.hdr.size = 16; // header disagrees with what arrived
	EXPECT_THROW(check_request(m), ProtocolError);
}

TEST(VuMessage, FlagsAreChecked)
{
	EXPECT_THROW(check_request(make(Request::GetFeatures, {}, 0)), ProtocolError);
	EXPECT_THROW(check_request(make(Request::GetFeatures, {}, kVersion | kFlagReply)), ProtocolError);
	EXPECT_THROW(check_request(make(Request::GetFeatures, {}, kVersion | 0x100)), ProtocolError);
	EXPECT_NO_THROW(check_request(make(Request::SetOwner, {}, kVersion | kFlagNeedReply)));
}

TEST(VuMessage, FdCountsMustMatch)
{
	// kick without the no-fd flag needs exactly one fd
	EXPECT_THROW(check_request(make(Request::SetVringKick, bytes(std::uint64_t{0}))), ProtocolError);
	auto m = make(Request::SetVringKick, bytes(std::uint64_t{kVringNoFd}));
	m.fds.push_back(an_fd());
	EXPECT_THROW(check_request(m), ProtocolError);
	// an fd on a request that takes none
	auto f = make(Request::GetFeatures, {});
	f.fds.push_back(an_fd());
	EXPECT_THROW(check_request(f), ProtocolError);
	// reserved bits in the vring fd payload
	EXPECT_THROW(check_request(make(Request::SetVringCall, bytes(std::uint64_t{kVringNoFd | 0x10000}))),
		     ProtocolError);
}

TEST(VuMessage, MemTableCountsMustAgree)
{
	std::vector<std::uint8_t> p(sizeof(MemTableHeader) + 2 * sizeof(MemRegion));
	const MemTableHeader h{2, 0};
	std::memcpy(p.data(), &h, sizeof(h));
	auto m = make(Request::SetMemTable, p);
	m.fds.push_back(an_fd());
	m.fds.push_back(an_fd());
	EXPECT_NO_THROW(check_request(m));
	m.fds.pop_back();
	EXPECT_THROW(check_request(m), ProtocolError);

	const MemTableHeader h3{3, 0};
	std::memcpy(p.data(), &h3, sizeof(h3));
	auto n = make(Request::SetMemTable, p);
	for (int i = 0; i < 3; i++)
		n.fds.push_back(an_fd());
	EXPECT_THROW(check_request(n), ProtocolError);

	const MemTableHeader h0{0, 0};
	std::memcpy(p.data(), &h0, sizeof(h0));
	EXPECT_THROW(check_request(make(Request::SetMemTable, p)), ProtocolError);
}

TEST(VuMessage, ConfigSizeMustMatchPayload)
{
	std::vector<std::uint8_t> p(sizeof(ConfigHeader) + 8);
	ConfigHeader h{0, 8, 0};
	std::memcpy(p.data(), &h, sizeof(h));
	EXPECT_NO_THROW(check_request(make(Request::GetConfig, p)));
	h.size = 9;
	std::memcpy(p.data(), &h, sizeof(h));
	EXPECT_THROW(check_request(make(Request::GetConfig, p)), ProtocolError);
}

TEST(VuMessage, UnknownRequestsAreRejected)
{
	Message m;
	m.hdr = {999, kVersion, 0};
	EXPECT_THROW(check_request(m), ProtocolError);
	EXPECT_FALSE(request_shape(999).has_value());
	EXPECT_EQ(request_name(999), "UNKNOWN");
}

TEST(VuMessage, RepliesAreMatchedToTheirRequest)
{
	auto r = make(Request::GetFeatures, bytes(std::uint64_t{1}), kVersion | kFlagReply);
	EXPECT_NO_THROW(check_reply(r, static_cast<std::uint32_t>(Request::GetFeatures)));
	EXPECT_THROW(check_reply(r, static_cast<std::uint32_t>(Request::GetQueueNum)), ProtocolError);
	auto no_flag = make(Request::GetFeatures, bytes(std::uint64_t{1}));
	EXPECT_THROW(check_reply(no_flag, static_cast<std::uint32_t>(Request::GetFeatures)), ProtocolError);
	// GET_INFLIGHT_FD's reply must carry the fd
	InflightInfo info{};
	auto inf = make(Request::GetInflightFd, bytes(info), kVersion | kFlagReply);
	EXPECT_THROW(check_reply(inf, static_cast<std::uint32_t>(Request::GetInflightFd)), ProtocolError);
}

TEST(VuChannel, RoundTripWithFds)
{
	Pair p;
	auto fd = an_fd();
	const int fds[] = {fd.get()};
	p.a.send_value(static_cast<std::uint32_t>(Request::SetVringKick), 0, std::uint64_t{3}, fds);
	auto m = p.b.receive();
	ASSERT_TRUE(m.has_value());
	EXPECT_EQ(m->code(), static_cast<std::uint32_t>(Request::SetVringKick));
	EXPECT_EQ(m->as_u64(), 3U);
	ASSERT_EQ(m->fds.size(), 1U);
	EXPECT_GE(::fcntl(m->fds[0].get(), F_GETFD) & FD_CLOEXEC, 1);
	EXPECT_NO_THROW(check_request(*m));
}

// A back-end that claims an inflight region larger than the fd it sends
// is refused by the reply parser, before anyone maps it (a mapping past a
// memfd's end faults on first touch).
TEST(VuFrontend, InflightFdMustHoldWhatTheReplyClaims)
{
	for (const bool honest : {true, false}) {
		SCOPED_TRACE(honest ? "honest" : "short fd");
		int sv[2];
		ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		Frontend fe{UniqueFd(sv[0])};
		Channel backend{UniqueFd(sv[1])};
		const UniqueFd mem(::memfd_create("inflight-test", MFD_CLOEXEC));
		ASSERT_TRUE(mem.valid());
		ASSERT_EQ(::ftruncate(mem.get(), honest ? 16384 : 4096), 0);
		std::thread peer([&] {
			auto req = backend.receive();
			ASSERT_TRUE(req.has_value());
			const InflightInfo info{16384, 0, 1, 64, {}};
			const int fds[] = {mem.get()};
			backend.send_value(req->code(), kFlagReply, info, fds);
		});
		if (honest)
			EXPECT_EQ(fe.get_inflight_fd(1, 64).mmap_size, 16384U);
		else
			EXPECT_THROW((void)fe.get_inflight_fd(1, 64), ProtocolError);
		peer.join();
	}
}

TEST(VuChannel, CleanEofIsNotAnError)
{
	Pair p;
	p.a.close();
	EXPECT_FALSE(p.b.receive().has_value());
}

TEST(VuChannel, TruncatedMessagesAreErrors)
{
	Pair p;
	const Header h{static_cast<std::uint32_t>(Request::SetFeatures), kVersion, 8};
	ASSERT_EQ(::write(p.a.fd(), &h, sizeof(h)), static_cast<ssize_t>(sizeof(h)));
	ASSERT_EQ(::write(p.a.fd(), "abc", 3), 3);
	p.a.close();
	EXPECT_THROW(p.b.receive(), ProtocolError);

	Pair q;
	ASSERT_EQ(::write(q.a.fd(), &h, 5), 5);
	q.a.close();
	EXPECT_THROW(q.b.receive(), ProtocolError);
}

TEST(VuChannel, OversizedPayloadIsRefusedBeforeReading)
{
	Pair p;
	const Header h{static_cast<std::uint32_t>(Request::SetFeatures), kVersion, 0x7fffffff};
	ASSERT_EQ(::write(p.a.fd(), &h, sizeof(h)), static_cast<ssize_t>(sizeof(h)));
	EXPECT_THROW(p.b.receive(), ProtocolError);
}

TEST(VuChannel, TooManyFdsAreClosedAndRefused)
{
	Pair p;
	std::vector<UniqueFd> owned;
	std::array<int, 12> fds{};
	for (auto &f : fds) {
		owned.push_back(an_fd());
		f = owned.back().get();
	}
	// Bypass Channel::send, which refuses to send this.
	Header h{static_cast<std::uint32_t>(Request::SetOwner), kVersion, 0};
	iovec iov{&h, sizeof(h)};
	alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(fds))> control{};
	msghdr mh{};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.data();
	mh.msg_controllen = control.size();
	cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	std::memcpy(CMSG_DATA(c), fds.data(), sizeof(fds));
	ASSERT_EQ(::sendmsg(p.a.fd(), &mh, 0), static_cast<ssize_t>(sizeof(h)));
	EXPECT_THROW(p.b.receive(), ProtocolError);
}

TEST(VuChannel, TimeoutBoundsTheWait)
{
	Pair p;
	p.b.set_timeout(std::chrono::milliseconds(50));
	EXPECT_THROW(p.b.receive(), ProtocolError);
}

// A peer that sends a message one byte at a time, each byte well inside the
// timeout, must not stretch the wait past it: the bound is the message's.
TEST(VuChannel, TimeoutBoundsTheWholeMessageNotEachByte)
{
	Pair p;
	p.b.set_timeout(std::chrono::milliseconds(400));
	std::thread trickle([fd = p.a.fd()] {
		const std::array<std::uint32_t, 3> hdr{static_cast<std::uint32_t>(Request::GetFeatures), kVersion, 0};
		const auto *b = reinterpret_cast<const std::uint8_t *>(hdr.data()); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
		for (std::size_t i = 0; i < sizeof hdr; ++i) {
			if (::send(fd, b + i, 1, MSG_NOSIGNAL) != 1)
				return; // the receiver gave up and closed its end
			std::this_thread::sleep_for(std::chrono::milliseconds(150));
		}
	});
	try {
		(void)p.b.receive();
		ADD_FAILURE() << "a message trickled over 1.8 s was accepted under a 400 ms timeout";
	} catch (const ProtocolError &e) {
		EXPECT_STREQ(e.what(), "timed out inside a message header");
	}
	p.b.close();
	trickle.join();
}

} // namespace
} // namespace vlb::vu
