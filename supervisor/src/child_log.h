// SPDX-License-Identifier: Apache-2.0
// ChildLog: one child's stdout and stderr, a pipe of its own. The
// supervisor reads it from its loop and re-emits every line tagged with the
// device and role, so a child can neither silence the supervisor's stream
// (shutdown(2) of a shared journal socket) nor pass a line off as the
// supervisor's (a forged "<0>vlb-supervisord: ..." line).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "events.h"
#include "vlb/unique_fd.h"

namespace vlb::supervisor {

class ChildLog {
public:
	// Longest line kept; the rest of a longer one is cut, with a marker
	// (the tag and marker still fit the logger's 1024-byte line).
	static constexpr std::size_t kMaxLine = 800;
	// Bytes read per readable event: a flooding child cannot starve the
	// loop (the level-triggered loop comes back for the rest).
	static constexpr std::size_t kReadBudget = 16384;
	// Lines emitted per second per child; the excess is dropped and counted
	// (the journal's rate limit is per unit: the supervisor's own lines
	// would go with a flooding child's).
	static constexpr unsigned kLinesPerSecond = 200;

	ChildLog(const Events &events, std::string device, std::string role);

	// The pipe's write end, for the child's fds 1 and 2 (close it after
	// the spawn: the child holds its copy).
	[[nodiscard]] int write_fd() const { return write_.get(); }
	void close_write_end() { write_.reset(); }
	// -1 once the child's end is closed (all its copies): nothing to watch.
	[[nodiscard]] int read_fd() const { return read_.get(); }
	void set_pid(pid_t pid) { pid_ = pid; }

	// Reads at most kReadBudget bytes and emits the whole lines. Returns
	// false once the stream ended (read_fd() is -1 then).
	bool on_readable();
	// After the child's exit: what is left (bounded), then the partial line.
	void drain();

private:
	void emit(std::string_view raw);
	void flush_partial();
	void report_dropped();

	const Events *events_;
	std::string device_;
	std::string role_;
	pid_t pid_ = 0;
	UniqueFd read_;
	UniqueFd write_;
	std::string partial_;
	bool cutting_ = false; // discarding the rest of a line longer than kMaxLine
	std::chrono::steady_clock::time_point window_start_;
	unsigned lines_in_window_ = 0;
	unsigned dropped_ = 0;
};

// A child's raw line as the supervisor emits it: a leading sd-daemon "<N>"
// prefix is taken off and read as the priority, no higher than notice
// (only the supervisor speaks at warning and above); control characters
// (C0, DEL, and in UTF-8 the C1 controls, line separators and bidi
// controls), bytes that are not UTF-8, and backslashes are escaped (\xNN),
// so one line stays one line and shows what it holds.
struct ChildLine {
	Severity priority = Severity::kInfo;
	std::string text;
};
ChildLine sanitize_child_line(std::string_view raw);

} // namespace vlb::supervisor
