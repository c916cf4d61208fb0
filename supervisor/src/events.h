// SPDX-License-Identifier: Apache-2.0
// Structured events: every start, exit, restart and refusal of a device is
// one journal entry with VLB_DEVICE, VLB_PID, VLB_EVENT and VLB_REASON
// fields (journalctl VLB_DEVICE=disk0), or one line on stderr outside
// systemd.
#pragma once

#include <string>
#include <sys/types.h>

#include "vlb/log.h"

namespace vlb::supervisor {

enum class Severity { kError = 3, kWarning = 4, kInfo = 6 };

class Events {
public:
	explicit Events(const Logger &log);
	void emit(Severity severity, const std::string &device, pid_t pid, const std::string &event,
		  const std::string &reason) const;

private:
	const Logger *log_;
	bool journal_;
};

} // namespace vlb::supervisor
