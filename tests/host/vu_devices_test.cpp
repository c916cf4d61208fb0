// SPDX-License-Identifier: Apache-2.0
// The real device binaries driven by the library's user-space driver over
// a socketpair: what a virtio driver sees, byte for byte.
#include <gtest/gtest.h>
#include <linux/virtio_blk.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "device_process.h"
#include "vlb/vu/driver.h"

namespace vlb::test {
namespace {

using vu::DriverBuffer;
using vu::UserDriver;

std::string scratch(const std::string &name)
{
	const char *dir = std::getenv("VLB_TEST_TMPDIR"); // NOLINT(concurrency-mt-unsafe): no threads here
	return std::string(dir ? dir : "/tmp") + "/vlb-host-" + std::to_string(::getpid()) + "-" + name;
}

// virtio-blk requests over UserDriver.
class BlkClient {
public:
	explicit BlkClient(UserDriver &d) : d_(d) {}

	struct Result {
		std::uint8_t status;
		std::uint32_t used_len;
		std::vector<std::uint8_t> data;
	};

	Result request(std::uint32_t type, std::uint64_t sector, const std::vector<std::uint8_t> &out,
		       std::uint32_t in_len, std::uint16_t queue = 0)
	{
		d_.free_all_buffers();
		auto hdr = d_.alloc(sizeof(virtio_blk_outhdr), 16);
		virtio_blk_outhdr h{};
		h.type = type;
		h.sector = sector;
		std::memcpy(d_.memory(hdr.offset, hdr.len).data(), &h, sizeof(h));
		std::vector<DriverBuffer> readable{hdr};
		std::vector<DriverBuffer> writable;
		if (!out.empty()) {
			auto b = d_.alloc(static_cast<std::uint32_t>(out.size()));
			std::memcpy(d_.memory(b.offset, b.len).data(), out.data(), out.size());
			readable.push_back(b);
		}
		DriverBuffer in{};
		if (in_len > 0) {
			in = d_.alloc(in_len);
			writable.push_back(in);
		}
		auto status = d_.alloc(1, 1);
		d_.memory(status.offset, 1)[0] = 0xee;
		writable.push_back(status);
		auto head = d_.submit(queue, readable, writable);
		EXPECT_TRUE(head.has_value());
		auto done = d_.wait(queue, std::chrono::seconds(10));
		EXPECT_EQ(done.size(), 1U);
		Result r{d_.memory(status.offset, 1)[0], done.empty() ? 0 : done[0].len, {}};
		if (in_len > 0) {
			auto m = d_.memory(in.offset, in_len);
			r.data.assign(m.begin(), m.end());
		}
		return r;
	}
	Result read(std::uint64_t sector, std::uint32_t len) { return request(VIRTIO_BLK_T_IN, sector, {}, len); }
	Result write(std::uint64_t sector, const std::vector<std::uint8_t> &data)
	{
		return request(VIRTIO_BLK_T_OUT, sector, data, 0);
	}

private:
	UserDriver &d_;
};

std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed)
{
	std::vector<std::uint8_t> v(n);
	std::mt19937 rng(seed);
	std::generate(v.begin(), v.end(), [&] { return static_cast<std::uint8_t>(rng()); });
	return v;
}

// Waits up to about 100 s for |want| completions on |queue|; how many came.
std::size_t completions(UserDriver &d, std::uint16_t queue, std::size_t want)
{
	std::size_t got = 0;
	for (int tries = 0; got < want && tries < 100; tries++)
		got += d.wait(queue, std::chrono::seconds(1)).size();
	return got;
}

class BlkTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		image_ = scratch("disk.img");
		log_ = scratch("blk.log");
		contents_ = pattern(kDiskBytes, 1);
		std::ofstream(image_, std::ios::binary)
			.write(reinterpret_cast<const char *>(contents_.data()), static_cast<std::streamsize>(contents_.size()));
	}
	void TearDown() override
	{
		::unlink(image_.c_str());
		::unlink(log_.c_str());
	}
	[[nodiscard]] std::vector<std::uint8_t> file_bytes(std::uint64_t off, std::size_t n) const
	{
		std::vector<std::uint8_t> v(n);
		std::ifstream f(image_, std::ios::binary);
		f.seekg(static_cast<std::streamoff>(off));
		f.read(reinterpret_cast<char *>(v.data()), static_cast<std::streamsize>(n));
		return v;
	}
	std::unique_ptr<DeviceProcess> start(std::vector<std::string> extra = {})
	{
		std::vector<std::string> argv{VLB_DEV_BLK, "--backing", image_};
		argv.insert(argv.end(), extra.begin(), extra.end());
		return std::make_unique<DeviceProcess>(argv, log_);
	}

	static constexpr std::size_t kDiskBytes = std::size_t{4} << 20;
	std::string image_, log_;
	std::vector<std::uint8_t> contents_;
};

