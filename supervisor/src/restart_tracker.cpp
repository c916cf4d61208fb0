// SPDX-License-Identifier: Apache-2.0
#include "restart_tracker.h"

#include <algorithm>

namespace vlb::supervisor {

std::optional<std::chrono::milliseconds> RestartTracker::on_exit(bool failed, Clock::time_point now)
{
	using policy::RestartMode;
	if (policy_.mode == RestartMode::kNever || (policy_.mode == RestartMode::kOnFailure && !failed))
		return std::nullopt;
	while (!recent_.empty() && now - recent_.front() >= policy_.window)
		recent_.pop_front();
	if (recent_.size() >= policy_.max_restarts)
		return std::nullopt;
	// Doubles with each restart still inside the window: a device that
	// crashes once an hour restarts quickly every time.
	auto delay = policy_.backoff_initial;
	for (std::size_t i = 0; i < recent_.size() && delay < policy_.backoff_max; ++i)
		delay *= 2;
	recent_.push_back(now);
	++total_;
	return std::min(delay, policy_.backoff_max);
}

} // namespace vlb::supervisor
