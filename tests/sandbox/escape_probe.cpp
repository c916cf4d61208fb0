// SPDX-License-Identifier: Apache-2.0
// vlb-escape-probe ATTEMPT [ARG]: tries one way out of the sandbox and
// prints "escaped" (it worked) or "refused ERRNO_NAME". A seccomp kill shows
// up as death by SIGSYS instead. Built without sanitizers: it runs in the
// minimal root, where their runtime finds no /proc.
#include <asm/termbits.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <linux/input.h>
#include <linux/sched.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <linux/virtio_loopback.h>
#include <pthread.h>
#include <sched.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include "uring_lock.h"
#include "vlb_test/create_request.h"
#include "vlb/self_filter.h"
#include "vlb/undumpable.h"

#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int report(long rc)
{
	if (rc >= 0) {
		std::puts("escaped");
		return 0;
	}
	std::printf("refused %s\n", strerrorname_np(errno));
	return 1;
}

// The probe's numeric argument (a pid or an fd); -1 when it is not one.
int number(const char *s)
{
	char *end = nullptr;
	const long v = std::strtol(s, &end, 10);
	return (end == s || *end != '\0' || v < 0 || v > 1 << 20) ? -1 : static_cast<int>(v);
}

int try_open(const char *path, int flags) { return report(::open(path, flags | O_CLOEXEC, 0600)); }

int try_connect_unix(const char *path)
{
	const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report(fd);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
	return report(::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr));
}

// Any capability in any set counts as regained.
int try_capabilities()
{
	__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2]{};
	if (::syscall(SYS_capget, &hdr, data) != 0)
		return report(-1);
	bool any = false;
	for (const auto &d : data)
		any = any || d.effective != 0 || d.permitted != 0 || d.inheritable != 0;
	for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
		any = any || ::prctl(PR_CAPBSET_READ, cap) == 1 ||
		      ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1;
	if (any) {
		std::puts("escaped");
		return 0;
	}
	// And try to raise one: capset with everything.
	data[0].effective = data[0].permitted = ~0U;
	return report(::syscall(SYS_capset, &hdr, data));
}

void *thread_body(void * /*unused*/) { return nullptr; }

// A thread of this process: glibc tries clone3, then clone.
int try_thread()
{
	pthread_t t{};
	if (const int rc = ::pthread_create(&t, nullptr, thread_body, nullptr); rc != 0) {
		errno = rc;
		return report(-1);
	}
	::pthread_join(t, nullptr);
	return report(0);
}

// A new process: clone without CLONE_THREAD.
int try_fork()
{
	const pid_t pid = ::fork();
	if (pid == 0)
		::_exit(0);
	if (pid > 0)
		::waitpid(pid, nullptr, 0);
	return report(pid);
}

// clone() with CLONE_NEWUSER (unshare by another name), or clone3(), whose
// flags a filter cannot read: a child in a user namespace of its own.
int try_clone_namespace(const std::string &how)
{
	long pid = -1;
	if (how == "clone3") {
		clone_args args{};
		args.flags = CLONE_NEWUSER;
		args.exit_signal = SIGCHLD;
		pid = ::syscall(SYS_clone3, &args, sizeof args);
	} else {
		pid = ::syscall(SYS_clone, static_cast<unsigned long>(CLONE_NEWUSER | SIGCHLD), nullptr, nullptr, nullptr, 0UL);
	}
	if (pid == 0)
		::_exit(0);
	if (pid > 0)
		::waitpid(static_cast<pid_t>(pid), nullptr, 0);
	return report(pid);
}

// A ring set up and locked as vlb-dev-blk sets up and locks its own
// (uring_lock.h); -errno on failure.
int setup_locked_ring(io_uring &ring)
{
	if (const int r = vlb::devices::setup_engine_ring(4, ring, -1); r < 0)
		return r;
	return vlb::devices::forbid_new_rings();
}

