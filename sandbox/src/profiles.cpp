// SPDX-License-Identifier: Apache-2.0
// The syscall lists behind profiles.h. Derived by tracing each program
// (strace -ff over the host tests and the guest cases) and keeping only what
// it calls after exec; setup that happens before the filter is loaded (the
// sandbox's own steps) is not in here.
#include "vlb/sandbox/profiles.h"

#include <linux/virtio_loopback.h>

#include <algorithm>
#include <array>

namespace vlb::sandbox {
namespace {

using namespace std::string_view_literals;

// Type byte of an ioctl request (_IOC_TYPE) sits in bits 8..15.
constexpr std::uint32_t kIoctlTypeMask = 0xff00;
constexpr std::uint32_t ioctl_type(unsigned char type) { return static_cast<std::uint32_t>(type) << 8; }
// The whole request number: one ioctl of a type.
constexpr std::uint32_t kIoctlRequestMask = 0xffffffff;

constexpr std::array kBase = {
	// dynamic loader and libc start-up
	"access"sv, "arch_prctl"sv, "brk"sv, "close"sv, "fstat"sv, "newfstatat"sv, "lseek"sv,
	"mmap"sv, "mprotect"sv, "munmap"sv, "openat"sv, "pread64"sv,
	"prlimit64"sv, "rseq"sv, "set_robust_list"sv, "set_tid_address"sv, "getrandom"sv,
	// malloc: trimming and growing large blocks (rare, not in every trace)
	"mremap"sv, "madvise"sv,
	// signals: the event loop's signalfd; abort() raising on itself
	// (tgkill, gettid, getpid) so a failed assertion dies of SIGABRT with
	// glibc's message (writev), not of SIGSYS; restart_syscall after a
	// SIGSTOP/SIGCONT; rt_sigreturn and sigaltstack for the sanitizers'
	// handlers
	"rt_sigaction"sv, "rt_sigprocmask"sv, "rt_sigreturn"sv, "sigaltstack"sv, "signalfd4"sv,
	"tgkill"sv, "gettid"sv, "getpid"sv, "restart_syscall"sv,
	// data and control plane I/O on handed-over fds
	"read"sv, "write"sv, "readv"sv, "writev"sv, "recvmsg"sv, "sendmsg"sv, "recvfrom"sv,
	"sendto"sv, "getsockopt"sv, "shutdown"sv, "fcntl"sv, "dup"sv, "poll"sv, "ppoll"sv,
	// event loop and timers
	"epoll_create1"sv, "epoll_ctl"sv, "epoll_wait"sv, "eventfd2"sv,
	"timerfd_create"sv, "timerfd_settime"sv, "clock_gettime"sv,
	"clock_nanosleep"sv, "nanosleep"sv, "futex"sv, "sched_yield"sv,
	"exit"sv, "exit_group"sv,
};

constexpr std::array kAdapter = {
	// third-party back-ends by socket path: socket() is limited to AF_UNIX
	// by the filter (see seccomp_filter.cpp)
	"socket"sv, "connect"sv,
	// the front-end's reply timeouts, and the BACKEND_REQ channel it opens
	"setsockopt"sv, "socketpair"sv,
};
constexpr std::array kAdapterIoctls = {
	IoctlRule{kIoctlTypeMask, ioctl_type(VLB_IOCTL_MAGIC), "virtio-loopback control and device ioctls"},
};

// Every back-end: vhost-user INFLIGHT_SHMFD, it creates and sizes the
// region (the adapter only receives it, and maps it to hand requests
// over when it takes over a device from a previous adapter).
constexpr std::array kBackendOnly = {"memfd_create"sv, "ftruncate"sv};

// Every back-end: its completions processed in its own thread, on the
// IOVA fd (vhost-user library, VirtQueue::notify); nothing a write to its
// call eventfd could not do.
constexpr IoctlRule kIovaCall{kIoctlRequestMask, VLB_IOVA_CALL,
			      "completions processed by the caller (VLB_IOVA_CALL)"};

constexpr std::array kBlk = {
	"memfd_create"sv, "ftruncate"sv,
	// --read-threads: worker threads (clone is limited to CLONE_THREAD by
	// the filter, see seccomp_filter.cpp)
	"clone"sv,
	// the io_uring engine: its ring is restricted to the opcodes it uses
	// before any input is read, and then io_uring_setup is forbidden by a
	// filter the program adds itself (seccomp: SECCOMP_SET_MODE_FILTER
	// only; devices/blk/uring_lock.h)
	"io_uring_setup"sv, "io_uring_enter"sv, "io_uring_register"sv, "seccomp"sv,
	"preadv"sv, "pwritev"sv, "preadv2"sv, "pwritev2"sv, "pwrite64"sv,
	"fsync"sv, "fdatasync"sv, "fallocate"sv,
};
constexpr std::array kBlkIoctls = {
	// BLKGETSIZE64, BLKSSZGET: capacity and logical block size of a block device
	IoctlRule{kIoctlTypeMask, ioctl_type(0x12), "block device geometry (BLK*)"},
	// these requests alone of the transport's: no control ioctl
	IoctlRule{kIoctlRequestMask, VLB_IOVA_COPY, "kernel copies on the IOVA fd (VLB_IOVA_COPY)"},
	kIovaCall,
};

constexpr std::array kRngIoctls = {kIovaCall};

constexpr std::array kInputIoctls = {
	IoctlRule{kIoctlTypeMask, ioctl_type('E'), "evdev queries and grab (EVIOC*)"},
	kIovaCall,
};

constexpr std::array kConsole = {
	"memfd_create"sv, "ftruncate"sv,
	// --port-fd with a listening socket accepts its clients
	"accept4"sv,
};
constexpr std::array kConsoleIoctls = {
	IoctlRule{kIoctlTypeMask, ioctl_type('T'), "terminal settings of a stdio or pty port (TC*, TIOC*)"},
	kIovaCall,
};

const std::array kProfiles = {
	Profile{"adapter", "vlb-adapter", kAdapter, kAdapterIoctls},
	Profile{"device-blk", "vlb-dev-blk", kBlk, kBlkIoctls},
	Profile{"device-rng", "vlb-dev-rng", kBackendOnly, kRngIoctls},
	Profile{"device-input", "vlb-dev-input", kBackendOnly, kInputIoctls},
	Profile{"device-console", "vlb-dev-console", kConsole, kConsoleIoctls},
};

constexpr std::array kForbidden = {
	// other processes
	"ptrace"sv, "process_vm_readv"sv, "process_vm_writev"sv, "pidfd_getfd"sv, "kcmp"sv,
	"process_madvise"sv,
	// mounts and namespaces
	"mount"sv, "umount2"sv, "pivot_root"sv, "chroot"sv, "move_mount"sv, "open_tree"sv,
	"fsopen"sv, "fsconfig"sv, "fsmount"sv, "fspick"sv, "mount_setattr"sv, "unshare"sv, "setns"sv,
	// identity and privilege
	"setuid"sv, "setgid"sv, "setreuid"sv, "setregid"sv, "setresuid"sv, "setresgid"sv,
	"setgroups"sv, "setfsuid"sv, "setfsgid"sv, "capset"sv, "personality"sv,
	// kernel attack surface nobody here needs
	"bpf"sv, "perf_event_open"sv, "userfaultfd"sv, "keyctl"sv, "add_key"sv, "request_key"sv,
	"init_module"sv, "finit_module"sv, "delete_module"sv, "kexec_load"sv, "kexec_file_load"sv,
	"reboot"sv, "swapon"sv, "swapoff"sv, "acct"sv, "syslog"sv, "quotactl"sv, "vhangup"sv,
	"settimeofday"sv, "clock_settime"sv, "adjtimex"sv, "clock_adjtime"sv, "iopl"sv, "ioperm"sv,
	"open_by_handle_at"sv, "name_to_handle_at"sv, "fanotify_init"sv, "lookup_dcookie"sv,
	"mknod"sv, "mknodat"sv, "execve"sv,
};

} // namespace

std::span<const Profile> profiles() { return kProfiles; }

const Profile *find_profile(std::string_view name)
{
	const auto *const it = std::find_if(kProfiles.begin(), kProfiles.end(),
				     [&](const Profile &p) { return p.name == name; });
	return it == kProfiles.end() ? nullptr : it;
}

std::span<const std::string_view> base_syscalls() { return kBase; }
std::span<const std::string_view> forbidden_syscalls() { return kForbidden; }

bool is_forbidden_syscall(std::string_view name)
{
	return std::find(kForbidden.begin(), kForbidden.end(), name) != kForbidden.end();
}

} // namespace vlb::sandbox
