// SPDX-License-Identifier: Apache-2.0
// The two steps of uring_lock.h; the second is a self filter
// (vlb/self_filter.h).
#include "uring_lock.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>

#include "vlb/self_filter.h"

namespace vlb::devices {
namespace {

// What the engine submits (uring_engine.cpp); nothing else runs.
constexpr std::array kOpcodes = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC};

int register_ring(const io_uring &ring, unsigned opcode, void *arg, unsigned n)
{
	return ::syscall(SYS_io_uring_register, ring.ring_fd, opcode, arg, n) == 0 ? 0 : -errno;
}

} // namespace

int setup_engine_ring(unsigned depth, io_uring &ring, int eventfd)
{
	io_uring_params params{};
	params.flags = IORING_SETUP_R_DISABLED;
	if (const int r = io_uring_queue_init_params(depth, &ring, &params); r < 0)
		return r;
	std::array<io_uring_restriction, kOpcodes.size()> allowed{};
	for (std::size_t i = 0; i < kOpcodes.size(); ++i) {
		allowed[i].opcode = IORING_RESTRICTION_SQE_OP;
		allowed[i].sqe_op = static_cast<std::uint8_t>(kOpcodes[i]);
	}
	// Registration first: once restricted, the ring registers nothing more.
	// (Debian's liburing 2.3 declares the restriction helpers but its
	// library does not export them: the system call itself.)
	int r = eventfd >= 0 ? io_uring_register_eventfd(&ring, eventfd) : 0;
	if (r >= 0)
		r = register_ring(ring, IORING_REGISTER_RESTRICTIONS, allowed.data(),
				  static_cast<unsigned>(allowed.size()));
	if (r >= 0)
		r = register_ring(ring, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
	if (r < 0) {
		io_uring_queue_exit(&ring);
		return r;
	}
	return 0;
}

int forbid_new_rings() { return forbid_syscalls_for_good({__NR_io_uring_setup}); }

} // namespace vlb::devices
