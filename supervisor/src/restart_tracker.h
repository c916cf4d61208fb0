// SPDX-License-Identifier: Apache-2.0
// When to restart a device: exponential backoff, and a cap on restarts
// within a sliding window after which the device stays down.
#pragma once

#include <chrono>
#include <deque>
#include <optional>

#include "vlb/policy/policy.h"

namespace vlb::supervisor {

class RestartTracker {
public:
	using Clock = std::chrono::steady_clock;
	explicit RestartTracker(policy::Restart policy) : policy_(policy) {}

	// A process exited at |now| (|failed|: non-zero status or a signal).
	// Returns the delay before the restart, or nullopt when the policy says
	// to leave it down (mode, or too many restarts in the window).
	std::optional<std::chrono::milliseconds> on_exit(bool failed, Clock::time_point now);
	[[nodiscard]] unsigned restarts_in_window() const { return static_cast<unsigned>(recent_.size()); }
	[[nodiscard]] unsigned total_restarts() const { return total_; }

private:
	policy::Restart policy_;
	std::deque<Clock::time_point> recent_;
	unsigned total_ = 0;
};

} // namespace vlb::supervisor
