// SPDX-License-Identifier: Apache-2.0
// The syscall lists behind profiles.h. Derived by tracing each program
// (strace -ff over the host tests and the guest cases) and keeping only what
// it calls after exec; setup that happens before the filter is loaded (the
// sandbox's own steps) is not in here.
#include "vlb/sandbox/profiles.h"

#include <asm/termbits.h>
#include <linux/fs.h>
#include <linux/input.h>
#include <linux/virtio_loopback.h>

#include <algorithm>
#include <array>

namespace vlb::sandbox {
namespace {

using namespace std::string_view_literals;

// The whole request number: one ioctl. The kernel reads the request as
// 32 bits, so the filter compares those. No profile allows an ioctl type
// as a whole: a type holds requests that change host devices (evdev's
// EVIOCGRAB and EVIOCSKEYCODE, the terminal's TIOCSTI).
constexpr std::uint32_t kIoctlRequestMask = 0xffffffff;
// Every request of one number whatever its size field (_IOC_SIZE, bits
// 16..29): the evdev queries whose size is the caller's buffer length.
constexpr std::uint32_t kIoctlAnySize = ~(static_cast<std::uint32_t>(_IOC_SIZEMASK) << _IOC_SIZESHIFT);
// A query of a variable-length evdev table (EVIOCGNAME(len) and friends).
constexpr IoctlRule evdev_query(std::uint32_t nr, std::string_view why)
{
	return IoctlRule{kIoctlAnySize, _IOC(_IOC_READ, 'E', nr, 0), why};
}

constexpr std::array kBase = {
	// dynamic loader and libc start-up
	"access"sv, "arch_prctl"sv, "brk"sv, "close"sv, "fstat"sv, "newfstatat"sv, "lseek"sv,
	"mmap"sv, "mprotect"sv, "munmap"sv, "openat"sv, "pread64"sv,
	"prlimit64"sv, "rseq"sv, "set_robust_list"sv, "set_tid_address"sv, "getrandom"sv,
	// malloc: trimming and growing large blocks (rare, not in every trace)
	"mremap"sv, "madvise"sv,
	// each program's own filter forbidding exec for good, first thing
	// (vlb/self_filter.h; vlb-dev-blk's io_uring_setup too): the filter
	// allows SECCOMP_SET_MODE_FILTER only, which can only narrow
	"seccomp"sv,
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
	// a taken-over device's requests in flight, written into the
	// back-end's inflight memfd (vu::store_inflight_queue: pwrite, not a
	// mapping the back-end could shrink under it)
	"pwrite64"sv,
};
// The requests the adapter makes: CREATE or REATTACH on the control node,
// then the device fd's (adapter/kernel_device.cpp).
constexpr std::array kAdapterIoctls = {
	IoctlRule{kIoctlRequestMask, VLB_IOC_CREATE, "creating its device"},
	IoctlRule{kIoctlRequestMask, VLB_IOC_REATTACH, "taking over its device from a previous adapter"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_SET_VQ_KICK, "the driver's kick eventfd of a queue"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_SET_VQ_CALL, "the back-end's call eventfd of a queue"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_GET_IOVA_FD, "the IOVA fd the back-end maps"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_CONFIG_UPDATE, "config space changes"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_GET_STATS, "the device's counters"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_GET_STATE, "a taken-over device's driver state"},
	IoctlRule{kIoctlRequestMask, VLB_DEV_GET_VQ_STATE, "a taken-over device's queues"},
};

// Every back-end: vhost-user INFLIGHT_SHMFD, it creates and sizes the
// region (the adapter only receives it, and maps it to hand requests
// over when it takes over a device from a previous adapter); with
// connect = "socket", accepting its adapter on the listening socket the
// supervisor hands it (it can make no socket of its own), and the
// console's clients on a --port-fd listening socket.
constexpr std::array kBackendOnly = {"memfd_create"sv, "ftruncate"sv, "accept4"sv};

// Every back-end: its completions processed in its own thread, on the
// IOVA fd (vhost-user library, VirtQueue::notify); nothing a write to its
// call eventfd could not do.
constexpr IoctlRule kIovaCall{kIoctlRequestMask, VLB_IOVA_CALL,
			      "completions processed by the caller (VLB_IOVA_CALL)"};

constexpr std::array kBlk = {
	"memfd_create"sv, "ftruncate"sv, "accept4"sv, // kBackendOnly's
	// --read-threads: worker threads (clone is limited to CLONE_THREAD by
	// the filter, see seccomp_filter.cpp)
	"clone"sv,
	// the io_uring engine: its ring is restricted to the opcodes it uses
	// before any input is read, and then io_uring_setup is forbidden by a
	// filter the program adds itself (devices/blk/uring_lock.h)
	"io_uring_setup"sv, "io_uring_enter"sv, "io_uring_register"sv,
	"preadv"sv, "pwritev"sv, "preadv2"sv, "pwritev2"sv, "pwrite64"sv,
	"fsync"sv, "fdatasync"sv, "fallocate"sv,
};
constexpr std::array kBlkIoctls = {
	IoctlRule{kIoctlRequestMask, BLKGETSIZE64, "a block device's capacity (BLKGETSIZE64)"},
	IoctlRule{kIoctlRequestMask, BLKSSZGET, "a block device's logical block size (BLKSSZGET)"},
	// these requests alone of the transport's: no control ioctl
	IoctlRule{kIoctlRequestMask, VLB_IOVA_COPY, "kernel copies on the IOVA fd (VLB_IOVA_COPY)"},
	kIovaCall,
};

constexpr std::array kRngIoctls = {kIovaCall};

// What libevdev asks a forwarded host device (--evdev-fd) at start and
// after SYN_DROPPED (the requests in Debian's libevdev 1.13 besides the
// grab and clock calls vlb-dev-input never makes): queries only. Nothing
// that changes the host device (EVIOCGRAB, EVIOCSKEYCODE, EVIOCSREP,
// EVIOCSABS, EVIOCSFF, EVIOCREVOKE, EVIOCSMASK, EVIOCSCLOCKID).
constexpr std::array kInputIoctls = {
	IoctlRule{kIoctlRequestMask, EVIOCGVERSION, "evdev: protocol version"},
	IoctlRule{kIoctlRequestMask, EVIOCGID, "evdev: bus, vendor, product"},
	IoctlRule{kIoctlRequestMask, EVIOCGREP, "evdev: key repeat settings, read"},
	evdev_query(0x06, "evdev: name (EVIOCGNAME)"),
	evdev_query(0x07, "evdev: physical path (EVIOCGPHYS)"),
	evdev_query(0x08, "evdev: unique id (EVIOCGUNIQ)"),
	evdev_query(0x09, "evdev: properties (EVIOCGPROP)"),
	evdev_query(0x0a, "evdev: multitouch slots (EVIOCGMTSLOTS)"),
	evdev_query(0x18, "evdev: key state (EVIOCGKEY)"),
	evdev_query(0x19, "evdev: LED state (EVIOCGLED)"),
	evdev_query(0x1b, "evdev: switch state (EVIOCGSW)"),
	// EVIOCGBIT(type, len): numbers 0x20..0x3f
	IoctlRule{kIoctlAnySize & ~0x1fU, _IOC(_IOC_READ, 'E', 0x20, 0), "evdev: event bits (EVIOCGBIT)"},
	// EVIOCGABS(axis): numbers 0x40..0x7f, one struct input_absinfo
	IoctlRule{kIoctlRequestMask & ~0x3fU, EVIOCGABS(0), "evdev: an axis (EVIOCGABS)"},
	kIovaCall,
};

// --pty: posix_openpt, grantpt, unlockpt, ptsname_r; --stdio: glibc's
// isatty. Nothing that reaches another terminal (TIOCSTI, TIOCSCTTY,
// TIOCCONS, TIOCLINUX, TIOCSETD, ...).
constexpr std::array kConsoleIoctls = {
	IoctlRule{kIoctlRequestMask, TCGETS, "terminal settings, read (isatty)"},
	IoctlRule{kIoctlRequestMask, TIOCGPTN, "the pty's number (ptsname_r, grantpt)"},
	IoctlRule{kIoctlRequestMask, TIOCSPTLCK, "unlocking the pty (unlockpt)"},
	kIovaCall,
};

const std::array kProfiles = {
	Profile{"adapter", "vlb-adapter", kAdapter, kAdapterIoctls},
	Profile{"device-blk", "vlb-dev-blk", kBlk, kBlkIoctls},
	Profile{"device-rng", "vlb-dev-rng", kBackendOnly, kRngIoctls},
	Profile{"device-input", "vlb-dev-input", kBackendOnly, kInputIoctls},
	Profile{"device-console", "vlb-dev-console", kBackendOnly, kConsoleIoctls},
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
	"modify_ldt"sv, "quotactl_fd"sv,
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
