// SPDX-License-Identifier: Apache-2.0
// A back-end that dies with requests in flight: the next one resumes them
// from the inflight region, each exactly once, and the ring carries on.
// Real sockets and shared memory; the "crash" drops the first back-end
// without it writing anything more, which is all a crash leaves behind.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <thread>

#include "served_backend.h"
#include "vlb/vu/driver.h"

namespace vlb::vu {
namespace {

class HoldingDevice final : public Device {
public:
	explicit HoldingDevice(bool hold) : hold_(hold) {}
	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 1; }
	void process(VirtQueue &q) override
	{
		Chain c;
		while (q.pop(c)) {
			seen_++;
			if (hold_)
				continue;  // popped, never completed: in flight
			const std::uint32_t tag = 0xab000000U | c.head;
			std::memcpy(c.writable.at(0).data, &tag, sizeof(tag));
			q.complete(c.head, sizeof(tag));
		}
	}
	std::atomic<int> seen_{0};

private:
	bool hold_;
};

TEST(Inflight, RestartedBackendCompletesEveryRequestExactlyOnce)
{
	UserDriver::Options opt;
	opt.queue_size = 16;
	opt.inflight = true;
	auto [fe1, be1] = socket_pair();
	HoldingDevice holder(true);
	auto first = std::make_unique<ServedBackend>(holder, std::move(be1));
	UserDriver d(std::move(fe1), opt);
	ASSERT_TRUE(d.protocol_features() & bit(pf::kInflightShmfd));

	std::map<std::uint16_t, DriverBuffer> bufs;
	for (int i = 0; i < 5; i++) {
		auto b = d.alloc(64);
		const DriverBuffer w[] = {b};
		auto head = d.submit(0, {}, w);
		ASSERT_TRUE(head);
		bufs[*head] = b;
	}
	for (int i = 0; i < 100 && holder.seen_ < 5; i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	ASSERT_EQ(holder.seen_, 5);
	first.reset();  // the crash: nothing completed

	auto [fe2, be2] = socket_pair();
	HoldingDevice server(false);
	ServedBackend second(server, std::move(be2));
	d.reconnect(std::move(fe2));

	std::map<std::uint16_t, int> completed;
	for (int tries = 0; tries < 50 && completed.size() < 5; tries++)
		for (const auto &c : d.wait(0, std::chrono::milliseconds(100))) {
			completed[c.head]++;
			std::uint32_t tag = 0;
			std::memcpy(&tag, d.memory(bufs.at(c.head).offset, 4).data(), 4);
			EXPECT_EQ(tag, 0xab000000U | c.head);
		}
	ASSERT_EQ(completed.size(), 5U);
	for (const auto &[head, n] : completed)
		EXPECT_EQ(n, 1) << "head " << head;
	EXPECT_EQ(server.seen_, 5);

	// and new requests after the restart go through normally
	auto b = d.alloc(64);
	const DriverBuffer w[] = {b};
	ASSERT_TRUE(d.submit(0, {}, w));
	auto more = d.wait(0, std::chrono::seconds(2));
	ASSERT_EQ(more.size(), 1U);
	EXPECT_EQ(server.seen_, 6);
	EXPECT_EQ(d.in_flight(0), 0);
}

} // namespace
} // namespace vlb::vu
