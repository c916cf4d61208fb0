// SPDX-License-Identifier: Apache-2.0
// Transfers the kernel copies: behind the virtio-loopback transport the
// memory region is the device's IOVA fd, and VLB_IOVA_COPY moves data
// between request buffers and the backing file inside the kernel. This
// process maps and touches none of those pages, so the transport inserts
// and revokes no page-table entries for them, and an O_DIRECT backing file
// transfers straight from the driver's pages (the mapping cannot be pinned
// for O_DIRECT). Behind any other front-end the region is ordinary memory,
// the fd answers ENOTTY, and nothing here is used.
#pragma once

#include <cstdint>
#include <vector>

#include "io_engine.h"
#include "vlb/vu/memory_table.h"

namespace vlb::devices {

// Remembers, per memory table generation, which region fds copy for us.
class IovaCopyFds {
public:
	[[nodiscard]] bool supported(const vu::MemoryTable &mem, int fd);

private:
	std::uint64_t generation_ = UINT64_MAX;
	std::vector<std::pair<int, bool>> known_;
};

// |iov| as segments of one region fd, or false if it spans several regions
// or lies outside them.
bool iov_to_mem(const vu::MemoryTable &mem, const std::vector<iovec> &iov, int &fd, std::vector<MemSeg> &out);

// Runs a read or write |op| that has |mem_fd| with VLB_IOVA_COPY against
// |backing|: bytes transferred or -errno (short copies continued).
long transfer_iova_copy(int backing, IoOp &op);

} // namespace vlb::devices
