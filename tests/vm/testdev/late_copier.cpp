// SPDX-License-Identifier: Apache-2.0
#include "late_copier.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string>

#include "vlb/sys_error.h"

namespace vlb::testdev {
namespace {

constexpr std::size_t kGarbageBytes = std::size_t{4} << 20;  // a request's data at most

UniqueFd garbage_file(unsigned char byte)
{
	UniqueFd f(::memfd_create("vlb-late-copy", MFD_CLOEXEC));
	if (!f)
		throw_errno("memfd_create");
	const std::vector<unsigned char> bytes(kGarbageBytes, byte);
	if (::pwrite(f.get(), bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
		throw_errno("pwrite garbage");
	return f;
}

} // namespace

LateCopier::LateCopier(const IovaSpace &iova)
	: iova_(iova), garbage_{garbage_file(0xa5), garbage_file(0x5a)},
	  thread_([this](const std::stop_token &st) { run(st); })
{
}

LateCopier::~LateCopier()
{
	thread_.request_stop();
	cv_.notify_all();
}

void LateCopier::start(std::vector<Target> targets)
{
	std::unique_lock lock(mu_);
	targets_ = std::move(targets);
	busy_ = true;
	started_ = false;
	counts_.requests++;
	cv_.notify_all();
	cv_.wait(lock, [this] { return started_ || !busy_; });
}

void LateCopier::wait_refused()
{
	std::unique_lock lock(mu_);
	cv_.wait(lock, [this] { return !busy_; });
}

LateCopier::Counts LateCopier::counts() const
{
	const std::lock_guard lock(mu_);
	return counts_;
}

void LateCopier::run(const std::stop_token &st)
{
	// Signals are the device's (a signalfd on the main thread); this
	// thread started before the device blocked them.
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, nullptr);
	unsigned turn = 0;
	for (;;) {
		std::vector<Target> targets;
		{
			std::unique_lock lock(mu_);
			if (!cv_.wait(lock, st, [this] { return busy_; }))
				return;
			targets = targets_;
		}
		// Copies until the kernel refuses one: the request was revoked.
		// Or until the device is torn down with the request still at
		// it: the revocation would then wait for the device's fd, which
		// is closed only after this thread was joined.
		bool refused = false;
		while (!refused && !st.stop_requested()) {
			{
				const std::lock_guard lock(mu_);
				if (!started_) {
					started_ = true;
					cv_.notify_all();
				}
			}
			const int file = garbage_.at(turn++ % 2).get();
			std::uint64_t at = 0;
			std::uint64_t through = 0;
			for (const Target &t : targets) {
				const long r = iova_.copy(t.iova, t.len, file, at % kGarbageBytes, false);
				if (r == -EFAULT) {
					refused = true;
					break;
				}
				if (r < 0)
					throw std::system_error(static_cast<int>(-r), std::generic_category(),
								"late copy");
				through++;
				at += t.len;
			}
			const std::lock_guard lock(mu_);
			counts_.copies += through;
			if (refused)
				counts_.refused++;
		}
		const std::lock_guard lock(mu_);
		busy_ = false;
		cv_.notify_all();
	}
}

} // namespace vlb::testdev