// One io_uring operation on a ring set up and locked as vlb-dev-blk sets
// up and locks its own (uring_lock.h): what a compromised blk device
// holds. The kernel runs the operation without the seccomp filter seeing
// it.
int try_uring_op(const std::string &op)
{
	io_uring ring{};
	if (const int r = setup_locked_ring(ring); r < 0) {
		errno = -r;
		return report(-1);
	}
	io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	static sockaddr_un addr{AF_UNIX, "/run/systemd/notify"};
	static char byte = 0;
	static iovec iov{&byte, 1};
	static msghdr msg{nullptr, 0, &iov, 1, nullptr, 0, 0};
	if (op == "socket")
		io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
	else if (op == "connect")
		io_uring_prep_connect(sqe, 0, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
	else if (op == "sendmsg")
		io_uring_prep_sendmsg(sqe, 0, &msg, 0);
	else if (op == "openat")
		io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY, 0);
	else if (op == "readv")
		io_uring_prep_readv(sqe, 0, &iov, 1, 0);
	else if (op == "readv-linked") {
		io_uring_prep_readv(sqe, 0, &iov, 1, 0);
		sqe->flags |= IOSQE_IO_LINK;
	} else
		return 2;
	if (const int r = io_uring_submit(&ring); r < 0) {
		errno = -r;
		return report(-1);
	}
	io_uring_cqe *cqe = nullptr;
	if (const int r = io_uring_wait_cqe(&ring, &cqe); r < 0) {
		errno = -r;
		return report(-1);
	}
	errno = cqe->res < 0 ? -cqe->res : 0;
	return report(cqe->res);
}

// Writable and executable memory: at once, or made executable later;
// "mmap-rw" and "mprotect-r" are the controls that must work.
int try_write_exec(const std::string &how)
{
	const int prot = how == "mmap" ? PROT_READ | PROT_WRITE | PROT_EXEC : PROT_READ | PROT_WRITE;
	void *p = ::mmap(nullptr, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || how == "mmap" || how == "mmap-rw")
		return report(p == MAP_FAILED ? -1 : 0);
	if (how == "mprotect")
		return report(::mprotect(p, 4096, PROT_READ | PROT_EXEC));
	if (how == "mprotect-r")
		return report(::mprotect(p, 4096, PROT_READ));
	if (how == "pkey_mprotect")
		return report(::syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_EXEC, -1));
	if (how == "shmat") {
		const int id = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		// shmat() fails with (void *)-1; compare as an integer.
		return report(id < 0 ? -1 : (reinterpret_cast<std::intptr_t>(::shmat(id, nullptr, SHM_EXEC)) == -1 ? -1 : 0));
	}
	return 2;
}

// An ioctl a profile must not let through, or (the controls) one it must
// let through to the kernel, which answers ENOTTY on /dev/null (fd 0).
int try_ioctl(const std::string &name)
{
	static const std::pair<const char *, unsigned long> kRequests[] = {
		{"EVIOCGRAB", EVIOCGRAB},
		{"EVIOCSKEYCODE", EVIOCSKEYCODE},
		{"EVIOCSKEYCODE_V2", EVIOCSKEYCODE_V2},
		{"EVIOCSREP", EVIOCSREP},
		{"EVIOCREVOKE", EVIOCREVOKE},
		{"EVIOCSABS", EVIOCSABS(0)},
		{"EVIOCGVERSION", EVIOCGVERSION},
		{"EVIOCGBIT", EVIOCGBIT(EV_KEY, 96)},
		{"EVIOCGABS", EVIOCGABS(ABS_X)},
		{"EVIOCGNAME", EVIOCGNAME(64)},
		{"TIOCSTI", TIOCSTI},
		{"TIOCSCTTY", TIOCSCTTY},
		{"TIOCCONS", TIOCCONS},
		{"TCSETS", TCSETS},
		{"TCGETS", TCGETS},
		{"VLB_IOC_CREATE", VLB_IOC_CREATE},
		{"VLB_IOC_SCOPE", VLB_IOC_SCOPE},
		{"VLB_DEV_GET_STATS", VLB_DEV_GET_STATS},
		{"VLB_IOVA_COPY", VLB_IOVA_COPY},
		{"VLB_OTHER", _IO(VLB_IOCTL_MAGIC, 0x7f)},
		{"BLKGETSIZE64", BLKGETSIZE64},
		{"BLKDISCARD", BLKDISCARD},
		{"BLKRRPART", BLKRRPART},
	};
	for (const auto &[n, request] : kRequests) {
		if (name == n) {
			std::uint64_t buf[64]{};
			return report(::ioctl(0, request, buf));
		}
	}
	return 2;
}

