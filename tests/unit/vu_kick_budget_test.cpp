// SPDX-License-Identifier: Apache-2.0
// One turn of a back-end's event loop takes at most one ring's worth of
// chains from a queue, then the queue kicks itself and the loop serves its
// other fds first: a driver that refills the ring as fast as the device
// drains it (fuzz.vu_backend found one whose used ring lay over its avail
// ring) cannot hold the back-end in one kick.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "vlb/mapping.h"
#include "vlb/vu/backend.h"

namespace vlb::vu {
namespace {

constexpr std::uint64_t kMem = 1 << 16;
constexpr std::uint64_t kUser = 0x7f00'0000'0000;  // the front-end's address of the region
constexpr std::uint16_t kSize = 8;
constexpr std::uint64_t kAvail = 0x1000, kUsed = 0x2000, kData = 0x4000;

template <typename T> Message message(Request r, const T &payload, UniqueFd fd = {})
{
	Message m;
	m.hdr = {static_cast<std::uint32_t>(r), kVersion, sizeof(T)};
	m.payload.resize(sizeof(T));
	std::memcpy(m.payload.data(), &payload, sizeof(T));
	if (fd)
		m.fds.push_back(std::move(fd));
	return m;
}

bool readable(int fd)
{
	pollfd p{fd, POLLIN, 0};
	return ::poll(&p, 1, 0) == 1;
}

// The driver's side: the test's own view of the region, and a ring of
// kSize one-buffer chains.
class Driver {
public:
	explicit Driver(int fd)
		: view_(Mapping::map(kMem, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, "driver view"))
	{
		for (std::uint16_t i = 0; i < kSize; i++) {
			const VringDesc d{kData + 64 * std::uint64_t{i}, 64, kDescFWrite, 0};
			std::memcpy(at(16 * std::size_t{i}), &d, sizeof(d));
		}
	}
	// Makes |head| available again, as a driver re-posting a buffer does.
	void publish(std::uint16_t head)
	{
		std::uint16_t idx = 0;
		std::memcpy(&idx, at(kAvail + 2), 2);
		std::memcpy(at(kAvail + 4 + 2 * std::size_t{static_cast<std::uint16_t>(idx % kSize)}), &head, 2);
		idx++;
		__atomic_store_n(reinterpret_cast<std::uint16_t *>(at(kAvail + 2)), idx, __ATOMIC_RELEASE);
	}

private:
	std::uint8_t *at(std::size_t off) { return static_cast<std::uint8_t *>(view_.data()) + off; }
	Mapping view_;
};

// Completes every chain and, while |refill| holds, re-posts it at once.
class RefillingDevice final : public Device {
public:
	explicit RefillingDevice(Driver &d) : driver_(d) {}
	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 1; }
	void process(VirtQueue &q) override
	{
		passes_.push_back(0);
		Chain c;
		// The cap keeps a broken budget a failed assertion, not a hang.
		while (passes_.back() < 100 * kSize && q.pop(c)) {
			q.complete(c.head, 0);
			if (refill_)
				driver_.publish(c.head);
			passes_.back()++;
		}
	}
	void stop_refilling() { refill_ = false; }
	// Chains taken in each process() call.
	[[nodiscard]] const std::vector<unsigned> &passes() const { return passes_; }

private:
	Driver &driver_;
	bool refill_ = true;
	std::vector<unsigned> passes_;
};

Message mem_table(UniqueFd fd)
{
	const MemTableHeader h{1, 0};
	const MemRegion r{0, kMem, kUser, 0};
	Message m;
	m.hdr = {static_cast<std::uint32_t>(Request::SetMemTable), kVersion, sizeof(h) + sizeof(r)};
	m.payload.resize(sizeof(h) + sizeof(r));
	std::memcpy(m.payload.data(), &h, sizeof(h));
	std::memcpy(m.payload.data() + sizeof(h), &r, sizeof(r));
	m.fds.push_back(std::move(fd));
	return m;
}

// A back-end for one queue of kSize entries on one memfd region, fed its
// set-up messages directly (no socket thread: the test owns the loop).
class KickBudget : public ::testing::Test {
protected:
	void SetUp() override
	{
		int sv[2];
		ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
		peer_ = UniqueFd(sv[0]);
		backend_conn_ = UniqueFd(sv[1]);
		mem_ = UniqueFd(::memfd_create("budget-mem", MFD_CLOEXEC));
		ASSERT_TRUE(mem_);
		ASSERT_EQ(::ftruncate(mem_.get(), kMem), 0);
		driver_.emplace(mem_.get());
		dev_.emplace(*driver_);
		backend_.emplace(*dev_, std::move(backend_conn_), loop_, log_);
	}
	// Everything up to the kick fd, with the used ring at |used|.
	void set_up_ring(std::uint64_t used)
	{
		std::vector<Message> setup;
		// No PROTOCOL_FEATURES: the ring runs as soon as its kick fd
		// arrives, and that first kick is processed inside handle().
		setup.push_back(message(Request::SetFeatures, std::uint64_t{0}));
		setup.push_back(mem_table(std::move(mem_)));
		setup.push_back(message(Request::SetVringNum, VringState{0, kSize}));
		setup.push_back(message(Request::SetVringAddr,
					VringAddr{0, 0, kUser, kUser + used, kUser + kAvail, 0}));
		setup.push_back(message(Request::SetVringBase, VringState{0, 0}));
		for (auto &m : setup)
			backend_->handle(m);
	}
	// Hands the back-end its kick fd and returns the fd's number.
	int start(UniqueFd kick)
	{
		const int fd = kick.get();
		auto m = message(Request::SetVringKick, std::uint64_t{0}, std::move(kick));
		backend_->handle(m);
		return fd;
	}

