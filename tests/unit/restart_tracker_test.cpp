// SPDX-License-Identifier: Apache-2.0
#include "restart_tracker.h"

#include <gtest/gtest.h>

namespace {

using vlb::policy::RestartMode;
using vlb::supervisor::RestartTracker;
using namespace std::chrono_literals;

vlb::policy::Restart policy(RestartMode mode)
{
	vlb::policy::Restart r;
	r.mode = mode;
	r.backoff_initial = 100ms;
	r.backoff_max = 1000ms;
	r.max_restarts = 5;
	r.window = 60s;
	return r;
}

TEST(RestartTracker, BacksOffExponentiallyUpToTheMaximum)
{
	RestartTracker t(policy(RestartMode::kOnFailure));
	auto now = RestartTracker::Clock::time_point{} + 1h;
	std::vector<long> delays;
	delays.reserve(5);
	for (int i = 0; i < 5; ++i)
		delays.push_back(t.on_exit(true, now += 1s)->count());
	EXPECT_EQ(delays, (std::vector<long>{100, 200, 400, 800, 1000}));
}

TEST(RestartTracker, GivesUpAfterMaxRestartsInTheWindow)
{
	RestartTracker t(policy(RestartMode::kOnFailure));
	auto now = RestartTracker::Clock::time_point{} + 1h;
	for (int i = 0; i < 5; ++i)
		ASSERT_TRUE(t.on_exit(true, now += 1s).has_value());
	EXPECT_FALSE(t.on_exit(true, now += 1s).has_value());
	// Once the window has moved past the old restarts, it starts over.
	const auto later = t.on_exit(true, now + 61s);
	ASSERT_TRUE(later.has_value());
	EXPECT_EQ(later->count(), 100);
}

TEST(RestartTracker, ModesDecideWhatCountsAsARestartCase)
{
	auto now = RestartTracker::Clock::time_point{} + 1h;
	RestartTracker on_failure(policy(RestartMode::kOnFailure));
	EXPECT_FALSE(on_failure.on_exit(false, now).has_value());
	EXPECT_TRUE(on_failure.on_exit(true, now).has_value());
	RestartTracker never(policy(RestartMode::kNever));
	EXPECT_FALSE(never.on_exit(true, now).has_value());
	RestartTracker always(policy(RestartMode::kAlways));
	EXPECT_TRUE(always.on_exit(false, now).has_value());
	EXPECT_EQ(always.total_restarts(), 1U);
}

} // namespace