// What a compromised adapter would do with the control file it holds
// (fd 3): take over another device (REATTACH by name), or make one of any
// type and name (a keyboard). A minimal valid request of |device_id|.
int try_vlb_create(const char *device_id, const char *name)
{
	vlb_create c = vlb::test::rng_create_request(name);
	c.device_id = static_cast<__u32>(number(device_id));
	c.num_queues = 2;
	c.config_size = c.device_id == 18 ? 8 : 0; // input: the smallest config
	return report(::ioctl(3, VLB_IOC_CREATE, &c));
}

int try_vlb_reattach(const char *name)
{
	vlb_reattach r{};
	std::strncpy(r.name, name, sizeof(r.name) - 1);
	return report(::ioctl(3, VLB_IOC_REATTACH, &r));
}

// A second ring after the device's own is locked: unrestricted, if the
// kernel let the process make it.
int try_uring_new()
{
	io_uring ring{};
	if (const int r = setup_locked_ring(ring); r < 0) {
		errno = -r;
		return report(-1);
	}
	io_uring_params params{};
	return report(::syscall(SYS_io_uring_setup, 4, &params));
}

// A memfd grown to |size| bytes, its last byte written: what a device
// does to take memory until the OOM killer takes other processes. The
// attacker ignores SIGXFSZ, so the limit shows as EFBIG.
int try_memfd_fill(const char *size_text)
{
	const unsigned long long size = std::strtoull(size_text, nullptr, 0);
	std::signal(SIGXFSZ, SIG_IGN);
	const int fd = static_cast<int>(::syscall(SYS_memfd_create, "fill", 0U));
	if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0)
		return report(-1);
	if (::lseek(fd, static_cast<off_t>(size - 1), SEEK_SET) < 0)
		return report(-1);
	return report(::write(fd, "x", 1));
}

// A program of the process's own choosing run through the one exec the
// filter allows, execveat of the program's fd number: a copy of the
// dynamic loader (an executable like any other, readable in every root)
// written into a memfd, put at fd |fd_text|, run with --version. Landlock
// cannot refuse it (a memfd is on no path).
int try_memfd_exec(const char *fd_text)
{
	const int target = number(fd_text);
	const int src = ::open("/lib64/ld-linux-x86-64.so.2", O_RDONLY | O_CLOEXEC);
	const int mem = static_cast<int>(::syscall(SYS_memfd_create, "program", 0U));
	if (target < 0 || src < 0 || mem < 0)
		return report(-1);
	char buf[65536];
	for (ssize_t n = 0; (n = ::read(src, buf, sizeof buf)) > 0;)
		if (::write(mem, buf, static_cast<std::size_t>(n)) != n)
			return report(-1);
	// The profiles allow dup and fcntl, not dup2: F_DUPFD takes the lowest
	// free number from |target| on, which is |target| after close-on-exec
	// freed the program's fd.
	::close(src);
	const int placed = mem == target ? mem : ::fcntl(mem, F_DUPFD, target);
	if (placed < 0)
		return report(-1);
	if (placed != target) {
		std::printf("fd %d taken, got %d\n", target, placed);
		return 1;
	}
	char arg0[] = "ld.so";
	char arg1[] = "--version";
	char *argv[] = {arg0, arg1, nullptr};
	char *envp[] = {nullptr};
	return report(::syscall(SYS_execveat, target, "", argv, envp, AT_EMPTY_PATH));
}

// Address space for |size| bytes, not touched (no memory is used either way).
int try_map(const char *size_text)
{
	const unsigned long long size = std::strtoull(size_text, nullptr, 0);
	void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return report(p == MAP_FAILED ? -1 : 0);
}

