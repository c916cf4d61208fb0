// SPDX-License-Identifier: Apache-2.0
// The files a policy hands a back-end ([[backend.files]]), opened by the
// supervisor as root before any sandboxing. Opening as root is the risk:
// the path is the policy author's, but whoever can write its directory
// can swap the file for a symlink to one only root may read, or for a
// FIFO whose open() blocks the daemon's single loop for good.
#pragma once

#include <string>

#include "vlb/policy/policy.h"
#include "vlb/unique_fd.h"

namespace vlb::supervisor {

// Opens |file| for its back-end: no symlink on the path is followed, the
// open does not wait (O_NONBLOCK, cleared again after; a FUSE file can still
// make it wait), and only a regular file, a block device or a character
// device is handed over, never the kernel's |control_node| (by any name: its
// device number is compared), which would give a back-end an unscoped
// control file.
// Throws std::runtime_error naming |key| (e.g. "backend.files[0]"), the path
// and the reason.
UniqueFd open_handed_file(const policy::HandedFile &file, const std::string &key, const std::string &control_node);

} // namespace vlb::supervisor
