// SPDX-License-Identifier: Apache-2.0
// vlb-dev-rng: virtio-rng over vhost-user. Fills the driver's buffers from
// getrandom(2), optionally rate limited.
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <linux/virtio_ids.h>

#include "vlb/devices/server.h"
#include "vlb/program.h"
#include "vlb/sys_error.h"

namespace vlb::devices {
namespace {

const char *const kUsage =
	"Usage: vlb-dev-rng (--socket-path PATH | --fd N) [OPTIONS]\n"
	"virtio-rng vhost-user back-end: entropy from getrandom(2).\n\n"
	"  --max-bytes-per-sec N  rate limit (default: unlimited)\n";

const char *const kCapabilities = "{\n  \"type\": \"rng\"\n}\n";

// A token bucket with one second of burst.
class RateLimit {
public:
	explicit RateLimit(std::uint64_t per_sec) : per_sec_(per_sec), tokens_(per_sec) {}
	[[nodiscard]] bool limited() const { return per_sec_ != 0; }
	// Bytes that may be produced now, at most |want|.
	std::uint64_t take(std::uint64_t want)
	{
		if (!limited())
			return want;
		refill();
		const auto n = std::min(want, tokens_);
		tokens_ -= n;
		return n;
	}

private:
	void refill()
	{
		const auto now = std::chrono::steady_clock::now();
		const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - last_).count();
		last_ = now;
		tokens_ = std::min(per_sec_, tokens_ + per_sec_ * static_cast<std::uint64_t>(us) / 1000000);
	}

	std::uint64_t per_sec_;
	std::uint64_t tokens_;
	std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

class RngDevice final : public vu::Device {
public:
	RngDevice(vu::EventLoop &loop, std::uint64_t rate) : loop_(loop), limit_(rate)
	{
		if (limit_.limited()) {
			timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
			if (!timer_)
				throw_errno("timerfd_create");
			loop_.watch(timer_.get(), [this] {
				std::uint64_t ticks = 0;
				if (::read(timer_.get(), &ticks, sizeof(ticks)) < 0) {
					// nothing to do: spurious wakeup
				}
				if (held_queue_ != nullptr && held_queue_->running()) {
					process(*held_queue_);
					held_queue_->notify();
				}
			});
		}
	}
	~RngDevice() override
	{
		if (timer_)
			loop_.unwatch(timer_.get());
	}
	RngDevice(const RngDevice &) = delete;
	RngDevice &operator=(const RngDevice &) = delete;
	RngDevice(RngDevice &&) = delete;
	RngDevice &operator=(RngDevice &&) = delete;

	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 1; }

	void process(vu::VirtQueue &q) override
	{
		if (held_ && !serve(q, *held_))
			return;
		held_.reset();
		vu::Chain chain;
		while (q.pop(chain)) {
			if (!serve(q, chain)) {
				// Out of tokens: hold the request until the timer.
				held_ = std::move(chain);
				held_queue_ = &q;
				arm_timer();
				return;
			}
		}
	}

	void queue_stopped(vu::VirtQueue &q) override
	{
		// A held request stays in the inflight region and is resubmitted.
		if (held_queue_ == &q)
			forget_held();
	}
	void reset() override { forget_held(); }

private:
	// Fills as much of |chain| as the rate allows and completes it; false
	// (nothing done) when no bytes may be produced yet.
	bool serve(vu::VirtQueue &q, const vu::Chain &chain)
	{
		std::uint32_t written = 0;
		for (const auto &seg : chain.writable) {
			const auto allowed = static_cast<std::size_t>(limit_.take(seg.len));
			if (allowed > 0)
				fill(seg.data, allowed);
			written += static_cast<std::uint32_t>(allowed);
			if (allowed < seg.len)
				break;
		}
		if (written == 0 && chain.writable_bytes > 0)
			return false;
		q.complete(chain.head, written);
		return true;
	}

	static void fill(std::uint8_t *p, std::size_t n)
	{
		while (n > 0) {
			const ssize_t r = ::getrandom(p, std::min<std::size_t>(n, 256), 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				throw_errno("getrandom");
			}
			p += r;
			n -= static_cast<std::size_t>(r);
		}
	}

	void arm_timer()
	{
		itimerspec its{};
		its.it_value.tv_nsec = 10L * 1000 * 1000;
		if (::timerfd_settime(timer_.get(), 0, &its, nullptr) != 0)
			throw_errno("timerfd_settime");
	}

	void forget_held()
	{
		held_.reset();
		held_queue_ = nullptr;
	}

	vu::EventLoop &loop_;
	RateLimit limit_;
	UniqueFd timer_;
	std::optional<vu::Chain> held_;
	vu::VirtQueue *held_queue_ = nullptr;
};

} // namespace
} // namespace vlb::devices

int main(int argc, char **argv)
{
	using namespace vlb;
	using namespace vlb::devices;
	Logger log("vlb-dev-rng");
	return run_program(log, [&] {
		ServerOptions so;
		std::uint64_t rate = 0;
		enum { kOptRate = 0x200 };
		const auto rate_option = [&](int c, const char *arg) {
			if (c != kOptRate)
				return false;
			rate = parse_u64(arg, "--max-bytes-per-sec");
			return true;
		};
		const int parsed = parse_device_options(
			argc, argv, {{"max-bytes-per-sec", required_argument, nullptr, kOptRate}}, kUsage, so, rate_option);
		if (parsed != 0)
			return parsed;
		if (const auto rc = finish_options(so, kUsage, kCapabilities, log))
			return *rc;
		vu::EventLoop loop;
		const auto sig = watch_termination(loop, log);
		RngDevice dev(loop, rate);
		return serve(dev, loop, so, log);
	}, vlb::ExecAfterStart::kForbidden);
}
