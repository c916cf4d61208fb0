// SPDX-License-Identifier: Apache-2.0
// Logger: one line per event on stderr, prefixed with the component's tag.
// Under systemd (JOURNAL_STREAM set) each line carries the sd-daemon
// "<N>" priority prefix so the journal records its severity.
#pragma once

#include <string>
#include <utility>

namespace vlb {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

class Logger {
public:
	explicit Logger(std::string tag, LogLevel max_level = LogLevel::kInfo);

	void set_level(LogLevel level) { max_level_ = level; }
	// Once the program knows which instance it is (before threads start).
	void set_tag(std::string tag) { tag_ = std::move(tag); }
	[[nodiscard]] bool enabled(LogLevel level) const { return level <= max_level_; }

	void log(LogLevel level, const char *fmt, ...) const __attribute__((format(printf, 3, 4)));
	void error(const char *fmt, ...) const __attribute__((format(printf, 2, 3)));
	void warn(const char *fmt, ...) const __attribute__((format(printf, 2, 3)));
	void info(const char *fmt, ...) const __attribute__((format(printf, 2, 3)));
	void debug(const char *fmt, ...) const __attribute__((format(printf, 2, 3)));

	[[nodiscard]] const std::string &tag() const { return tag_; }

private:
	void vlog(LogLevel level, const char *fmt, __builtin_va_list ap) const
		__attribute__((format(printf, 3, 0)));

	std::string tag_;
	LogLevel max_level_;
	bool journal_;
};

} // namespace vlb
