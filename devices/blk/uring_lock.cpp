// SPDX-License-Identifier: Apache-2.0
// The two steps of uring_lock.h. Raw BPF, not libseccomp, for the second:
// libseccomp probes the kernel with seccomp() calls of its own, which the
// sandbox's filter (SECCOMP_SET_MODE_FILTER only) would refuse.
#include "uring_lock.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>

namespace vlb::devices {
namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr std::uint32_t kAuditArch = 0; // unknown: forbid_new_rings() refuses to guess
#endif

// What the engine submits (uring_engine.cpp); nothing else runs.
constexpr std::array kOpcodes = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC};

sock_filter stmt(std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf)
{
	return sock_filter{code, jt, jf, k};
}

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

int forbid_new_rings()
{
	// cppcheck-suppress knownConditionTrueFalse ; 0 only where no audit value is known
	if (kAuditArch == 0)
		return -ENOSYS;
	std::array filter = {
		stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
		jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
		stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
		jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	const sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
	if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) == 0)
		return 0;
	return -errno;
}

} // namespace vlb::devices
