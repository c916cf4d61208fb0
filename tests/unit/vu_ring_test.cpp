// SPDX-License-Identifier: Apache-2.0
// Split ring and memory table: every way a hostile driver can corrupt a
// ring must be an error value, never an out-of-bounds access.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "vlb/mapping.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/memory_table.h"
#include "vlb/vu/message.h"
#include "vlb/vu/split_ring.h"

namespace vlb::vu {
namespace {

constexpr std::uint64_t kGuestBase = 0x100000;  // guest-physical base of the region
constexpr std::uint64_t kMem = 1 << 20;
constexpr std::uint16_t kSize = 8;

class RingTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		UniqueFd fd(::memfd_create("ring-test", MFD_CLOEXEC));
		ASSERT_TRUE(fd.valid());
		ASSERT_EQ(::ftruncate(fd.get(), kMem), 0);
		view_ = Mapping::map(kMem, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0, "test view");
		mem_.add(MemRegion{kGuestBase, kMem, 0x7000'0000'0000, 0}, std::move(fd));
		desc_ = base();
		avail_ = base() + 0x1000;
		used_ = base() + 0x2000;
	}

	[[nodiscard]] std::uint8_t *base() const { return static_cast<std::uint8_t *>(view_.data()); }
	SplitRing ring(std::uint64_t features = 0)
	{
		return SplitRing({mem_.guest_to_host(kGuestBase, 16), mem_.guest_to_host(kGuestBase + 0x1000, 2),
				  mem_.guest_to_host(kGuestBase + 0x2000, 4)},
				 kSize, features);
	}
	void set_desc(std::uint16_t i, std::uint64_t addr, std::uint32_t len, std::uint16_t flags,
		      std::uint16_t next = 0, std::uint8_t *table = nullptr)
	{
		const VringDesc d{addr, len, flags, next};
		std::memcpy((table ? table : desc_) + std::size_t{16} * i, &d, sizeof(d));
	}
	void publish(std::uint16_t head)
	{
		std::uint16_t idx = 0;
		std::memcpy(&idx, avail_ + 2, 2);
		std::memcpy(avail_ + 4 + std::size_t{2} * (idx % kSize), &head, 2);
		idx++;
		std::memcpy(avail_ + 2, &idx, 2);
	}
	[[nodiscard]] static std::uint64_t data(std::uint64_t off) { return kGuestBase + 0x10000 + off; }

	Mapping view_;
	MemoryTable mem_;
	std::uint8_t *desc_ = nullptr, *avail_ = nullptr, *used_ = nullptr;
};

TEST_F(RingTest, WalksAReadThenWriteChain)
{
	auto r = ring();
	set_desc(0, data(0), 16, kDescFNext, 1);
	set_desc(1, data(0x1000), 512, kDescFWrite | kDescFNext, 2);
	set_desc(2, data(0x2000), 1, kDescFWrite);
	publish(0);
	bool broken = false;
	auto head = r.pop(broken);
	ASSERT_TRUE(head.has_value());
	Chain c;
	ASSERT_EQ(r.walk(*head, mem_, c), ChainError::kNone);
	EXPECT_EQ(c.readable.size(), 1U);
	EXPECT_EQ(c.writable.size(), 2U);
	EXPECT_EQ(c.readable_bytes, 16U);
	EXPECT_EQ(c.writable_bytes, 513U);
	EXPECT_EQ(c.readable[0].data, mem_.guest_to_host(data(0), 16));
	base()[0x10000] = 0x5a;  // same bytes through the test's own view
	EXPECT_EQ(c.readable[0].data[0], 0x5a);
	EXPECT_FALSE(r.pop(broken).has_value());
	EXPECT_FALSE(broken);
}

TEST_F(RingTest, LoopIsDetected)
{
	auto r = ring();
	set_desc(0, data(0), 16, kDescFNext, 1);
	set_desc(1, data(0), 16, kDescFNext, 0);
	Chain c;
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kTooLong);
}

TEST_F(RingTest, IndicesOutOfRange)
{
	auto r = ring();
	Chain c;
	EXPECT_EQ(r.walk(kSize, mem_, c), ChainError::kHeadOutOfRange);
	set_desc(0, data(0), 16, kDescFNext, /*next=*/kSize); // NOLINT(readability-suspicious-call-argument)
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kNextOutOfRange);
}

