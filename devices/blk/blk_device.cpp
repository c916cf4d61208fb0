// SPDX-License-Identifier: Apache-2.0
#include "blk_device.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "vlb/devices/server.h"
#include "vlb/sys_error.h"

namespace vlb::devices {
namespace {

constexpr std::uint64_t kSector = 512;
constexpr std::uint32_t kMaxSegments = 254;      // advertised seg_max
constexpr std::uint32_t kMaxDiscardSegments = 32;
constexpr std::uint32_t kMaxDiscardSectors = 1U << 22;  // 2 GiB per segment
// Transfers from this size on complete one by one (see handle()). Below
// it a batch completes together: 128 KiB reads at QD16 ran at 382-411
// MiB/s batched against 290-335 one by one (bench/RESULTS.md).
constexpr std::uint64_t kEagerBytes = std::uint64_t{1024} * 1024;
// Reads from this size on go to the read threads. Below it the hand-off
// costs more than the second CPU gives: 128 KiB reads at QD16 ran at
// 276-416 MiB/s with workers against 333-356 without (bench/RESULTS.md).
constexpr std::uint64_t kThreadedReadBytes = std::uint64_t{256} * 1024;
// Kernel copies from this size on go to the read threads; smaller ones
// stay on the loop thread: handed over, 4 KiB copies lost up to 61% of
// their throughput (bench/RESULTS.md).
constexpr std::uint64_t kThreadedCopyBytes = std::uint64_t{64} * 1024;

std::uint64_t feature(unsigned b) { return std::uint64_t{1} << b; }

std::uint64_t backing_size(int fd)
{
	struct stat st{};
	if (::fstat(fd, &st) != 0)
		throw_errno("fstat backing");
	if (S_ISBLK(st.st_mode)) {
		std::uint64_t bytes = 0;
		if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0)
			throw_errno("BLKGETSIZE64");
		return bytes;
	}
	if (!S_ISREG(st.st_mode))
		throw std::invalid_argument("backing is neither a regular file nor a block device");
	return static_cast<std::uint64_t>(st.st_size);
}

// A block device's logical block size; 512 for files.
std::uint32_t logical_block_size(int fd)
{
	struct stat st{};
	int size = 0;
	if (::fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ::ioctl(fd, BLKSSZGET, &size) == 0 && size > 0)
		return static_cast<std::uint32_t>(size);
	return 512;
}

// The data part of a chain as iovecs: |skip| bytes from the front, |len|
// bytes in all (the header and the status byte are not data).
std::vector<iovec> data_iov(std::span<const vu::Segment> segs, std::uint64_t skip, std::uint64_t len)
{
	std::vector<iovec> iov;
	for (const auto &s : segs) {
		if (len == 0)
			break;
		if (skip >= s.len) {
			skip -= s.len;
			continue;
		}
		const std::uint64_t n = std::min<std::uint64_t>(s.len - skip, len);
		iov.push_back({s.data + skip, n});
		len -= n;
		skip = 0;
	}
	return iov;
}

} // namespace