// A process to attack from outside: says "ready" once running (after
// main's first step, as in every vlb program), then waits for its stdin to close.
int be_victim()
{
	std::fputs("ready\n", stdout);
	std::fflush(stdout);
	char c = 0;
	while (::read(0, &c, 1) > 0) {
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	// What every sandboxed vlb program does first (vlb::run_program).
	if (!vlb::stop_being_dumpable())
		return report(-1);
	if (const int r = vlb::forbid_exec(); r < 0 && r != -EACCES) {
		errno = -r;
		return report(-1);
	}
	if (argc < 2) {
		std::fputs("usage: vlb-escape-probe ATTEMPT [ARG]\n", stderr);
		return 2;
	}
	const std::string what = argv[1];
	const char *arg = argc > 2 ? argv[2] : "";
	if (what == "read-outside")
		return try_open(arg, O_RDONLY);
	if (what == "vlb-create" && argc > 3)
		return try_vlb_create(arg, argv[3]);
	if (what == "vlb-reattach")
		return try_vlb_reattach(arg);
	if (what == "write-read-only")
		return try_open(arg, O_WRONLY | O_CREAT | O_TRUNC);
	if (what == "exec")
		return report(::execl("/bin/sh", "sh", "-c", "true", nullptr));
	if (what == "execveat") {
		// /bin/sh by fd, at the number ARG: the number the sandbox's own
		// exec used passes seccomp's argument check and meets Landlock.
		// (dup2 is not in the profile: open until the number comes up.)
		const int want = number(arg);
		int fd = -1;
		while (fd < want && (fd = ::open("/bin/sh", O_PATH | O_CLOEXEC)) >= 0) {
		}
		if (fd != want)
			return report(-1);
		const char *const args[] = {"sh", "-c", "true", nullptr};
		return report(::syscall(SYS_execveat, want, "", args, nullptr, AT_EMPTY_PATH));
	}
	if (what == "socket-inet")
		return report(::socket(AF_INET, SOCK_STREAM, 0));
	if (what == "socket-netlink")
		return report(::socket(AF_NETLINK, SOCK_RAW, 0));
	if (what == "socket-packet")
		return report(::socket(AF_PACKET, SOCK_RAW, 0));
	if (what == "connect-unix")
		return try_connect_unix(arg);
	if (what == "ptrace")
		return report(::ptrace(PTRACE_ATTACH, number(arg), nullptr, nullptr));
	if (what == "signal")
		return report(::kill(number(arg), SIGTERM));
	if (what == "mount")
		return report(::mount("tmpfs", "/", "tmpfs", 0, nullptr));
	if (what == "unshare")
		return report(::unshare(CLONE_NEWUSER));
	if (what == "bpf") {
		bpf_attr attr{};
		return report(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
	}
	if (what == "keyctl")
		return report(::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
	if (what == "perf_event_open") {
		perf_event_attr attr{};
		attr.size = sizeof attr;
		attr.type = PERF_TYPE_SOFTWARE;
		return report(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
	}
	if (what == "userfaultfd")
		return report(::syscall(SYS_userfaultfd, O_CLOEXEC));
	if (what == "io_uring") {
		io_uring_params params{};
		return report(::syscall(SYS_io_uring_setup, 4, &params));
	}
	if (what == "io_uring-op")
		return try_uring_op(arg);
	if (what == "io_uring-new")
		return try_uring_new();
	if (what == "write-exec")
		return try_write_exec(arg);
	if (what == "ioctl")
		return try_ioctl(arg);
	if (what == "setuid")
		return report(::setuid(0));
	if (what == "capabilities")
		return try_capabilities();
	if (what == "pdeathsig") {
		// Not an escape: whether the child dies with its supervisor.
		int sig = 0;
		if (::prctl(PR_GET_PDEATHSIG, &sig) != 0)
			return report(-1);
		std::printf("pdeathsig %d\n", sig);
		return 0;
	}
	if (what == "execveat-absolute") {
		// The allowed fd number with an absolute path, which the kernel
		// takes instead of the fd: the loader, which Landlock lets run.
		char arg0[] = "ld.so";
		char arg1[] = "--version";
		char *args[] = {arg0, arg1, nullptr};
		char *envp[] = {nullptr};
		return report(::syscall(SYS_execveat, number(arg), "/lib64/ld-linux-x86-64.so.2", args, envp,
					AT_EMPTY_PATH));
	}
	if (what == "memfd-exec")
		return try_memfd_exec(arg);
	if (what == "memfd-fill")
		return try_memfd_fill(arg);
	if (what == "map")
		return try_map(arg);
	if (what == "victim")
		return be_victim();
	if (what == "dumpable-again")
		return report(::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	if (what == "dumpable") {
		// Not an escape: whether the process is still dumpable after exec.
		std::printf("dumpable %d\n", ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
		return 0;
	}
	if (what == "fd")
		return report(::fcntl(number(arg), F_GETFD));
	if (what == "thread")
		return try_thread();
	if (what == "fork")
		return try_fork();
	if (what == "clone-namespace")
		return try_clone_namespace(arg);
	if (what == "proc")
		return try_open("/proc/1/environ", O_RDONLY);
	std::fprintf(stderr, "vlb-escape-probe: unknown attempt %s\n", what.c_str());
	return 2;
}
