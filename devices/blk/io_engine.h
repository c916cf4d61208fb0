// SPDX-License-Identifier: Apache-2.0
// IoEngine: how vlb-dev-blk moves data between driver buffers and the
// backing file. io_uring (liburing) when the kernel allows it, else
// preadv/pwritev inline. Completions are delivered through a callback on
// the device's event loop, so the device's state needs no locking.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vlb/vu/event_loop.h"

namespace vlb::devices {

// A piece of driver memory as an offset into the memory region's fd.
struct MemSeg {
	std::uint64_t offset;
	std::uint64_t len;
};

struct IoOp {
	enum class Kind { kRead, kWrite, kFlush } kind = Kind::kRead;
	std::uint64_t offset = 0;
	std::vector<iovec> iov{};
	void *tag = nullptr;  // handed back with the result
	// Set when |iov| lies in a virtio-loopback IOVA fd that copies for us
	// (iova_copy.h): then transfer_inline() has the kernel copy between
	// |mem| and the backing file, and |iov| is not touched.
	int mem_fd = -1;
	std::vector<MemSeg> mem{};
};

class IoEngine {
public:
	// |result| is bytes transferred or -errno; a null |tag| marks the end
	// of a batch of completions.
	using Done = std::function<void(void *tag, long result)>;
	// Builds an engine that reports to the given callback.
	using MakeInner = std::function<std::unique_ptr<IoEngine>(Done)>;

	virtual ~IoEngine() = default;
	IoEngine() = default;
	IoEngine(const IoEngine &) = delete;
	IoEngine &operator=(const IoEngine &) = delete;
	IoEngine(IoEngine &&) = delete;
	IoEngine &operator=(IoEngine &&) = delete;

	// Queues |op|; it may complete (callback) before this returns.
	virtual void submit(IoOp op) = 0;
	// Pushes queued operations to the kernel (end of a batch).
	virtual void kick() {}
	// Delivers the completions that are already in, without waiting.
	virtual void poll() {}
	// Waits until every submitted operation has completed (callbacks run).
	virtual void drain() {}
	[[nodiscard]] virtual const char *name() const = 0;
};

// The bytes of a segment, and moving its start on by |n| of them.
inline std::uint64_t seg_len(const iovec &v) { return v.iov_len; }
inline void seg_advance(iovec &v, std::uint64_t n)
{
	v.iov_base = static_cast<char *>(v.iov_base) + n;
	v.iov_len -= n;
}
inline std::uint64_t seg_len(const MemSeg &s) { return s.len; }
inline void seg_advance(MemSeg &s, std::uint64_t n)
{
	s.offset += n;
	s.len -= n;
}

// After a transfer of |n| bytes from |segs|[|first|] on: skips the
// segments it finished and shortens the one it stopped in.
template <typename Seg> void drop_transferred(std::vector<Seg> &segs, std::size_t &first, std::uint64_t n)
{
	while (first < segs.size() && n >= seg_len(segs[first]))
		n -= seg_len(segs[first++]);
	if (n > 0)
		seg_advance(segs[first], n);
}

// Runs |op| to the end with preadv/pwritev/fdatasync, or VLB_IOVA_COPY
// when it has |mem_fd|, on the calling thread (short transfers retried);
// bytes transferred or -errno. |op|'s iovecs and segments are consumed.
long transfer_inline(int fd, IoOp &op);

std::unique_ptr<IoEngine> make_sync_engine(int fd, IoEngine::Done done);
// Which operations a threaded engine hands to its workers, by size.
struct ThreadedMinBytes {
	std::uint64_t mapped_read;  // reads through this process's mapping
	std::uint64_t kernel_copy;  // reads and writes with |mem_fd|
};
// Operations of at least |min_bytes| (see ThreadedMinBytes) go to
// |threads| worker threads that run transfer_inline(), so the copies of
// several large requests proceed on several CPUs at once; everything else
// goes to the engine |make_inner| builds. Completions still arrive on
// |loop|'s thread.
std::unique_ptr<IoEngine> make_threaded_engine(int fd, unsigned threads, ThreadedMinBytes min_bytes,
					       vu::EventLoop &loop, const IoEngine::MakeInner &make_inner,
					       IoEngine::Done done);
// For an O_DIRECT backing fd: the engine |make_inner| builds, until an
// operation fails with EFAULT (driver memory that cannot be pinned, as
// under the virtio-loopback transport); from then on reads and writes go
// through aligned buffers of its own. |on_first_copy| runs at the switch.
std::unique_ptr<IoEngine> make_direct_bounce_engine(const IoEngine::MakeInner &make_inner, IoEngine::Done done,
						    std::function<void()> on_first_copy);
// nullptr (with the reason logged by the caller) if io_uring is unavailable.
std::unique_ptr<IoEngine> make_uring_engine(int fd, unsigned depth, vu::EventLoop &loop,
					    IoEngine::Done done, std::string &why_not);

} // namespace vlb::devices
