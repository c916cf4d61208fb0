// SPDX-License-Identifier: Apache-2.0
// The seccomp filter (libseccomp), loaded last before exec. Allowed: the
// base list, the profile's calls, the policy's additions, minus its removals.
// Some calls are allowed only with particular arguments:
//   execveat  only the program's own fd with AT_EMPTY_PATH: the sandbox's
//             exec, and nothing after it (the fd is close-on-exec)
//   ioctl     only the request types the profile names
//   socket    only AF_UNIX
//   clone     only to start a thread (CLONE_THREAD, no CLONE_NEW* flags):
//             never a new process; clone3 fails with ENOSYS so libc falls
//             back to clone, whose flags the filter can see
//   seccomp   only SECCOMP_SET_MODE_FILTER: a program may narrow its own
//             filter further (vlb-dev-blk forbids itself io_uring_setup
//             once its ring exists), never widen it
//   mmap, mprotect, pkey_mprotect, shmat
//             never memory that is writable and executable, or made
//             executable later: what systemd's MemoryDenyWriteExecute=
//             filters, here for a supervisor that runs without systemd too
//   prctl     (unless the policy allows it whole) only PR_SET_DUMPABLE 0: each vlb program gives up being dumpable
//             after exec (vlb/undumpable.h), never takes it back
// W+X memory, other execveat, clone with namespace flags and taking
// dumpable back are refused under every action: "log" audits what a
// profile lacks, it never lets these through.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "steps.h"
#include "vlb/sandbox/profiles.h"

namespace vlb::sandbox::detail {
namespace {

struct FilterDeleter {
	void operator()(void *ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

constexpr std::uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
					       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
constexpr std::uint64_t kWriteExec = PROT_WRITE | PROT_EXEC;

// SCMP_A0() and friends are C compound literals; this is the C++ spelling.
scmp_arg_cmp arg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0)
{
	scmp_arg_cmp c{};
	c.arg = index;
	c.op = op;
	c.datum_a = a;
	c.datum_b = b;
	return c;
}

void check(int rc, const std::string &what)
{
	if (rc < 0)
		throw std::runtime_error("seccomp: " + what + ": " + std::generic_category().message(-rc));
}

int resolve(const std::string &name)
{
	const int nr = seccomp_syscall_resolve_name(name.c_str());
	if (nr == __NR_SCMP_ERROR)
		throw std::runtime_error("seccomp: unknown system call " + name);
	return nr;
}

std::uint32_t default_action(const SeccompRules &rules)
{
	switch (rules.action) {
	case SeccompAction::kErrno: return SCMP_ACT_ERRNO(static_cast<std::uint32_t>(rules.errno_value));
	case SeccompAction::kLog: return SCMP_ACT_LOG;
	case SeccompAction::kKillProcess: break;
	}
	return SCMP_ACT_KILL_PROCESS;
}

// What a refused call meets: the policy's action, but never "log".
std::uint32_t refusal(const SeccompRules &rules)
{
	return rules.action == SeccompAction::kLog ? SCMP_ACT_KILL_PROCESS : default_action(rules);
}

// Calls allowed with one value of their first argument only.
constexpr std::pair<std::string_view, scmp_datum_t> kFirstArgument[] = {
	{"socket", AF_UNIX},		      // unix sockets only
	{"seccomp", SECCOMP_SET_MODE_FILTER}, // adding a filter, never another operation
};

const scmp_datum_t *required_first_argument(const std::string &name)
{
	for (const auto &[call, value] : kFirstArgument)
		if (call == name)
			return &value;
	return nullptr;
}

class Builder {
public:
	explicit Builder(const SeccompRules &rules) : rules_(rules), ctx_(seccomp_init(default_action(rules)))
	{
		if (!ctx_)
			throw std::runtime_error("seccomp: seccomp_init failed");
	}

	void allow(const std::string &name)
	{
		if (const auto *first = required_first_argument(name)) {
			add(SCMP_ACT_ALLOW, name, {arg(0, SCMP_CMP_EQ, *first)});
		} else if (name == "clone") {
			add(SCMP_ACT_ALLOW, name,
			    {arg(0, SCMP_CMP_MASKED_EQ, kCloneNamespaceFlags | CLONE_THREAD, CLONE_THREAD)});
			refuse_namespace_clones();
		} else if (name == "mmap") {
			// Readable, writable or executable, but never writable and
			// executable at once.
			for (const std::uint64_t prot : {std::uint64_t{0}, std::uint64_t{PROT_WRITE}, std::uint64_t{PROT_EXEC}})
				add(SCMP_ACT_ALLOW, name, {arg(2, SCMP_CMP_MASKED_EQ, kWriteExec, prot)});
			add_refusal(name, arg(2, SCMP_CMP_MASKED_EQ, kWriteExec, kWriteExec));
		} else if (name == "mprotect" || name == "pkey_mprotect" || name == "shmat") {
			// The protection (shmat: its flags) never asks for
			// execution: memory mapped without it stays so.
			const std::uint64_t exec = name == "shmat" ? SHM_EXEC : PROT_EXEC;
			add(SCMP_ACT_ALLOW, name, {arg(2, SCMP_CMP_MASKED_EQ, exec, 0)});
			add_refusal(name, arg(2, SCMP_CMP_MASKED_EQ, exec, exec));
		} else {
			add(SCMP_ACT_ALLOW, name, {});
		}
	}