	UniqueFd peer_, backend_conn_, mem_;
	const Logger log_{"budget-test", LogLevel::kError};
	EventLoop loop_;
	std::optional<Driver> driver_;
	std::optional<RefillingDevice> dev_;
	std::optional<Backend> backend_;
};

TEST_F(KickBudget, AKickTakesAtMostTheRingSizeThenYields)
{
	for (std::uint16_t i = 0; i < kSize; i++)
		driver_->publish(i);
	set_up_ring(kUsed);
	const int kick = start(UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)));

	const VirtQueue &q = backend_->queue(0);
	const auto &passes = dev_->passes();
	ASSERT_EQ(passes.size(), 1U);
	EXPECT_EQ(passes[0], kSize) << "one kick ran past the ring size";
	EXPECT_EQ(q.counters().yields, 1U);
	EXPECT_TRUE(readable(kick)) << "the queue did not kick itself to come back";

	// The next turn comes back for the rest, and again stops at the size.
	loop_.run_once(std::chrono::milliseconds(0));
	ASSERT_EQ(passes.size(), 2U);
	EXPECT_EQ(passes[1], kSize);
	EXPECT_EQ(q.counters().yields, 2U);

	// A driver that stops refilling: the last ring's worth drains in one
	// turn, and an empty ring asks for no further turn.
	dev_->stop_refilling();
	loop_.run_once(std::chrono::milliseconds(0));
	ASSERT_EQ(passes.size(), 3U);
	EXPECT_EQ(passes[2], kSize);
	EXPECT_EQ(q.counters().yields, 2U);
	EXPECT_FALSE(readable(kick));
	EXPECT_EQ(q.counters().chains, 3U * kSize);
	EXPECT_EQ(q.counters().refused_chains, 0U);
}

// A front-end's blocking eventfd would hang the loop in the kick's drain
// (a counter of 0) or in a signal: the back-end makes every vring fd
// non-blocking as it takes it.
TEST_F(KickBudget, VringFdsBecomeNonBlocking)
{
	set_up_ring(kUsed);
	UniqueFd call(::eventfd(0, EFD_CLOEXEC));
	const int call_fd = call.get();
	auto m = message(Request::SetVringCall, std::uint64_t{0}, std::move(call));
	backend_->handle(m);
	// Signalled once: with the old code the drain returns, and the check fails.
	const int kick = start(UniqueFd(::eventfd(1, EFD_CLOEXEC)));
	EXPECT_NE(::fcntl(kick, F_GETFL) & O_NONBLOCK, 0);
	EXPECT_NE(::fcntl(call_fd, F_GETFL) & O_NONBLOCK, 0);
}

// fuzz/regressions/vu_backend/timeout-2c9ae217: used ring == avail ring.
TEST_F(KickBudget, ARingWhoseUsedRingLiesOverItsAvailRingIsRefused)
{
	set_up_ring(kAvail);
	try {
		start(UniqueFd(::eventfd(0, EFD_CLOEXEC)));
		FAIL() << "the ring was started";
	} catch (const ProtocolError &e) {
		EXPECT_NE(std::string(e.what()).find("overlap"), std::string::npos) << e.what();
	}
	EXPECT_TRUE(dev_->passes().empty());
}

} // namespace
} // namespace vlb::vu
