// SPDX-License-Identifier: Apache-2.0
// A hostile device's second thread: it keeps copying garbage into a
// request's buffers with VLB_IOVA_COPY while the device completes the
// request. The kernel must let no such copy run past the completion the
// driver sees: a copy that took the pages first is waited for, every later
// one is refused (EFAULT). vm.transport_late_copy checks from the driver's
// side that a read's buffer never changes once the read returned.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "iova_space.h"
#include "vlb/unique_fd.h"

namespace vlb::testdev {

class LateCopier {
public:
	// One buffer to copy into: its IOVA, its length.
	struct Target {
		std::uint64_t iova;
		std::uint64_t len;
	};
	struct Counts {
		std::uint64_t requests = 0;  // requests copied into
		std::uint64_t copies = 0;    // VLB_IOVA_COPY calls the kernel let through
		std::uint64_t refused = 0;   // calls refused (the request was revoked)
	};

	explicit LateCopier(const IovaSpace &iova);
	~LateCopier();
	LateCopier(const LateCopier &) = delete;
	LateCopier &operator=(const LateCopier &) = delete;
	LateCopier(LateCopier &&) = delete;
	LateCopier &operator=(LateCopier &&) = delete;

	// Starts copying into |targets| until the kernel refuses; returns once
	// the first copy is about to enter the kernel.
	void start(std::vector<Target> targets);
	// Waits until a copy into the current targets was refused.
	void wait_refused();
	[[nodiscard]] Counts counts() const;

private:
	void run(const std::stop_token &st);

	const IovaSpace &iova_;
	// Two files of different bytes, copied in turn, so that a copy running
	// late changes what the driver already read.
	std::array<UniqueFd, 2> garbage_;
	mutable std::mutex mu_;  // guards everything below
	std::condition_variable_any cv_;
	std::vector<Target> targets_;
	bool busy_ = false;     // copying into targets_
	bool started_ = false;  // the first copy into targets_ is under way
	Counts counts_;
	std::jthread thread_;  // last: stopped and joined first
};

} // namespace vlb::testdev
