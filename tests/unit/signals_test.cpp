// SPDX-License-Identifier: Apache-2.0
// How a process's death signal is named: any number a process can kill
// itself with, the real-time ones included (glibc names none of them).
#include "vlb/signals.h"

#include <gtest/gtest.h>

#include <csignal>

namespace {

TEST(SignalAbbrev, NamedSignalsByNameOthersByNumber)
{
	EXPECT_EQ(vlb::signal_abbrev(SIGKILL), "KILL");
	EXPECT_EQ(vlb::signal_abbrev(SIGSYS), "SYS");
	// sigabbrev_np() is NULL here: appending it crashed the supervisor.
	EXPECT_EQ(vlb::signal_abbrev(SIGRTMIN), std::to_string(SIGRTMIN));
	EXPECT_EQ(vlb::signal_abbrev(SIGRTMAX), std::to_string(SIGRTMAX));
	EXPECT_EQ(vlb::signal_abbrev(0), "0");
}

} // namespace