TEST_F(RingTest, BuffersOutsideMemoryAreRejected)
{
	auto r = ring();
	Chain c;
	set_desc(0, kGuestBase - 1, 2, 0);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOutOfRegion);
	set_desc(0, kGuestBase + kMem - 4, 8, 0);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOutOfRegion);
	set_desc(0, std::numeric_limits<std::uint64_t>::max() - 2, 16, 0);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOutOfRegion);
	// zero-length descriptors carry no memory and are skipped
	set_desc(0, 0, 0, 0);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kNone);
	EXPECT_TRUE(c.readable.empty());
}

TEST_F(RingTest, ReadableAfterWritableIsRejected)
{
	auto r = ring();
	set_desc(0, data(0), 16, kDescFWrite | kDescFNext, 1);
	set_desc(1, data(0x100), 16, 0);
	Chain c;
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kReadableAfterWritable);
}

TEST_F(RingTest, IndirectRules)
{
	std::uint8_t *table = base() + 0x8000;
	const std::uint64_t table_gpa = kGuestBase + 0x8000;
	set_desc(0, data(0), 16, kDescFNext, 1, table);
	set_desc(1, data(0x100), 8, kDescFWrite, 0, table);
	set_desc(0, table_gpa, 32, kDescFIndirect);
	Chain c;
	EXPECT_EQ(ring().walk(0, mem_, c), ChainError::kIndirectNotNegotiated);
	auto r = ring(bit(kFRingIndirectDesc));
	ASSERT_EQ(r.walk(0, mem_, c), ChainError::kNone);
	EXPECT_EQ(c.readable_bytes, 16U);
	EXPECT_EQ(c.writable_bytes, 8U);

	set_desc(0, table_gpa, 24, kDescFIndirect);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kIndirectBadSize);
	set_desc(0, table_gpa, 32, kDescFIndirect | kDescFNext, 1);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kIndirectWithNext);
	set_desc(1, table_gpa, 32, kDescFIndirect, 0, table);
	set_desc(0, table_gpa, 32, kDescFIndirect);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kIndirectNested);
	// a loop inside the indirect table
	set_desc(0, data(0), 16, kDescFNext, 1, table);
	set_desc(1, data(0), 16, kDescFNext, 0, table);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kTooLong);
	// indirect table itself outside memory
	set_desc(0, kGuestBase + kMem - 16, 32, kDescFIndirect);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOutOfRegion);
}

// fuzz.vu_backend's hang (fuzz/regressions/vu_backend): a device that
// writes a buffer lying over the avail ring publishes requests itself, and
// one that writes over the descriptor table rewrites the chain it walks.
TEST_F(RingTest, BuffersOverTheRingAreRefused)
{
	auto r = ring(bit(kFRingIndirectDesc));
	Chain c;
	// A writable buffer covering the avail ring's index and entries.
	set_desc(0, data(0), 16, kDescFNext, 1);
	set_desc(1, kGuestBase + 0x1000, 64, kDescFWrite);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOverlapsRing);
	// One byte of overlap is enough, at either end of each part.
	set_desc(1, kGuestBase + 0x1000 + avail_ring_bytes(kSize) - 1, 1, kDescFWrite);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOverlapsRing);
	set_desc(1, kGuestBase + 0x2000 - 8, 9, kDescFWrite);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOverlapsRing);
	set_desc(1, kGuestBase + desc_table_bytes(kSize) - 1, 4, kDescFWrite);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOverlapsRing);
	// Readable ones too: no driver puts a request in its own ring.
	set_desc(0, kGuestBase + 0x2000 + used_ring_bytes(kSize) - 2, 2, 0);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOverlapsRing);
	// And an indirect table.
	set_desc(0, kGuestBase + 0x1000, 32, kDescFIndirect);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kOverlapsRing);
	// Right next to each part is fine.
	set_desc(0, kGuestBase + 0x1000 + avail_ring_bytes(kSize), 16, kDescFNext, 1);
	set_desc(1, kGuestBase + 0x2000 + used_ring_bytes(kSize), 64, kDescFWrite);
	EXPECT_EQ(r.walk(0, mem_, c), ChainError::kNone);
}

// The per-turn allowance counts descriptors: a chain of one indirect
// table of many walks them all.
TEST_F(RingTest, WalksCountTheirDescriptors)
{
	std::uint8_t *table = base() + 0x8000;
	for (std::uint16_t i = 0; i < 100; i++)
		set_desc(i, 0, 0, i + 1 < 100 ? kDescFNext : 0, static_cast<std::uint16_t>(i + 1), table);
	set_desc(0, kGuestBase + 0x8000, 100 * 16, kDescFIndirect);
	auto r = ring(bit(kFRingIndirectDesc));
	Chain c;
	ASSERT_EQ(r.walk(0, mem_, c), ChainError::kNone);
	EXPECT_EQ(c.descriptors, 101U);
}