BlkDevice::BlkDevice(BlkOptions opt, vu::EventLoop &loop, const Logger &log)
	: opt_(std::move(opt)), log_(log)
{
	if (opt_.block_size == 0)
		opt_.block_size = logical_block_size(opt_.backing.get());
	if (opt_.block_size < kSector || opt_.block_size > 65536 ||
	    (opt_.block_size & (opt_.block_size - 1)) != 0)
		throw std::invalid_argument("--block-size must be a power of two from 512 to 65536");
	refresh_capacity();
	auto done = [this](void *tag, long res) { on_done(tag, res); };
	const IoEngine::MakeInner make_single = [this, &loop](IoEngine::Done d) {
		std::unique_ptr<IoEngine> e;
		if (opt_.use_uring) {
			std::string why;
			e = make_uring_engine(opt_.backing.get(), 256, loop, d, why);
			if (!e)
				log_.warn("%s; using preadv/pwritev", why.c_str());
		}
		return e ? std::move(e) : make_sync_engine(opt_.backing.get(), std::move(d));
	};
	const IoEngine::MakeInner make = [this, &loop, &make_single](IoEngine::Done d) {
		if (opt_.read_threads == 0)
			return make_single(std::move(d));
		return make_threaded_engine(opt_.backing.get(), opt_.read_threads,
					    {.mapped_read = kThreadedReadBytes, .kernel_copy = kThreadedCopyBytes}, loop, make_single,
					    std::move(d));
	};
	const int fl = ::fcntl(opt_.backing.get(), F_GETFL);
	if (fl >= 0 && (fl & O_DIRECT) != 0)
		engine_ = make_direct_bounce_engine(make, done, [this] {
			log_.info("O_DIRECT on the driver's memory failed with EFAULT (it cannot be pinned, as "
				  "under the virtio-loopback transport): copying through aligned buffers");
		});
	else
		engine_ = make(done);
}

BlkDevice::~BlkDevice()
{
	// The engine's completions reference requests: finish them first.
	engine_.reset();
}

bool BlkDevice::refresh_capacity()
{
	const std::uint64_t bytes = backing_size(opt_.backing.get()) / kSector * kSector;
	const bool changed = bytes != capacity_;
	capacity_ = bytes;
	return changed;
}

