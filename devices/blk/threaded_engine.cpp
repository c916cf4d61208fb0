// SPDX-License-Identifier: Apache-2.0
// Threaded engine: large reads run on worker threads. A buffered read that
// the page cache serves is one long memcpy inside the syscall, and io_uring
// runs it inline on the submitting thread, so a single-threaded device
// copies one request at a time on one CPU. Here the workers copy several
// requests at once. Writes through this process's mapping stay with the
// inner engine: buffered writes to one file take its inode lock in turn,
// so workers would only add hand-offs (measured: bench/RESULTS.md). Large
// reads and writes the kernel copies (VLB_IOVA_COPY, a synchronous ioctl)
// go to the workers too, which keeps them off the rings' thread; small
// copies stay with the inner engine, as the hand-off cost 4 KiB copies up
// to 61% of their throughput (bench/RESULTS.md). The event
// loop's thread keeps the rings; the workers touch the driver's buffers
// only through the kernel (preadv, VLB_IOVA_COPY), so an unmapped buffer
// is EFAULT, never a fault in this process.
#include <sys/eventfd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

#include "io_engine.h"
#include "vlb/sys_error.h"

namespace vlb::devices {
namespace {

std::uint64_t op_bytes(const IoOp &op)
{
	return std::accumulate(op.iov.begin(), op.iov.end(), std::uint64_t{0},
			       [](std::uint64_t s, const iovec &v) { return s + v.iov_len; });
}

class ThreadedEngine final : public IoEngine {
public:
	ThreadedEngine(int fd, ThreadedMinBytes min_bytes, vu::EventLoop &loop, Done done)
		: fd_(fd), min_bytes_(min_bytes), loop_(loop), done_(std::move(done)),
		  efd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
	{
		if (!efd_)
			throw_errno("eventfd");
		loop_.watch(efd_.get(), [this] {
			vu::drain_eventfd(efd_.get());
			deliver();
		});
	}
	~ThreadedEngine() override
	{
		loop_.unwatch(efd_.get());
		try {
			drain();
		} catch (const std::exception &) {
			// Torn down anyway: the workers finish what they hold.
		}
		for (auto &w : workers_)
			w.request_stop();
		work_ready_.notify_all();
		// jthread joins; inner_ outlives the workers (declared first).
	}
	ThreadedEngine(const ThreadedEngine &) = delete;
	ThreadedEngine &operator=(const ThreadedEngine &) = delete;
	ThreadedEngine(ThreadedEngine &&) = delete;
	ThreadedEngine &operator=(ThreadedEngine &&) = delete;

	void start(unsigned threads, std::unique_ptr<IoEngine> inner)
	{
		inner_ = std::move(inner);
		for (unsigned i = 0; i < threads; i++)
			workers_.emplace_back([this](const std::stop_token &st) { work(st); });
	}

	void submit(IoOp op) override
	{
		const bool kernel_copy = op.mem_fd >= 0;
		const std::uint64_t bytes = op_bytes(op);
		const bool to_workers = kernel_copy ? bytes >= min_bytes_.kernel_copy
						    : op.kind == IoOp::Kind::kRead && bytes >= min_bytes_.mapped_read;
		if (!to_workers) {
			inner_->submit(std::move(op));
			return;
		}
		{
			const std::lock_guard lock(mu_);
			queued_.push_back(std::move(op));
		}
		in_flight_++;
		work_ready_.notify_one();
	}

	void kick() override { inner_->kick(); }

	void poll() override
	{
		deliver();
		inner_->poll();
	}

	void drain() override
	{
		inner_->drain();
		while (in_flight_ > 0) {
			{
				std::unique_lock lock(mu_);
				finished_cv_.wait(lock, [this] { return !finished_.empty(); });
			}
			deliver();
		}
	}

	[[nodiscard]] const char *name() const override { return inner_->name(); }

private:
	struct Finished {
		void *tag;
		long result;
	};

	void work(const std::stop_token &st)
	{
		for (;;) {
			IoOp op;
			{
				std::unique_lock lock(mu_);
				if (!work_ready_.wait(lock, st, [this] { return !queued_.empty(); }))
					return;
				op = std::move(queued_.front());
				queued_.pop_front();
			}
			const long res = transfer_inline(fd_, op);
			{
				const std::lock_guard lock(mu_);
				finished_.push_back({op.tag, res});
			}
			finished_cv_.notify_all();
			vu::signal_eventfd(efd_.get());
		}
	}

	// On the loop's thread: runs the callbacks of what the workers finished.
	void deliver()
	{
		std::vector<Finished> batch;
		{
			const std::lock_guard lock(mu_);
			batch.swap(finished_);
		}
		if (batch.empty())
			return;
		for (const Finished &f : batch) {
			in_flight_--;
			done_(f.tag, f.result);
		}
		done_(nullptr, 0);
	}

	int fd_;
	ThreadedMinBytes min_bytes_;
	vu::EventLoop &loop_;
	Done done_;
	UniqueFd efd_;
	std::unique_ptr<IoEngine> inner_;
	std::size_t in_flight_ = 0;  // loop thread only
	std::mutex mu_;              // guards queued_ and finished_
	std::condition_variable_any work_ready_;
	std::condition_variable finished_cv_;
	std::deque<IoOp> queued_;
	std::vector<Finished> finished_;
	std::vector<std::jthread> workers_;  // last: joined before the rest goes
};

} // namespace

std::unique_ptr<IoEngine> make_threaded_engine(int fd, unsigned threads, ThreadedMinBytes min_bytes,
					       vu::EventLoop &loop, const IoEngine::MakeInner &make_inner,
					       IoEngine::Done done)
{
	auto e = std::make_unique<ThreadedEngine>(fd, min_bytes, loop, done);
	e->start(threads, make_inner(std::move(done)));
	return e;
}

} // namespace vlb::devices
