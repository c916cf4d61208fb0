// SPDX-License-Identifier: Apache-2.0
#include "vlb/log.h"

#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace vlb {

Logger::Logger(std::string tag, LogLevel max_level)
	// Read once, before a component starts threads.
	: tag_(std::move(tag)), max_level_(max_level),
	  journal_(std::getenv("JOURNAL_STREAM") != nullptr) // NOLINT(concurrency-mt-unsafe)
{
}

void Logger::vlog(LogLevel level, const char *fmt, va_list ap) const
{
	if (!enabled(level))
		return;
	std::array<char, 1024> line{};
	std::vsnprintf(line.data(), line.size(), fmt, ap);
	const char *what = level == LogLevel::kError	 ? "error: "
			   : level == LogLevel::kWarning ? "warning: "
							 : "";
	// One fprintf per line so concurrent writers do not interleave.
	if (journal_)
		std::fprintf(stderr, "<%d>%s: %s%s\n", static_cast<int>(level), tag_.c_str(), what,
			     line.data());
	else
		std::fprintf(stderr, "%s: %s%s\n", tag_.c_str(), what, line.data());
}

// printf-style on purpose: the compiler checks every format string against
// its arguments (format attribute), which a parameter pack would lose.
// NOLINTBEGIN(cert-dcl50-cpp,cppcoreguidelines-pro-bounds-array-to-pointer-decay)
void Logger::log(LogLevel level, const char *fmt, ...) const
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void Logger::error(const char *fmt, ...) const
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LogLevel::kError, fmt, ap);
	va_end(ap);
}

void Logger::warn(const char *fmt, ...) const
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LogLevel::kWarning, fmt, ap);
	va_end(ap);
}

void Logger::info(const char *fmt, ...) const
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LogLevel::kInfo, fmt, ap);
	va_end(ap);
}

void Logger::debug(const char *fmt, ...) const
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LogLevel::kDebug, fmt, ap);
	va_end(ap);
}
// NOLINTEND(cert-dcl50-cpp,cppcoreguidelines-pro-bounds-array-to-pointer-decay)

} // namespace vlb