std::uint64_t BlkDevice::features() const
{
	std::uint64_t f = feature(VIRTIO_BLK_F_SEG_MAX) | feature(VIRTIO_BLK_F_BLK_SIZE) |
			  feature(VIRTIO_BLK_F_FLUSH);
	if (opt_.queues > 1)
		f |= feature(VIRTIO_BLK_F_MQ);
	if (opt_.read_only)
		f |= feature(VIRTIO_BLK_F_RO);
	else
		f |= feature(VIRTIO_BLK_F_DISCARD) | feature(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

std::vector<std::uint8_t> BlkDevice::config() const
{
	virtio_blk_config c{};
	c.capacity = capacity_ / kSector;
	c.seg_max = kMaxSegments;
	c.blk_size = opt_.block_size;
	c.num_queues = opt_.queues;
	c.max_discard_sectors = kMaxDiscardSectors;
	c.max_discard_seg = kMaxDiscardSegments;
	c.discard_sector_alignment = opt_.block_size / kSector;
	c.max_write_zeroes_sectors = kMaxDiscardSectors;
	c.max_write_zeroes_seg = kMaxDiscardSegments;
	c.write_zeroes_may_unmap = 1;
	std::vector<std::uint8_t> out(sizeof(c));
	std::memcpy(out.data(), &c, sizeof(c));
	return out;
}

BlkDevice::Request *BlkDevice::new_request()
{
	if (free_.empty()) {
		pool_.push_back(std::make_unique<Request>());
		return pool_.back().get();
	}
	Request *r = free_.back();
	free_.pop_back();
	return r;
}

void BlkDevice::process(vu::VirtQueue &q)
{
	vu::Chain chain;
	while (q.pop(chain))
		handle(q, chain);
	engine_->kick();
	flush_notifications();
}

void BlkDevice::handle(vu::VirtQueue &q, const vu::Chain &chain)
{
	// The status byte is the last writable byte; without one there is no
	// way to report anything, so the request completes empty.
	if (chain.writable.empty()) {
		log_.warn("queue %u: request %u without a status byte", q.index(), chain.head);
		q.complete(chain.head, 0);
		return;
	}
	Request *r = new_request();
	r->q = &q;
	r->head = chain.head;
	const auto &last = chain.writable.back();
	r->status = last.data + last.len - 1;

	virtio_blk_outhdr hdr{};
	if (chain.readable_bytes < sizeof(hdr) ||
	    gather(chain.readable, {reinterpret_cast<std::uint8_t *>(&hdr), sizeof(hdr)}) != sizeof(hdr)) {
		finish(r, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	const std::uint64_t in_len = chain.writable_bytes - 1;  // device-written data
	const std::uint64_t out_len = chain.readable_bytes - sizeof(hdr);

	const auto in_range = [&](std::uint64_t len) {
		return hdr.sector <= capacity_ / kSector && len <= capacity_ - hdr.sector * kSector;
	};
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		const bool read = hdr.type == VIRTIO_BLK_T_IN;
		const std::uint64_t len = read ? in_len : out_len;
		if (len % kSector != 0 || !in_range(len) || (!read && opt_.read_only)) {
			finish(r, VIRTIO_BLK_S_IOERR, 1);
			return;
		}
		IoOp op{.kind = read ? IoOp::Kind::kRead : IoOp::Kind::kWrite,
			.offset = hdr.sector * kSector,
			.iov = read ? data_iov(chain.writable, 0, len) : data_iov(chain.readable, sizeof(hdr), len),
			.tag = r};
		if (op.iov.size() > IOV_MAX) {
			finish(r, VIRTIO_BLK_S_IOERR, 1);
			return;
		}
		r->written = static_cast<std::uint32_t>(read ? len + 1 : 1);
		r->expect = len;
		if (len == 0) {
			finish(r, VIRTIO_BLK_S_OK, r->written);
			return;
		}
		if (opt_.kernel_copy_min != 0 && len >= opt_.kernel_copy_min)
			use_kernel_copy(q, op);
		in_flight_++;
		engine_->submit(std::move(op));
		if (len >= kEagerBytes) {
			// A large transfer is pushed, and completed if the page
			// cache served it inline, before the next one is copied:
			// the driver completes it on another CPU meanwhile.
			engine_->kick();
			engine_->poll();
			flush_notifications();
		}
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (opt_.read_only) {
			finish(r, VIRTIO_BLK_S_OK, 1);
			return;
		}
		r->written = 1;
		r->expect = 0;
		in_flight_++;
		engine_->submit(IoOp{.kind = IoOp::Kind::kFlush, .tag = r});
		return;
	case VIRTIO_BLK_T_GET_ID: {
		std::uint8_t id[VIRTIO_BLK_ID_BYTES] = {};
		std::memcpy(id, opt_.serial.data(), std::min<std::size_t>(opt_.serial.size(), sizeof(id)));
		const auto n = std::min<std::uint64_t>(in_len, sizeof(id));
		scatter(chain.writable, {id, n});
		finish(r, VIRTIO_BLK_S_OK, static_cast<std::uint32_t>(n + 1));
		return;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		const unsigned feat = hdr.type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD
									: VIRTIO_BLK_F_WRITE_ZEROES;
		if (!(acked_ & feature(feat)) || opt_.read_only) {
			finish(r, VIRTIO_BLK_S_UNSUPP, 1);
			return;
		}
		// Rare and metadata-only: done inline rather than through the engine.
		engine_->drain();
		finish(r, discard_or_zero(hdr.type, chain, out_len), 1);
		return;
	}
	default:
		finish(r, VIRTIO_BLK_S_UNSUPP, 1);
		return;
	}
}

void BlkDevice::use_kernel_copy(const vu::VirtQueue &q, IoOp &op)
{
	const vu::MemoryTable *mem = q.memory();
	if (mem == nullptr || op.iov.empty())
		return;
	// Behind QEMU no region copies: learn that from the first buffer
	// before converting them all.
	const auto first = mem->host_to_fd(static_cast<const std::uint8_t *>(op.iov.front().iov_base),
					   op.iov.front().iov_len);
	if (!first || !copy_fds_.supported(*mem, first->fd))
		return;
	int fd = -1;
	if (iov_to_mem(*mem, op.iov, fd, op.mem))
		op.mem_fd = fd;
	else
		op.mem.clear();
}

std::uint8_t BlkDevice::discard_or_zero(std::uint32_t type, const vu::Chain &chain, std::uint64_t data_len)
{
	const std::uint64_t seg_size = sizeof(virtio_blk_discard_write_zeroes);
	if (data_len == 0 || data_len % seg_size != 0 || data_len / seg_size > kMaxDiscardSegments)
		return VIRTIO_BLK_S_IOERR;
	for (std::uint64_t off = 0; off < data_len; off += seg_size) {
		virtio_blk_discard_write_zeroes seg{};
		gather(chain.readable, {reinterpret_cast<std::uint8_t *>(&seg), sizeof(seg)},
		       sizeof(virtio_blk_outhdr) + off);
		const bool unmap = (seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0;
		if ((seg.flags & ~std::uint32_t{VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP}) != 0 ||
		    (type == VIRTIO_BLK_T_DISCARD && seg.flags != 0))
			return VIRTIO_BLK_S_UNSUPP;
		if (seg.num_sectors > kMaxDiscardSectors || seg.sector > capacity_ / kSector ||
		    std::uint64_t{seg.num_sectors} * kSector > capacity_ - seg.sector * kSector)
			return VIRTIO_BLK_S_IOERR;
		const auto at = static_cast<off_t>(seg.sector * kSector);
		const auto len = static_cast<off_t>(seg.num_sectors * kSector);
		if (type == VIRTIO_BLK_T_DISCARD) {
			// Discard is advisory: a file system without holes keeps the data.
			if (::fallocate(opt_.backing.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, len) != 0 &&
			    errno != EOPNOTSUPP)
				return VIRTIO_BLK_S_IOERR;
			continue;
		}
		if (!write_zeroes(at, len, unmap))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

bool BlkDevice::write_zeroes(off_t off, off_t len, bool unmap)
{
	const int fd = opt_.backing.get();
	// Cheapest first: keep the blocks (ZERO_RANGE) unless the driver lets
	// us unmap them; holes read as zeroes too; else write zeroes.
	if (!unmap && ::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return true;
	if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return true;
	static constexpr std::size_t kChunk = std::size_t{64} * 1024;
	const std::vector<std::uint8_t> zeros(kChunk);
	while (len > 0) {
		const auto n = static_cast<std::size_t>(std::min<off_t>(len, kChunk));
		const ssize_t w = ::pwrite(fd, zeros.data(), n, off);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			log_.warn("write zeroes: %s", errno_string(errno).c_str());
			return false;
		}
		off += w;
		len -= w;
	}
	return true;
}

void BlkDevice::on_done(void *tag, long result)
{
	if (tag == nullptr) {
		// The engine's end of a completion batch: one interrupt per queue.
		flush_notifications();
		return;
	}
	auto *r = static_cast<Request *>(tag);
	in_flight_--;
	if (result < 0) {
		log_.warn("queue %u request %u: %s", r->q->index(), r->head,
			  errno_string(static_cast<int>(-result)).c_str());
		finish(r, VIRTIO_BLK_S_IOERR, 1);
	} else if (static_cast<std::uint64_t>(result) != r->expect) {
		log_.warn("queue %u request %u: short transfer of %ld bytes", r->q->index(), r->head, result);
		finish(r, VIRTIO_BLK_S_IOERR, 1);
	} else {
		finish(r, VIRTIO_BLK_S_OK, r->written);
	}
}

void BlkDevice::finish(Request *r, std::uint8_t status, std::uint32_t written)
{
	*r->status = status;
	r->q->complete(r->head, written);
	if (std::find(to_notify_.begin(), to_notify_.end(), r->q) == to_notify_.end())
		to_notify_.push_back(r->q);
	free_.push_back(r);
}

void BlkDevice::flush_notifications()
{
	for (auto *q : to_notify_)
		q->notify();
	to_notify_.clear();
}

void BlkDevice::queue_stopped(vu::VirtQueue & /*q*/)
{
	// The ring must not change once stopped: finish every transfer first.
	engine_->drain();
	flush_notifications();
}

void BlkDevice::reset()
{
	engine_->drain();
	to_notify_.clear();
	acked_ = 0;
}

} // namespace vlb::devices
