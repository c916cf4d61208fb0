// SPDX-License-Identifier: Apache-2.0
// The fallback engine: preadv/pwritev/fdatasync inline in the event loop.
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "io_engine.h"
#include "iova_copy.h"

namespace vlb::devices {
namespace {

class SyncEngine final : public IoEngine {
public:
	SyncEngine(int fd, Done done) : fd_(fd), done_(std::move(done)) {}

	void submit(IoOp op) override { done_(op.tag, transfer_inline(fd_, op)); }
	[[nodiscard]] const char *name() const override { return "sync"; }

private:
	int fd_;
	Done done_;
};

} // namespace

long transfer_inline(int fd, IoOp &op)
{
	if (op.kind == IoOp::Kind::kFlush)
		return ::fdatasync(fd) == 0 ? 0 : -errno;
	if (op.mem_fd >= 0) {
		const long n = transfer_iova_copy(fd, op);
		// The kernel copies only for files whose I/O cannot wait on a
		// process (not FUSE, NFS, nbd, loop): refused before anything
		// moved, so the same request goes through the mapping.
		if (n != -EOPNOTSUPP)
			return n;
		op.mem_fd = -1;
		op.mem.clear();
	}
	long total = 0;
	auto off = static_cast<off_t>(op.offset);
	std::size_t first = 0;
	// Loop over short transfers; at most IOV_MAX vectors per call.
	while (first < op.iov.size()) {
		const int cnt = static_cast<int>(std::min<std::size_t>(op.iov.size() - first, IOV_MAX));
		const ssize_t n = op.kind == IoOp::Kind::kRead
					  ? ::preadv(fd, &op.iov[first], cnt, off)
					  : ::pwritev(fd, &op.iov[first], cnt, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; // past the end: the device checked bounds, so the file shrank
		total += n;
		off += n;
		drop_transferred(op.iov, first, static_cast<std::uint64_t>(n));
	}
	return total;
}

std::unique_ptr<IoEngine> make_sync_engine(int fd, IoEngine::Done done)
{
	return std::make_unique<SyncEngine>(fd, std::move(done));
}

} // namespace vlb::devices