TEST(RingLayout, PartsThatShareAByteOverlap)
{
	std::vector<std::uint8_t> m(0x3000);
	std::uint8_t *p = m.data();
	EXPECT_FALSE(ring_parts_overlap({p, p + 0x1000, p + 0x2000}, kSize));
	// fuzz.vu_backend's hang: the used ring at the avail ring's address.
	EXPECT_TRUE(ring_parts_overlap({p, p + 0x1000, p + 0x1000}, kSize));
	EXPECT_TRUE(ring_parts_overlap({p, p + desc_table_bytes(kSize) - 1, p + 0x2000}, kSize));
	EXPECT_TRUE(ring_parts_overlap({p + 0x2000, p + 0x1000, p + 0x1000 + avail_ring_bytes(kSize) - 2}, kSize));
	EXPECT_TRUE(ring_parts_overlap({p + 0x2000 + 4, p, p + 0x2000}, kSize));
	EXPECT_FALSE(ring_parts_overlap({p, p + desc_table_bytes(kSize), p + 0x2000}, kSize));
}

TEST_F(RingTest, AvailIndexRunningAheadBreaksTheRing)
{
	auto r = ring();
	const std::uint16_t idx = kSize + 1;
	std::memcpy(avail_ + 2, &idx, 2);
	bool broken = false;
	EXPECT_FALSE(r.pop(broken).has_value());
	EXPECT_TRUE(broken);
}

TEST_F(RingTest, UsedEntriesAndNotification)
{
	auto r = ring();
	r.push_used(3, 77);
	std::uint16_t idx = 0;
	std::memcpy(&idx, used_ + 2, 2);
	EXPECT_EQ(idx, 1);
	std::uint32_t elem[2];
	std::memcpy(elem, used_ + 4, 8);
	EXPECT_EQ(elem[0], 3U);
	EXPECT_EQ(elem[1], 77U);
	EXPECT_TRUE(r.should_notify());
	const std::uint16_t no_interrupt = kAvailFNoInterrupt;
	std::memcpy(avail_, &no_interrupt, 2);
	EXPECT_FALSE(r.should_notify());
}

TEST_F(RingTest, EventIdxSuppressesUntilTheDriversIndex)
{
	auto r = ring(bit(kFRingEventIdx));
	r.push_used(0, 1);
	EXPECT_TRUE(r.should_notify()); // first signal always goes
	const std::uint16_t used_event = 2;  // driver wants a signal after entry 2
	std::memcpy(avail_ + 4 + std::size_t{2} * kSize, &used_event, 2);
	r.push_used(1, 1);
	EXPECT_FALSE(r.should_notify());
	r.push_used(2, 1);
	EXPECT_TRUE(r.should_notify());
}