	void limit_ioctl(const Profile &profile)
	{
		for (const auto &rule : profile.ioctls)
			add(SCMP_ACT_ALLOW, "ioctl", {arg(1, SCMP_CMP_MASKED_EQ, rule.mask, rule.value)});
	}

	void allow_own_exec(int binary_fd)
	{
		const auto fd = static_cast<scmp_datum_t>(binary_fd);
		add(SCMP_ACT_ALLOW, "execveat",
		    {arg(0, SCMP_CMP_EQ, fd), arg(4, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)});
		add_refusal("execveat", arg(0, SCMP_CMP_NE, fd));
	}

	// clone with a namespace flag is unshare by another name: refused, under
	// "log" too. clone3 keeps its flags in memory a filter cannot read: it
	// fails with ENOSYS, and glibc falls back to clone.
	void refuse_namespace_clones()
	{
		for (std::uint64_t bit = 1; bit != 0; bit <<= 1)
			if ((kCloneNamespaceFlags & bit) != 0)
				add_refusal("clone", arg(0, SCMP_CMP_MASKED_EQ, bit, bit));
		add(SCMP_ACT_ERRNO(ENOSYS), "clone3", {});
	}

	// A call no policy may allow: under "log" it must not be made either,
	// only refused (elsewhere the default action refuses it already).
	void refuse_forbidden(const std::string &name)
	{
		if (rules_.action == SeccompAction::kLog)
			add(refusal(rules_), name, {});
	}

	// vlb/undumpable.h's call, and no other prctl. Taking it back would
	// open the process to ptrace and /proc/PID/mem of its own uid: refused
	// under "log" too.
	void allow_giving_up_dumpable()
	{
		add(SCMP_ACT_ALLOW, "prctl", {arg(0, SCMP_CMP_EQ, PR_SET_DUMPABLE), arg(1, SCMP_CMP_EQ, 0)});
		if (rules_.action == SeccompAction::kLog)
			add(refusal(rules_), "prctl",
			    {arg(0, SCMP_CMP_EQ, PR_SET_DUMPABLE), arg(1, SCMP_CMP_NE, 0)});
	}

	void load() { check(seccomp_load(ctx_.get()), "load"); }

private:
	void add(std::uint32_t action, const std::string &name, std::initializer_list<scmp_arg_cmp> cmps)
	{
		const std::vector<scmp_arg_cmp> v(cmps);
		check(seccomp_rule_add_array(ctx_.get(), action, resolve(name), static_cast<unsigned>(v.size()),
					     v.empty() ? nullptr : v.data()),
		      name);
	}

	// Refusals need rules of their own only under "log": elsewhere the
	// default action refuses already (and libseccomp rejects a rule that
	// repeats the default action).
	void add_refusal(const std::string &name, scmp_arg_cmp cmp)
	{
		if (rules_.action == SeccompAction::kLog)
			add(refusal(rules_), name, {cmp});
	}

	const SeccompRules &rules_;
	Filter ctx_;
};

} // namespace

std::string apply_seccomp(const SeccompRules &rules, int binary_fd)
{
	const Profile *profile = find_profile(rules.profile);
	if (profile == nullptr)
		throw std::runtime_error("seccomp: unknown profile '" + rules.profile + "'");
	std::set<std::string> allowed;
	for (const auto s : base_syscalls())
		allowed.emplace(s);
	for (const auto s : profile->syscalls)
		allowed.emplace(s);
	for (const auto &s : rules.allow)
		allowed.insert(s);
	for (const auto &s : rules.deny)
		allowed.erase(s);
	const bool ioctl_denied = std::find(rules.deny.begin(), rules.deny.end(), "ioctl") != rules.deny.end();

	Builder filter(rules);
	for (const auto &name : allowed) {
		if (is_forbidden_syscall(name))
			throw std::runtime_error("seccomp: " + name + " may never be allowed");
		filter.allow(name);
	}
	for (const auto name : forbidden_syscalls())
		filter.refuse_forbidden(std::string(name));
	// Elsewhere a clone outside the profile meets the default action.
	if (rules.action == SeccompAction::kLog && !allowed.contains("clone"))
		filter.refuse_namespace_clones();
	if (!allowed.contains("ioctl") && !ioctl_denied)
		filter.limit_ioctl(*profile);
	// Even when the policy denies prctl: every vlb program makes this
	// call first, and it only narrows what others may do to the process.
	if (!allowed.contains("prctl"))
		filter.allow_giving_up_dumpable();
	filter.allow_own_exec(binary_fd);
	filter.load();

	static constexpr const char *kActionNames[] = {"kill the process", "fail with errno",
						       "log only (W+X memory and the forbidden calls: kill)"};
	return "seccomp: profile " + rules.profile + ", " + std::to_string(allowed.size()) + " calls allowed" +
	       (profile->ioctls.empty() || ioctl_denied ? "" : " + ioctl limited to the profile's types") +
	       ", no W+X memory, anything else: " + kActionNames[static_cast<int>(rules.action)];
}

} // namespace vlb::sandbox::detail