TEST_F(BlkTest, ReadsWritesFlushAndId)
{
	auto dev = start();
	UserDriver d(dev->take_socket(), {});
	BlkClient c(d);

	auto r = c.read(8, 8192);
	EXPECT_EQ(r.status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(r.used_len, 8193U);
	EXPECT_EQ(r.data, std::vector<std::uint8_t>(contents_.begin() + 4096, contents_.begin() + 4096 + 8192));

	const auto data = pattern(4096, 2);
	EXPECT_EQ(c.write(100, data).status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(c.request(VIRTIO_BLK_T_FLUSH, 0, {}, 0).status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(file_bytes(std::uint64_t{100} * 512, 4096), data);
	EXPECT_EQ(c.read(100, 4096).data, data);

	auto id = c.request(VIRTIO_BLK_T_GET_ID, 0, {}, VIRTIO_BLK_ID_BYTES);
	EXPECT_EQ(id.status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(id.data.data()), 7), "vlb-blk");

	// capacity in config space
	auto cfg = d.frontend().get_config(0, sizeof(virtio_blk_config));
	virtio_blk_config bc{};
	std::memcpy(&bc, cfg.data(), sizeof(bc));
	EXPECT_EQ(bc.capacity, kDiskBytes / 512);
}

TEST_F(BlkTest, BadRequestsFailWithoutTouchingTheFile)
{
	auto dev = start();
	UserDriver d(dev->take_socket(), {});
	BlkClient c(d);
	const std::uint64_t last = kDiskBytes / 512;
	EXPECT_EQ(c.read(last, 512).status, VIRTIO_BLK_S_IOERR);            // past the end
	EXPECT_EQ(c.read(last - 1, 1024).status, VIRTIO_BLK_S_IOERR);       // straddles the end
	EXPECT_EQ(c.read(~0ULL / 512, 512).status, VIRTIO_BLK_S_IOERR);     // offset overflow
	EXPECT_EQ(c.read(0, 100).status, VIRTIO_BLK_S_IOERR);               // not whole sectors
	EXPECT_EQ(c.write(last, pattern(512, 3)).status, VIRTIO_BLK_S_IOERR);
	EXPECT_EQ(c.request(0x7777, 0, {}, 512).status, VIRTIO_BLK_S_UNSUPP);
	EXPECT_EQ(c.read(last - 1, 512).status, VIRTIO_BLK_S_OK);           // the last sector is fine
	EXPECT_EQ(file_bytes(0, kDiskBytes), contents_);
}

TEST_F(BlkTest, DiscardAndWriteZeroes)
{
	auto dev = start();
	UserDriver::Options o;
	o.wanted_features = (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	UserDriver d(dev->take_socket(), o);
	BlkClient c(d);
	auto seg = [](std::uint64_t sector, std::uint32_t n, std::uint32_t flags) {
		virtio_blk_discard_write_zeroes s{};
		s.sector = sector;
		s.num_sectors = n;
		s.flags = flags;
		std::vector<std::uint8_t> v(sizeof(s));
		std::memcpy(v.data(), &s, sizeof(s));
		return v;
	};
	EXPECT_EQ(c.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, seg(16, 8, 0), 0).status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(file_bytes(std::uint64_t{16} * 512, 4096), std::vector<std::uint8_t>(4096, 0));
	EXPECT_EQ(c.request(VIRTIO_BLK_T_DISCARD, 0, seg(64, 8, 0), 0).status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(file_bytes(std::uint64_t{64} * 512, 4096), std::vector<std::uint8_t>(4096, 0));
	// bounds, reserved flags, discard with flags
	EXPECT_EQ(c.request(VIRTIO_BLK_T_DISCARD, 0, seg(kDiskBytes / 512, 1, 0), 0).status, VIRTIO_BLK_S_IOERR);
	EXPECT_EQ(c.request(VIRTIO_BLK_T_WRITE_ZEROES, 0, seg(0, 1, 2), 0).status, VIRTIO_BLK_S_UNSUPP);
	EXPECT_EQ(c.request(VIRTIO_BLK_T_DISCARD, 0, seg(0, 1, 1), 0).status, VIRTIO_BLK_S_UNSUPP);
	// untouched elsewhere
	EXPECT_EQ(file_bytes(0, 8192), std::vector<std::uint8_t>(contents_.begin(), contents_.begin() + 8192));
}

TEST_F(BlkTest, DiscardIsUnsupportedUnlessNegotiated)
{
	auto dev = start();
	UserDriver d(dev->take_socket(), {});
	BlkClient c(d);
	std::vector<std::uint8_t> seg(16, 0);
	EXPECT_EQ(c.request(VIRTIO_BLK_T_DISCARD, 0, seg, 0).status, VIRTIO_BLK_S_UNSUPP);
}

TEST_F(BlkTest, ReadOnlyRefusesWrites)
{
	auto dev = start({"--read-only"});
	UserDriver d(dev->take_socket(), {});
	EXPECT_TRUE(d.frontend().get_features() & (1ULL << VIRTIO_BLK_F_RO));
	BlkClient c(d);
	EXPECT_EQ(c.write(0, pattern(512, 4)).status, VIRTIO_BLK_S_IOERR);
	EXPECT_EQ(c.read(0, 512).status, VIRTIO_BLK_S_OK);
	EXPECT_EQ(file_bytes(0, 512), std::vector<std::uint8_t>(contents_.begin(), contents_.begin() + 512));
}

TEST_F(BlkTest, MultiQueueWithBothEngines)
{
	for (const char *engine : {"uring", "sync"}) {
		SCOPED_TRACE(engine);
		auto dev = start({"--queues", "2", "--engine", engine});
		UserDriver::Options o;
		o.queues = 2;
		UserDriver d(dev->take_socket(), o);
		// 32 reads in flight on each queue at once
		std::vector<DriverBuffer> bufs;
		for (std::uint16_t q = 0; q < 2; q++) {
			for (int i = 0; i < 32; i++) {
				const std::uint64_t sector = (std::uint64_t{q} * 32 + static_cast<std::uint64_t>(i)) * 8;
				auto hdr = d.alloc(16, 16);
				virtio_blk_outhdr h{VIRTIO_BLK_T_IN, 0, sector};
				std::memcpy(d.memory(hdr.offset, 16).data(), &h, 16);
				auto data = d.alloc(4096);
				auto st = d.alloc(1, 1);
				bufs.push_back(data);
				const DriverBuffer r[] = {hdr};
				const DriverBuffer w[] = {data, st};
				ASSERT_TRUE(d.submit(q, r, w).has_value());
			}
		}
		for (std::uint16_t q = 0; q < 2; q++) {
			std::size_t got = 0;
			for (int tries = 0; got < 32 && tries < 100; tries++)
				got += d.wait(q, std::chrono::seconds(1)).size();
			EXPECT_EQ(got, 32U);
		}
		for (std::size_t i = 0; i < bufs.size(); i++) {
			auto m = d.memory(bufs[i].offset, 4096);
			EXPECT_EQ(0, std::memcmp(m.data(), contents_.data() + i * 4096, 4096)) << "buffer " << i;
		}
	}
}

// Several 256 KiB writes, then reads, in flight at once on each engine,
// with and without read threads, land intact, in the file and back in the
// driver's buffers.
TEST_F(BlkTest, LargeTransfersInFlightTogether)
{
	constexpr std::uint32_t kLen = 256 * 1024;
	constexpr std::size_t kRequests = 4;
	const std::vector<std::vector<std::string>> configs{
		{"--engine", "uring"},
		{"--engine", "sync"},
		{"--engine", "uring", "--read-threads", "2"},
		{"--engine", "sync", "--read-threads", "3"},
	};
	for (const auto &config : configs) {
		SCOPED_TRACE(config[1] + (config.size() > 2 ? " + read threads" : ""));
		auto dev = start(config);
		UserDriver d(dev->take_socket(), {});
		const auto submit = [&](std::uint32_t type, std::size_t i, const std::vector<std::uint8_t> *out) {
			auto hdr = d.alloc(16, 16);
			const virtio_blk_outhdr h{type, 0, std::uint64_t{kLen} / 512 * i};
			std::memcpy(d.memory(hdr.offset, 16).data(), &h, 16);
			auto data = d.alloc(kLen);
			if (out != nullptr)
				std::memcpy(d.memory(data.offset, kLen).data(), out->data(), kLen);
			auto st = d.alloc(1, 1);
			std::vector<DriverBuffer> r{hdr};
			std::vector<DriverBuffer> w{st};
			if (out != nullptr)
				r.push_back(data);
			else
				w.insert(w.begin(), data);
			EXPECT_TRUE(d.submit(0, r, w).has_value());
			return data;
		};
		const auto wait_all = [&] {
			std::size_t got = 0;
			for (int tries = 0; got < kRequests && tries < 100; tries++)
				got += d.wait(0, std::chrono::seconds(1)).size();
			EXPECT_EQ(got, kRequests);
		};
		std::vector<std::vector<std::uint8_t>> written(kRequests);
		for (std::size_t i = 0; i < kRequests; i++) {
			written[i] = pattern(kLen, 10 + static_cast<unsigned>(i));
			submit(VIRTIO_BLK_T_OUT, i, &written[i]);
		}
		wait_all();
		std::vector<DriverBuffer> read(kRequests);
		for (std::size_t i = 0; i < kRequests; i++)
			read[i] = submit(VIRTIO_BLK_T_IN, i, nullptr);
		wait_all();
		for (std::size_t i = 0; i < kRequests; i++) {
			const auto at = std::uint64_t{kLen} * i;
			EXPECT_EQ(file_bytes(at, kLen), written[i]) << "file, request " << i;
			const auto m = d.memory(read[i].offset, kLen);
			EXPECT_TRUE(std::equal(m.begin(), m.end(), written[i].begin())) << "read back, request " << i;
		}
		d.free_all_buffers();
	}
}

// Reads of 1 MiB handed over in one batch complete one by one, each with
// its own call, so the driver can finish one while the device copies the
// next; smaller ones (128 KiB, 4 KiB) complete together, one call each batch.
TEST_F(BlkTest, LargeRequestsDoNotWaitForTheirBatch)
{
	for (const char *engine : {"uring", "sync"}) {
		SCOPED_TRACE(engine);
		auto dev = start({"--engine", engine});
		UserDriver d(dev->take_socket(), {});
		const auto calls_for_batch = [&](std::uint32_t len, std::size_t n) {
			d.hold_kicks(0, true);
			std::vector<DriverBuffer> data;
			for (std::size_t i = 0; i < n; i++) {
				auto hdr = d.alloc(16, 16);
				const virtio_blk_outhdr h{VIRTIO_BLK_T_IN, 0, std::uint64_t{len} / 512 * i};
				std::memcpy(d.memory(hdr.offset, 16).data(), &h, 16);
				data.push_back(d.alloc(len));
				const std::vector<DriverBuffer> r{hdr};
				const std::vector<DriverBuffer> w{data.back(), d.alloc(1, 1)};
				EXPECT_TRUE(d.submit(0, r, w).has_value());
			}
			EXPECT_EQ(d.take_calls(0), 0U);
			d.kick(0);
			std::size_t got = 0;
			const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
			while (got < n && std::chrono::steady_clock::now() < deadline) {
				got += d.poll(0).size();  // poll, not wait: the calls stay counted
				std::this_thread::sleep_for(std::chrono::milliseconds(1));
			}
			EXPECT_EQ(got, n);
			for (std::size_t i = 0; i < n; i++) {
				const auto m = d.memory(data[i].offset, len);
				const auto at = contents_.begin() + static_cast<std::ptrdiff_t>(std::size_t{len} * i);
				EXPECT_TRUE(std::equal(m.begin(), m.end(), at)) << "request " << i;
			}
			d.hold_kicks(0, false);
			d.free_all_buffers();
			return d.take_calls(0);
		};
		EXPECT_EQ(calls_for_batch(1024 * 1024, 3), 3U);
		EXPECT_EQ(calls_for_batch(128 * 1024, 3), 1U);
		EXPECT_EQ(calls_for_batch(4096, 3), 1U);
	}
}

// SET_MEM_TABLE while writes are in flight on both queues, many times over
// (QEMU sends it when guest memory changes): the device finishes with the
// old mapping, remaps, and every write lands once with the right data.
TEST_F(BlkTest, MemoryTableReplacedUnderLoad)
{
	auto dev = start({"--queues", "2"});
	UserDriver::Options o;
	o.queues = 2;
	UserDriver d(dev->take_socket(), o);
	constexpr int kRounds = 20;
	constexpr int kPerQueue = 32;
	constexpr std::size_t kSpan = std::size_t{1024} * 4096;  // the blocks written
	std::vector<std::uint8_t> expect = contents_;
	for (int round = 0; round < kRounds; round++) {
		d.free_all_buffers();
		std::vector<DriverBuffer> statuses;
		for (std::uint16_t q = 0; q < 2; q++) {
			for (int i = 0; i < kPerQueue; i++) {
				const std::uint64_t block = (std::uint64_t{q} * kPerQueue + static_cast<std::uint64_t>(i)) % 1024;
				const auto data = pattern(4096, static_cast<unsigned>(round * 1000 + q * 100 + i));
				std::copy(data.begin(), data.end(), expect.begin() + static_cast<std::ptrdiff_t>(block * 4096));
				auto hdr = d.alloc(16, 16);
				const virtio_blk_outhdr h{VIRTIO_BLK_T_OUT, 0, block * 8};
				std::memcpy(d.memory(hdr.offset, 16).data(), &h, 16);
				auto buf = d.alloc(4096);
				std::memcpy(d.memory(buf.offset, 4096).data(), data.data(), 4096);
				auto st = d.alloc(1, 1);
				d.memory(st.offset, 1)[0] = 0xff;
				statuses.push_back(st);
				const DriverBuffer r[] = {hdr, buf};
				const DriverBuffer w[] = {st};
				ASSERT_TRUE(d.submit(q, r, w).has_value());
			}
		}
		d.send_memory_table();
		for (std::uint16_t q = 0; q < 2; q++)
			ASSERT_EQ(completions(d, q, kPerQueue), static_cast<std::size_t>(kPerQueue))
				<< "round " << round << " queue " << q;
		const auto ok = [&d](const DriverBuffer &st) { return d.memory(st.offset, 1)[0] == VIRTIO_BLK_S_OK; };
		ASSERT_TRUE(std::all_of(statuses.begin(), statuses.end(), ok)) << "round " << round;
	}
	EXPECT_EQ(file_bytes(0, kSpan),
		  std::vector<std::uint8_t>(expect.begin(), expect.begin() + static_cast<std::ptrdiff_t>(kSpan)));
}

// The same with large reads on read threads: SET_MEM_TABLE arrives while
// the workers copy into the driver's buffers. The device must wait for
// them before it unmaps the old table, or reads fail (EFAULT) or land in
// the wrong place.
TEST_F(BlkTest, ReadThreadsFinishBeforeTheMemoryTableChanges)
{
	auto dev = start({"--queues", "2", "--read-threads", "2"});
	UserDriver::Options o;
	o.queues = 2;
	UserDriver d(dev->take_socket(), o);
	constexpr int kRounds = 10;
	constexpr int kPerQueue = 4;
	constexpr std::uint32_t kLen = 256 * 1024;  // large enough for the workers
	for (int round = 0; round < kRounds; round++) {
		d.free_all_buffers();
		struct Read {
			DriverBuffer data, status;
			std::size_t at;
		};
		std::vector<Read> reads;
		for (std::uint16_t q = 0; q < 2; q++) {
			for (int i = 0; i < kPerQueue; i++) {
				const std::size_t at =
					(static_cast<std::size_t>(round + q * kPerQueue + i) * kLen) % kDiskBytes;
				auto hdr = d.alloc(16, 16);
				const virtio_blk_outhdr h{VIRTIO_BLK_T_IN, 0, at / 512};
				std::memcpy(d.memory(hdr.offset, 16).data(), &h, 16);
				Read r{d.alloc(kLen), d.alloc(1, 1), at};
				d.memory(r.status.offset, 1)[0] = 0xff;
				const DriverBuffer rd[] = {hdr};
				const DriverBuffer wr[] = {r.data, r.status};
				ASSERT_TRUE(d.submit(q, rd, wr).has_value());
				reads.push_back(r);
			}
		}
		d.send_memory_table();
		for (std::uint16_t q = 0; q < 2; q++)
			ASSERT_EQ(completions(d, q, kPerQueue), static_cast<std::size_t>(kPerQueue))
				<< "round " << round << " queue " << q;
		for (const Read &r : reads) {
			ASSERT_EQ(d.memory(r.status.offset, 1)[0], VIRTIO_BLK_S_OK) << "round " << round;
			const auto m = d.memory(r.data.offset, kLen);
			const auto want = contents_.begin() + static_cast<std::ptrdiff_t>(r.at);
			ASSERT_TRUE(std::equal(m.begin(), m.end(), want)) << "round " << round << " at " << r.at;
		}
	}
}

TEST_F(BlkTest, ResizeIsAnnouncedInConfig)
{
	auto dev = start();
	UserDriver d(dev->take_socket(), {});
	ASSERT_EQ(::truncate(image_.c_str(), kDiskBytes * 2), 0);
	std::uint64_t cap = 0;
	for (int i = 0; i < 50 && cap != kDiskBytes * 2 / 512; i++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		auto cfg = d.frontend().get_config(0, 8);
		std::memcpy(&cap, cfg.data(), 8);
	}
	EXPECT_EQ(cap, kDiskBytes * 2 / 512);
}

TEST(RngDevice, FillsBuffersWithFreshBytes)
{
	DeviceProcess dev({VLB_DEV_RNG});
	UserDriver d(dev.take_socket(), {});
	auto a = d.alloc(4096);
	auto b = d.alloc(4096);
	const DriverBuffer wa[] = {a};
	const DriverBuffer wb[] = {b};
	ASSERT_TRUE(d.submit(0, {}, wa));
	ASSERT_TRUE(d.submit(0, {}, wb));
	std::vector<vu::Completion> done;
	for (int i = 0; i < 10 && done.size() < 2; i++) {
		auto more = d.wait(0, std::chrono::seconds(1));
		done.insert(done.end(), more.begin(), more.end());
	}
	ASSERT_EQ(done.size(), 2U);
	EXPECT_EQ(done[0].len, 4096U);
	EXPECT_EQ(done[1].len, 4096U);
	auto ma = d.memory(a.offset, 4096);
	auto mb = d.memory(b.offset, 4096);
	EXPECT_NE(0, std::memcmp(ma.data(), mb.data(), 4096));
	EXPECT_NE(std::vector<std::uint8_t>(ma.begin(), ma.end()), std::vector<std::uint8_t>(4096, 0));
}

TEST(RngDevice, RateLimitHoldsRequestsInsteadOfFailingThem)
{
	DeviceProcess dev({VLB_DEV_RNG, "--max-bytes-per-sec", "1000"});
	UserDriver d(dev.take_socket(), {});
	auto a = d.alloc(4096);
	const DriverBuffer w[] = {a};
	std::uint64_t total = 0;
	const auto start = std::chrono::steady_clock::now();
	// 1000 B/s with one second of burst: 2500 bytes take more than one second.
	while (total < 2500) {
		ASSERT_TRUE(d.submit(0, {}, w));
		auto done = d.wait(0, std::chrono::seconds(5));
		ASSERT_EQ(done.size(), 1U);
		EXPECT_GT(done[0].len, 0U);
		total += done[0].len;
	}
	EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(DeviceProgram, GarbageOnTheSocketIsLoggedAndEndsTheConnection)
{
	const auto log = scratch("garbage.log");
	DeviceProcess dev({VLB_DEV_RNG}, log);
	auto sock = dev.take_socket();
	const std::uint32_t junk[3] = {static_cast<std::uint32_t>(vu::Request::SetFeatures), 1, 3};
	ASSERT_EQ(::write(sock.get(), junk, sizeof(junk)), static_cast<ssize_t>(sizeof(junk)));
	ASSERT_EQ(::write(sock.get(), "xyz", 3), 3);
	EXPECT_EQ(dev.wait(), 1);
	EXPECT_NE(read_file(log).find("SET_FEATURES (2): payload of 3 bytes, expected 8"), std::string::npos)
		<< read_file(log);
	::unlink(log.c_str());
}

TEST(DeviceProgram, RejectsUnknownOptionsAndPrintsCapabilities)
{
	DeviceProcess bad({VLB_DEV_BLK, "--no-such-option"});
	EXPECT_EQ(bad.wait(), 2);
	DeviceProcess missing({VLB_DEV_BLK});  // no --backing
	EXPECT_EQ(missing.wait(), 2);

	for (const auto &[bin, type] : {std::pair{VLB_DEV_BLK, "block"}, std::pair{VLB_DEV_RNG, "rng"}}) {
		// A fixed command line of test constants: no shell injection possible.
		const std::string cmd = std::string(bin) + " --print-capabilities";
		std::unique_ptr<FILE, int (*)(FILE *)> p(::popen(cmd.c_str(), "r"), ::pclose); // NOLINT(cert-env33-c)
		ASSERT_TRUE(p);
		std::string out(4096, '\0');
		out.resize(std::fread(out.data(), 1, out.size(), p.get()));
		EXPECT_NE(out.find(std::string("\"type\": \"") + type + "\""), std::string::npos) << out;
	}
}

} // namespace
} // namespace vlb::test