// One file range at two guest addresses is one memory twice: a buffer in
// the alias of a ring would pass every check that compares addresses.
TEST(MemoryTableTest, RefusesAliasesOfOneFileRange)
{
	UniqueFd fd(::memfd_create("alias", MFD_CLOEXEC));
	ASSERT_EQ(::ftruncate(fd.get(), 1 << 20), 0);
	MemoryTable t;
	t.add(MemRegion{0, 1 << 16, 0x1000'0000, 0}, UniqueFd(::dup(fd.get())));
	EXPECT_THROW(t.add(MemRegion{1 << 20, 1 << 16, 0x2000'0000, 0x8000}, UniqueFd(::dup(fd.get()))),
		     ProtocolError);
	// Another range of the same file is another memory.
	EXPECT_NO_THROW(t.add(MemRegion{1 << 20, 1 << 16, 0x2000'0000, 1 << 16}, UniqueFd(::dup(fd.get()))));
}

TEST(MemoryTableTest, RejectsBadRegions)
{
	MemoryTable m;
	auto fd = [] {
		UniqueFd f(::memfd_create("mt", MFD_CLOEXEC));
		EXPECT_EQ(::ftruncate(f.get(), 8192), 0);
		return f;
	};
	EXPECT_THROW(m.add(MemRegion{0, 0, 0, 0}, fd()), ProtocolError);
	EXPECT_THROW(m.add(MemRegion{~0ULL - 10, 4096, 0, 0}, fd()), ProtocolError);
	EXPECT_THROW(m.add(MemRegion{0, 4096, ~0ULL - 10, 0}, fd()), ProtocolError);
	EXPECT_THROW(m.add(MemRegion{0x100000, std::uint64_t{3} * 4096, 0x100000, 0}, fd()), ProtocolError);  // file is 2 pages
	m.add(MemRegion{0, 4096, 0x10000, 0}, fd());
	EXPECT_THROW(m.add(MemRegion{2048, 4096, 0x20000, 0}, fd()), ProtocolError);
	EXPECT_THROW(m.add(MemRegion{0x8000, 4096, 0x10800, 0}, fd()), ProtocolError);
	m.add(MemRegion{4096, 4096, 0x11000, 4096}, fd());
	EXPECT_EQ(m.size(), 2U);
	EXPECT_NE(m.guest_to_host(4096, 4096), nullptr);
	EXPECT_EQ(m.guest_to_host(4096, 4097), nullptr);  // spans into nothing
	EXPECT_EQ(m.guest_to_host(4095, 2), nullptr);     // spans two regions
	EXPECT_NE(m.user_to_host(0x10000, 4096), nullptr);
	EXPECT_EQ(m.user_to_host(0x0, 1), nullptr);
	EXPECT_THROW(m.remove(MemRegion{4096, 100, 0, 0}), ProtocolError);
	m.remove(MemRegion{4096, 4096, 0, 0});
	EXPECT_EQ(m.size(), 1U);
}

// A back-end may hand memory to the kernel by fd: the fd and offset behind
// a host range, inside one region only; the generation tells when what
// was learned about the fds no longer holds.
TEST(MemoryTableTest, HostRangesMapBackToTheirRegionFd)
{
	MemoryTable m;
	UniqueFd a(::memfd_create("mt-a", MFD_CLOEXEC));
	UniqueFd b(::memfd_create("mt-b", MFD_CLOEXEC));
	ASSERT_EQ(::ftruncate(a.get(), 8192), 0);
	ASSERT_EQ(::ftruncate(b.get(), off_t{3} * 4096), 0);
	const int a_fd = a.get();
	const int b_fd = b.get();
	const std::uint64_t g0 = m.generation();
	m.add(MemRegion{0, 8192, 0x10000, 0}, std::move(a));
	m.add(MemRegion{0x100000, 8192, 0x20000, 4096}, std::move(b));  // from page 1 of its file
	EXPECT_NE(m.generation(), g0);
	const std::uint64_t g1 = m.generation();

	const std::uint8_t *pa = m.guest_to_host(100, 50);
	ASSERT_NE(pa, nullptr);
	auto r = m.host_to_fd(pa, 50);
	ASSERT_TRUE(r.has_value());
	EXPECT_EQ(r->fd, a_fd);
	EXPECT_EQ(r->offset, 100U);
	const std::uint8_t *pb = m.guest_to_host(0x100000 + 10, 4000);
	ASSERT_NE(pb, nullptr);
	r = m.host_to_fd(pb, 4000);
	ASSERT_TRUE(r.has_value());
	EXPECT_EQ(r->fd, b_fd);
	EXPECT_EQ(r->offset, 4096U + 10U);  // the region's mmap_offset counts
	EXPECT_FALSE(m.host_to_fd(pa, 8192).has_value()) << "runs past its region";
	const std::uint8_t outside = 0;
	EXPECT_FALSE(m.host_to_fd(&outside, 1).has_value());

	m.remove(MemRegion{0x100000, 8192, 0, 0});
	EXPECT_NE(m.generation(), g1);
	const std::uint64_t g2 = m.generation();
	m.clear();
	EXPECT_NE(m.generation(), g2);
}

// A table that replaces another may get the old one's fd numbers back for
// other files, so no two tables share a generation, however they were
// built: one region added to each of two fresh tables, as two SET_MEM_TABLE
// messages in a row, or two connections, do.
TEST(MemoryTableTest, NoTwoTablesShareAGeneration)
{
	std::vector<std::uint64_t> seen;
	for (int i = 0; i < 3; ++i) {
		MemoryTable m;
		seen.push_back(m.generation());
		UniqueFd fd(::memfd_create("mt-gen", MFD_CLOEXEC));
		ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);
		m.add(MemRegion{0, 4096, 0x10000, 0}, std::move(fd));
		seen.push_back(m.generation());
	}
	std::sort(seen.begin(), seen.end());
	EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a generation repeated";
}

TEST(RangeInside, EdgeCases)
{
	EXPECT_TRUE(range_inside(10, 0, 10, 1));
	EXPECT_FALSE(range_inside(11, 0, 10, 1));
	EXPECT_TRUE(range_inside(10, 1, 10, 1));
	EXPECT_FALSE(range_inside(10, 2, 10, 1));
	EXPECT_FALSE(range_inside(~0ULL, 2, 0, ~0ULL));
	EXPECT_FALSE(range_inside(5, 1, 10, 10));
}

TEST(Inflight, RecoversRequestsInSubmissionOrder)
{
	std::vector<std::uint8_t> region(inflight_queue_bytes(kSize));
	{
		InflightTracker t(region.data(), kSize);
		t.begin(5);
		t.begin(2);
		t.begin(7);
		t.before_used(2);
		t.after_used(2, 1);
	}
	InflightTracker t(region.data(), kSize);
	const auto heads = t.recover(1);
	EXPECT_EQ(heads, (std::vector<std::uint16_t>{5, 7}));
}

TEST(Inflight, RepairsACompletionPublishedButNotRecorded)
{
	std::vector<std::uint8_t> region(inflight_queue_bytes(kSize));
	{
		InflightTracker t(region.data(), kSize);
		t.begin(1);
		t.begin(4);
		t.before_used(4);
		// crash: used->idx became 1 in the ring, after_used never ran
	}
	InflightTracker t(region.data(), kSize);
	EXPECT_EQ(t.recover(1), (std::vector<std::uint16_t>{1}));
	// and once repaired, a second recovery agrees
	EXPECT_EQ(t.recover(1), (std::vector<std::uint16_t>{1}));
}

// A reattaching adapter writes the region for a back-end that never saw
// these requests: the back-end's own recovery must read them back as is.
TEST(Inflight, FrontEndWrittenRegionRecoversInTheGivenOrder)
{
	std::vector<std::uint8_t> region(inflight_queue_bytes(kSize), 0xa5);
	const std::vector<std::uint16_t> heads{6, 3, 0, 5};
	write_inflight_queue(region, kSize, 1000, heads);
	InflightTracker t(region.data(), kSize);
	EXPECT_EQ(t.recover(1000), heads);
	// A new request is ordered after the resumed ones.
	t.begin(7);
	InflightTracker again(region.data(), kSize);
	EXPECT_EQ(again.recover(1000), (std::vector<std::uint16_t>{6, 3, 0, 5, 7}));
}

TEST(Inflight, FrontEndWrittenRegionRefusesBadHeads)
{
	std::vector<std::uint8_t> region(inflight_queue_bytes(kSize));
	const std::vector<std::uint16_t> out_of_range{kSize};
	EXPECT_THROW(write_inflight_queue(region, kSize, 0, out_of_range), std::invalid_argument);
	const std::vector<std::uint16_t> twice{2, 2};
	EXPECT_THROW(write_inflight_queue(region, kSize, 0, twice), std::invalid_argument);
	std::vector<std::uint8_t> short_area(inflight_queue_bytes(kSize) - 1);
	EXPECT_THROW(write_inflight_queue(short_area, kSize, 0, {}), std::invalid_argument);
}

// A back-end that shrinks its inflight memfd after handing it over: the
// front-end writes the region with pwrite, so it gets no SIGBUS (through a
// mapping, the first store past the new end killed it).
TEST(Inflight, FrontEndWritesARegionTheBackEndShrankWithoutSigbus)
{
	const UniqueFd fd(::memfd_create("inflight", MFD_CLOEXEC));
	ASSERT_TRUE(fd.valid());
	const std::uint64_t per_queue = inflight_queue_bytes(kSize);
	ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(2 * per_queue)), 0);
	ASSERT_EQ(::ftruncate(fd.get(), 0), 0);  // the hostile back-end's move
	const std::vector<std::uint16_t> heads{4, 1};
	store_inflight_queue(fd.get(), per_queue, kSize, 77, heads);
	std::vector<std::uint8_t> back(per_queue);
	ASSERT_EQ(::pread(fd.get(), back.data(), back.size(), static_cast<off_t>(per_queue)),
		  static_cast<ssize_t>(per_queue));
	InflightTracker t(back.data(), kSize);
	EXPECT_EQ(t.recover(77), heads);
	EXPECT_THROW(store_inflight_queue(-1, 0, kSize, 0, heads), std::system_error);
}

} // namespace
} // namespace vlb::vu
