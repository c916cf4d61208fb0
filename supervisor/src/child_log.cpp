// SPDX-License-Identifier: Apache-2.0
#include "child_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "vlb/sys_error.h"

namespace vlb::supervisor {

ChildLine sanitize_child_line(std::string_view raw)
{
	ChildLine line;
	if (raw.size() >= 3 && raw[0] == '<' && raw[1] >= '0' && raw[1] <= '7' && raw[2] == '>') {
		const int claimed = raw[1] - '0';
		// At most notice: journald rate-limits a unit per priority, so
		// a flooding child fills the notice/info pool and never the one
		// the supervisor's own warnings and errors are counted in.
		line.priority = static_cast<Severity>(claimed < static_cast<int>(Severity::kNotice)
							      ? static_cast<int>(Severity::kNotice)
							      : claimed);
		raw.remove_prefix(3);
	}
	line.text.reserve(raw.size());
	for (const char c : raw) {
		const auto u = static_cast<unsigned char>(c);
		if (u < 0x20 || u == 0x7f || c == '\\') {
			char esc[8];
			std::snprintf(esc, sizeof esc, "\\x%02x", u);
			line.text += esc;
		} else {
			line.text += c;
		}
	}
	return line;
}

ChildLog::ChildLog(const Events &events, std::string device, std::string role)
	: events_(&events), device_(std::move(device)), role_(std::move(role))
{
	int fds[2];
	// The read end is ours alone; the write end goes to the child by dup2
	// (the copy it gets has no O_CLOEXEC).
	if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
		throw_errno("pipe2 for the " + role_ + "'s output");
	read_.reset(fds[0]);
	write_.reset(fds[1]);
	// The child's writes block when the pipe is full, as they would on a
	// slow journal: its own problem, not the supervisor's.
	const int flags = ::fcntl(write_.get(), F_GETFL);
	::fcntl(write_.get(), F_SETFL, flags & ~O_NONBLOCK);
}

bool ChildLog::on_readable()
{
	if (!read_)
		return false;
	char buf[4096];
	std::size_t budget = kReadBudget;
	while (budget > 0) {
		const ssize_t n = ::read(read_.get(), buf, sizeof buf < budget ? sizeof buf : budget);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0) { // end of stream, or an error that ends it
			flush_partial();
			read_.reset();
			return false;
		}
		budget -= static_cast<std::size_t>(n);
		std::string_view chunk(buf, static_cast<std::size_t>(n));
		while (!chunk.empty()) {
			const auto nl = chunk.find('\n');
			const std::string_view piece = chunk.substr(0, nl);
			if (!cutting_) {
				const std::size_t room = kMaxLine - partial_.size();
				partial_.append(piece.substr(0, room));
				if (piece.size() > room) {
					emit(partial_ + " [line cut at " + std::to_string(kMaxLine) + " bytes]");
					partial_.clear();
					cutting_ = true;
				}
			}
			if (nl == std::string_view::npos)
				break;
			if (!cutting_)
				emit(partial_);
			partial_.clear();
			cutting_ = false;
			chunk.remove_prefix(nl + 1);
		}
	}
	return true;
}

void ChildLog::drain()
{
	for (unsigned rounds = 0; rounds < 4 && read_; rounds++)
		if (!on_readable() || !read_)
			break;
	flush_partial();
	read_.reset();
	report_dropped();
}

// At notice, like the child's own lines: the child chose to flood, so this
// line must not reach the pools of the supervisor's warnings either.
void ChildLog::report_dropped()
{
	if (dropped_ != 0)
		events_->child_line(device_, role_, pid_,
				    {Severity::kNotice, std::to_string(dropped_) + " lines dropped (more than " +
								std::to_string(kLinesPerSecond) + " per second)"});
	dropped_ = 0;
}

void ChildLog::flush_partial()
{
	if (!partial_.empty() && !cutting_)
		emit(partial_);
	partial_.clear();
	cutting_ = false;
}

void ChildLog::emit(std::string_view raw)
{
	const auto now = std::chrono::steady_clock::now();
	if (now - window_start_ >= std::chrono::seconds(1)) {
		report_dropped();
		window_start_ = now;
		lines_in_window_ = 0;
	}
	if (++lines_in_window_ > kLinesPerSecond) {
		dropped_++;
		return;
	}
	events_->child_line(device_, role_, pid_, sanitize_child_line(raw));
}

} // namespace vlb::supervisor
