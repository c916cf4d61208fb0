// SPDX-License-Identifier: Apache-2.0
#include "child_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "vlb/sys_error.h"

namespace vlb::supervisor {

namespace {

// The length of the valid UTF-8 sequence at the start of |s| and its code
// point, or 0 when it is not one (bad lead or continuation byte, overlong
// form, surrogate, past U+10FFFF, cut short).
std::size_t utf8_sequence(std::string_view s, char32_t &cp)
{
	const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
	const unsigned char lead = byte(0);
	std::size_t n = 0;
	if (lead >= 0xc2 && lead <= 0xdf)
		n = 2;
	else if (lead >= 0xe0 && lead <= 0xef)
		n = 3;
	else if (lead >= 0xf0 && lead <= 0xf4)
		n = 4;
	if (n == 0 || s.size() < n)
		return 0;
	cp = lead & (0xff >> (n + 1));
	for (std::size_t i = 1; i < n; ++i) {
		if ((byte(i) & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (byte(i) & 0x3f);
	}
	const char32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

// Code points a terminal or a log viewer acts on rather than shows: C1
// controls (CSI, NEL), line and paragraph separators, and the bidi
// controls that reorder what follows on the line.
bool is_invisible_control(char32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void escape_byte(std::string &out, unsigned char u)
{
	char esc[8];
	std::snprintf(esc, sizeof esc, "\\x%02x", u);
	out += esc;
}

} // namespace

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
	while (!raw.empty()) {
		const auto u = static_cast<unsigned char>(raw[0]);
		if (u < 0x80) {
			if (u < 0x20 || u == 0x7f || u == '\\')
				escape_byte(line.text, u);
			else
				line.text += raw[0];
			raw.remove_prefix(1);
			continue;
		}
		char32_t cp = 0;
		const std::size_t n = utf8_sequence(raw, cp);
		if (n == 0) { // not UTF-8: each byte shown as what it is
			escape_byte(line.text, u);
			raw.remove_prefix(1);
			continue;
		}
		for (std::size_t i = 0; i < n; ++i) {
			if (is_invisible_control(cp))
				escape_byte(line.text, static_cast<unsigned char>(raw[i]));
			else
				line.text += raw[i];
		}
		raw.remove_prefix(n);
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
