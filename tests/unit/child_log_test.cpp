// SPDX-License-Identifier: Apache-2.0
// A child's log lines as the supervisor re-emits them: its "<N>" prefix is
// read as a priority no higher than notice, control characters cannot
// start a new line or rewrite the terminal, and a line longer than the
// bound is cut with a marker. Driven through a real pipe.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "child_log.h"
#include "vlb/log.h"

namespace {

using vlb::supervisor::ChildLog;
using vlb::supervisor::sanitize_child_line;
using vlb::supervisor::Severity;

TEST(ChildLine, PriorityPrefixIsReadAndCappedAtWarning)
{
	EXPECT_EQ(sanitize_child_line("<0>vlb-supervisord: forged").priority, Severity::kNotice);
	EXPECT_EQ(sanitize_child_line("<0>vlb-supervisord: forged").text, "vlb-supervisord: forged");
	EXPECT_EQ(sanitize_child_line("<3>x").priority, Severity::kNotice);
	EXPECT_EQ(sanitize_child_line("<4>x").priority, Severity::kNotice);
	EXPECT_EQ(sanitize_child_line("<5>x").priority, Severity::kNotice);
	EXPECT_EQ(sanitize_child_line("<7>x").priority, Severity::kDebug);
	EXPECT_EQ(sanitize_child_line("plain").priority, Severity::kInfo);
	// Not a prefix: kept as text.
	EXPECT_EQ(sanitize_child_line("<9>x").text, "<9>x");
	EXPECT_EQ(sanitize_child_line("a <0>b").text, "a <0>b");
}

TEST(ChildLine, ControlCharactersAndBackslashesAreEscaped)
{
	EXPECT_EQ(sanitize_child_line("a\rb\x1b[2K\\x0d\x7f\t").text, "a\\x0db\\x1b[2K\\x5cx0d\\x7f\\x09");
	// One prefix only: a second one is text.
	EXPECT_EQ(sanitize_child_line("<4><0>x").text, "<0>x");
}

// A terminal acts on UTF-8 C1 controls (CSI, NEL), line separators and
// bidi overrides as on their C0 cousins, and a viewer shows invalid
// UTF-8 as it likes: all escaped, byte by byte. Other UTF-8 stays.
// Before, every byte from 0x80 up passed through.
TEST(ChildLine, Utf8ControlsAndInvalidBytesAreEscaped)
{
	EXPECT_EQ(sanitize_child_line("a\xc2\x9b" "2Kb").text, "a\\xc2\\x9b2Kb");           // CSI
	EXPECT_EQ(sanitize_child_line("a\xc2\x85" "b").text, "a\\xc2\\x85b");               // NEL
	EXPECT_EQ(sanitize_child_line("\xe2\x80\xa8").text, "\\xe2\\x80\\xa8");         // U+2028
	// U+202E built byte by byte: as a literal it would itself be the attack.
	const std::string rlo{'x', '\xe2', '\x80', '\xae', 'e', 'v', 'i', 'l'};
	EXPECT_EQ(sanitize_child_line(rlo).text, "x\\xe2\\x80\\xaeevil");
	EXPECT_EQ(sanitize_child_line("\xff\xc0\xaf").text, "\\xff\\xc0\\xaf");         // not UTF-8
	EXPECT_EQ(sanitize_child_line("\xe2\x82").text, "\\xe2\\x82");                     // cut short
	EXPECT_EQ(sanitize_child_line("caf\xc3\xa9 \xe2\x82\xac").text, "caf\xc3\xa9 \xe2\x82\xac");
}

TEST(ChildLog, LongLinesAreCutAndTheRestDropped)
{
	::unsetenv("JOURNAL_STREAM"); // NOLINT(concurrency-mt-unsafe): the lines must come to stderr
	const vlb::Logger logger("test");
	const vlb::supervisor::Events events(logger);
	ChildLog log(events, "dev", "back-end");
	const std::string long_line(ChildLog::kMaxLine * 3, 'a');
	const std::string input = long_line + "\nnext\n";
	ASSERT_EQ(::write(log.write_fd(), input.data(), input.size()), static_cast<ssize_t>(input.size()));
	log.close_write_end();
	testing::internal::CaptureStderr();
	while (log.on_readable()) {
	}
	const std::string out = testing::internal::GetCapturedStderr();
	EXPECT_NE(out.find("dev back-end[0]: " + std::string(200, 'a')), std::string::npos) << out;
	EXPECT_NE(out.find(" [line cut at 800 bytes]"), std::string::npos) << out;
	EXPECT_NE(out.find("dev back-end[0]: next\n"), std::string::npos) << out;
	// Two lines in, two lines out: the cut part made none of its own.
	EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
	EXPECT_EQ(log.read_fd(), -1); // the stream ended: nothing left to watch
}

// The count of a flood's dropped lines is the child's doing: at notice, as
// its own lines are, so journalctl -p warning shows no line a device chose.
// Before, it came at warning, tagged with the child's role.
TEST(ChildLog, DroppedLinesAreCountedAtNotice)
{
	::unsetenv("JOURNAL_STREAM"); // NOLINT(concurrency-mt-unsafe): the lines must come to stderr
	const vlb::Logger logger("test");
	const vlb::supervisor::Events events(logger);
	ChildLog log(events, "dev", "back-end");
	std::string input;
	for (unsigned i = 0; i < ChildLog::kLinesPerSecond + 50; i++)
		input += "x\n";
	ASSERT_EQ(::write(log.write_fd(), input.data(), input.size()), static_cast<ssize_t>(input.size()));
	log.close_write_end();
	testing::internal::CaptureStderr();
	log.drain();
	const std::string out = testing::internal::GetCapturedStderr();
	EXPECT_NE(out.find("dev back-end[0]: 50 lines dropped (more than 200 per second)"), std::string::npos) << out;
	EXPECT_EQ(out.find("warning:"), std::string::npos) << out;
}

} // namespace
