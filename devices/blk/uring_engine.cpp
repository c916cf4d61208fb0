// SPDX-License-Identifier: Apache-2.0
// io_uring engine: requests of a batch go to the kernel with one
// io_uring_submit; completions arrive on an eventfd the event loop watches.
#include <liburing.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <string>

#include "io_engine.h"
#include "uring_lock.h"
#include "vlb/sys_error.h"

namespace vlb::devices {
namespace {

class UringEngine final : public IoEngine {
public:
	UringEngine(int fd, vu::EventLoop &loop, Done done) : fd_(fd), loop_(loop), done_(std::move(done)) {}
	~UringEngine() override
	{
		if (!ready_)
			return;
		loop_.unwatch(efd_.get());
		try {
			drain();
		} catch (const std::exception &) {
			// The ring is being torn down; the kernel cancels what is left.
		}
		io_uring_queue_exit(&ring_);
	}
	UringEngine(const UringEngine &) = delete;
	UringEngine &operator=(const UringEngine &) = delete;
	UringEngine(UringEngine &&) = delete;
	UringEngine &operator=(UringEngine &&) = delete;

	// Returns 0 or -errno.
	int init(unsigned depth)
	{
		efd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		if (!efd_)
			return -errno;
		// Restricted to what submit() prepares (uring_lock.h).
		if (const int r = setup_engine_ring(depth, ring_, efd_.get()); r < 0)
			return r;
		ready_ = true;
		loop_.watch(efd_.get(), [this] {
			vu::drain_eventfd(efd_.get());
			reap();
		});
		return 0;
	}

	void submit(IoOp op) override
	{
		if (op.mem_fd >= 0) {
			// The kernel copies (a synchronous ioctl): no worker
			// threads, so on this thread.
			const long res = transfer_inline(fd_, op);
			done_(op.tag, res);
			return;
		}
		ops_.push_back(std::move(op));
		IoOp &o = ops_.back();
		io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
		if (sqe == nullptr) {
			kick();
			sqe = io_uring_get_sqe(&ring_);
		}
		while (sqe == nullptr) {
			// Submission queue full of in-flight work: wait for some.
			io_uring_cqe *cqe = nullptr;
			io_uring_wait_cqe(&ring_, &cqe);
			reap();
			sqe = io_uring_get_sqe(&ring_);
		}
		switch (o.kind) {
		case IoOp::Kind::kRead:
			io_uring_prep_readv(sqe, fd_, o.iov.data(), static_cast<unsigned>(o.iov.size()), o.offset);
			break;
		case IoOp::Kind::kWrite:
			io_uring_prep_writev(sqe, fd_, o.iov.data(), static_cast<unsigned>(o.iov.size()), o.offset);
			break;
		case IoOp::Kind::kFlush:
			io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
			break;
		}
		io_uring_sqe_set_data(sqe, &o);
		in_flight_++;
		pending_submit_ = true;
	}

	void kick() override
	{
		if (!pending_submit_)
			return;
		pending_submit_ = false;
		int r = 0;
		do
			r = io_uring_submit(&ring_);
		while (r == -EINTR);
		if (r < 0)
			throw std::system_error(-r, std::generic_category(), "io_uring_submit");
	}

	void poll() override
	{
		if (in_flight_ > 0)
			reap();
	}

	void drain() override
	{
		kick();
		while (in_flight_ > 0) {
			io_uring_cqe *cqe = nullptr;
			const int r = io_uring_wait_cqe(&ring_, &cqe);
			if (r < 0 && r != -EINTR)
				throw std::system_error(-r, std::generic_category(), "io_uring_wait_cqe");
			reap();
		}
	}

	[[nodiscard]] const char *name() const override { return "io_uring"; }

private:
	void reap()
	{
		io_uring_cqe *cqe = nullptr;
		while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) {
			auto *op = static_cast<IoOp *>(io_uring_cqe_get_data(cqe));
			const long res = cqe->res;
			io_uring_cqe_seen(&ring_, cqe);
			in_flight_--;
			void *tag = op->tag;
			// Ops complete in any order; an entry (tag cleared) is
			// dropped once every op before it is done too.
			op->tag = nullptr;
			done_(tag, res);
		}
		while (!ops_.empty() && ops_.front().tag == nullptr)
			ops_.pop_front();
		done_(nullptr, 0);
	}

	int fd_;
	vu::EventLoop &loop_;
	Done done_;
	io_uring ring_{};
	UniqueFd efd_;
	bool ready_ = false;
	bool pending_submit_ = false;
	std::size_t in_flight_ = 0;
	std::deque<IoOp> ops_;  // stable addresses for the kernel's iovec reads
};

} // namespace

std::unique_ptr<IoEngine> make_uring_engine(int fd, unsigned depth, vu::EventLoop &loop,
					    IoEngine::Done done, std::string &why_not)
{
	auto e = std::make_unique<UringEngine>(fd, loop, std::move(done));
	if (const int r = e->init(depth); r < 0) {
		why_not = std::string("io_uring unavailable: ") + errno_string(-r);
		return nullptr;
	}
	return e;
}

} // namespace vlb::devices
