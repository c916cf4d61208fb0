// SPDX-License-Identifier: Apache-2.0
// What a back-end's running rings point into (the memory table, the
// inflight region) is never unmapped under them: a refused SET_MEM_TABLE
// or inflight request closes the connection with the reason, requests in
// flight still complete into the driver's rings, and nothing touches a
// mapping that was let go. (fuzz.vu_backend found the old order: unmap
// first, then fail on the new table, then stop the rings through the
// unmapped memory.)
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "served_backend.h"
#include "vlb/vu/driver.h"

namespace vlb::vu {
namespace {

constexpr std::uint32_t kTag = 0xc0de0000U;

// Holds every chain until its queue is stopped, then completes it: what a
// device with asynchronous I/O does when the front-end stops a ring.
class DeferringDevice final : public Device {
public:
	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 2; }
	void process(VirtQueue &q) override
	{
		Chain c;
		while (q.pop(c)) {
			held_.at(q.index()).push_back(c);
			seen_++;
		}
	}
	void queue_stopped(VirtQueue &q) override
	{
		for (const auto &c : held_.at(q.index())) {
			const std::uint32_t tag = kTag | c.head;
			std::memcpy(c.writable.at(0).data, &tag, sizeof(tag));
			q.complete(c.head, sizeof(tag));
		}
		held_.at(q.index()).clear();
	}
	std::atomic<int> seen_{0};

private:
	std::array<std::vector<Chain>, 2> held_;
};

UniqueFd memory_fd(std::uint64_t bytes)
{
	UniqueFd fd(::memfd_create("other-memory", MFD_CLOEXEC));
	EXPECT_TRUE(fd);
	EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(bytes)), 0);
	return fd;
}

// One request held on each queue; returns their buffers.
std::vector<DriverBuffer> hold_one_per_queue(UserDriver &d, DeferringDevice &dev)
{
	std::vector<DriverBuffer> bufs;
	for (std::uint16_t q = 0; q < 2; q++) {
		bufs.push_back(d.alloc(64));
		const DriverBuffer w[] = {bufs.back()};
		EXPECT_TRUE(d.submit(q, {}, w));
	}
	for (int i = 0; i < 200 && dev.seen_ < 2; i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	EXPECT_EQ(dev.seen_, 2);
	return bufs;
}

void expect_completed(UserDriver &d, const std::vector<DriverBuffer> &bufs)
{
	for (std::uint16_t q = 0; q < 2; q++) {
		const auto done = d.poll(q);
		ASSERT_EQ(done.size(), 1U) << "queue " << q;
		std::uint32_t tag = 0;
		std::memcpy(&tag, d.memory(bufs[q].offset, 4).data(), 4);
		EXPECT_EQ(tag, kTag | done[0].head) << "queue " << q;
	}
}

UserDriver::Options two_queues(bool inflight = false)
{
	UserDriver::Options opt;
	opt.inflight = inflight;
	opt.queues = 2;
	opt.queue_size = 16;
	opt.memory_bytes = 1 << 20;
	return opt;
}

// Runs |request| from the driver while one request per queue is held by
// the device: the back-end must refuse it, close with |reason|, and still
// complete both held requests into the driver's rings.
void expect_refused_and_drained(const std::function<void(UserDriver &)> &request,
				const std::string &reason, bool inflight = false)
{
	auto [fe, be] = socket_pair();
	DeferringDevice dev;
	ServedBackend served(dev, std::move(be));
	UserDriver d(std::move(fe), two_queues(inflight));
	ASSERT_TRUE(!inflight || (d.protocol_features() & bit(pf::kInflightShmfd)));
	const auto bufs = hold_one_per_queue(d, dev);

	EXPECT_ANY_THROW(request(d));
	served.stop();

	EXPECT_NE(served.backend().close_reason().find(reason), std::string::npos)
		<< served.backend().close_reason();
	expect_completed(d, bufs);
}

TEST(RingMemory, RefusedRegionLeavesRunningRingsOnTheOldTable)
{
	// Two regions at the same addresses: the second is refused.
	const auto a = memory_fd(1 << 16);
	const auto b = memory_fd(1 << 16);
	expect_refused_and_drained(
		[&](UserDriver &d) {
			const MemRegion regions[] = {{0, 1 << 16, 0, 0}, {0, 1 << 16, 0, 0}};
			const int fds[] = {a.get(), b.get()};
			d.frontend().set_mem_table(regions, fds);
		},
		"overlaps");
}

TEST(RingMemory, TableWithoutTheRingsStopsEveryQueue)
{
	// A valid table far from the rings: queue 0 cannot restart, and
	// queue 1 must not be left on the old mappings either.
	const auto a = memory_fd(1 << 16);
	expect_refused_and_drained(
		[&](UserDriver &d) {
			const MemRegion regions[] = {{1ULL << 40, 1 << 16, 1ULL << 40, 0}};
			const int fds[] = {a.get()};
			d.frontend().set_mem_table(regions, fds);
		},
		"outside the memory table");
}

TEST(RingMemory, InflightRegionIsNotReplacedUnderRunningRings)
{
	Frontend::Inflight other;
	other.mmap_size = inflight_queue_bytes(16) * 2;
	other.fd = memory_fd(other.mmap_size);
	other.num_queues = 2;
	other.queue_size = 16;
	expect_refused_and_drained([&](UserDriver &d) { d.frontend().set_inflight_fd(other); },
				   "SET_INFLIGHT_FD while a queue runs", true);
}

} // namespace
} // namespace vlb::vu
