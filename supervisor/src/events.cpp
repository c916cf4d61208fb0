// SPDX-License-Identifier: Apache-2.0
#include "events.h"

#include "child_log.h"

#include <systemd/sd-journal.h>

#include <cstdlib>

namespace vlb::supervisor {

Events::Events(const Logger &log) : log_(&log), journal_(std::getenv("JOURNAL_STREAM") != nullptr) {} // NOLINT(concurrency-mt-unsafe): at start, one thread

void Events::emit(Severity severity, const std::string &device, pid_t pid, const std::string &event,
		  const std::string &reason) const
{
	const std::string text = device + ": " + event + (pid > 0 ? " (pid " + std::to_string(pid) + ")" : "") +
				 (reason.empty() ? "" : ": " + reason);
	if (journal_) {
		sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", static_cast<int>(severity),
				"SYSLOG_IDENTIFIER=vlb-supervisord", "VLB_DEVICE=%s", device.c_str(), "VLB_PID=%d",
				static_cast<int>(pid), "VLB_EVENT=%s", event.c_str(), "VLB_REASON=%s", reason.c_str(),
				nullptr);
		return;
	}
	log_->log(static_cast<LogLevel>(severity), "%s", text.c_str());
}

void Events::child_line(const std::string &device, const std::string &role, pid_t pid, const ChildLine &line) const
{
	if (journal_) {
		const std::string ident = "vlb-" + role;
		sd_journal_send("MESSAGE=%s", line.text.c_str(), "PRIORITY=%d", static_cast<int>(line.priority),
				"SYSLOG_IDENTIFIER=%s", ident.c_str(), "VLB_DEVICE=%s", device.c_str(), "VLB_ROLE=%s",
				role.c_str(), "VLB_PID=%d", static_cast<int>(pid), nullptr);
		return;
	}
	log_->log(static_cast<LogLevel>(line.priority), "%s %s[%d]: %s", device.c_str(), role.c_str(),
		  static_cast<int>(pid), line.text.c_str());
}

} // namespace vlb::supervisor
