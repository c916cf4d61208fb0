// SPDX-License-Identifier: Apache-2.0
// Structured events: every start, exit, restart and refusal of a device is
// one journal entry with VLB_DEVICE, VLB_PID, VLB_EVENT and VLB_REASON
// fields (journalctl VLB_DEVICE=disk0), or one line on stderr outside
// systemd. The children's own lines (see child_log.h) go the same way,
// tagged by the supervisor.
#pragma once

#include <string>
#include <sys/types.h>

#include "vlb/log.h"

namespace vlb::supervisor {

enum class Severity { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

struct ChildLine;

class Events {
public:
	explicit Events(const Logger &log);
	void emit(Severity severity, const std::string &device, pid_t pid, const std::string &event,
		  const std::string &reason) const;
	// One line a child wrote (already sanitized): under the journal with
	// VLB_DEVICE, VLB_ROLE and VLB_PID and the child's SYSLOG_IDENTIFIER
	// of "vlb-ROLE", never the supervisor's; on stderr as
	// "vlb-supervisord: DEVICE ROLE[PID]: TEXT".
	void child_line(const std::string &device, const std::string &role, pid_t pid, const ChildLine &line) const;

private:
	const Logger *log_;
	bool journal_;
};

} // namespace vlb::supervisor
