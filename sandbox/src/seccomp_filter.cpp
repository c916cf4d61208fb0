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
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <system_error>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

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

	Filter ctx(seccomp_init(default_action(rules)));
	if (!ctx)
		throw std::runtime_error("seccomp: seccomp_init failed");
	for (const auto &name : allowed) {
		if (is_forbidden_syscall(name))
			throw std::runtime_error("seccomp: " + name + " may never be allowed");
		const int nr = resolve(name);
		if (const auto *first = required_first_argument(name)) {
			check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1, arg(0, SCMP_CMP_EQ, *first)), name);
		} else if (name == "clone") {
			check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1,
					       arg(0, SCMP_CMP_MASKED_EQ, kCloneNamespaceFlags | CLONE_THREAD,
						   CLONE_THREAD)),
			      name);
			check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), resolve("clone3"), 0), "clone3");
		} else {
			check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0), name);
		}
	}
	if (!allowed.contains("ioctl") && !ioctl_denied) {
		for (const auto &rule : profile->ioctls)
			check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, resolve("ioctl"), 1,
					       arg(1, SCMP_CMP_MASKED_EQ, rule.mask, rule.value)),
			      "ioctl rule");
	}
	check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, resolve("execveat"), 2,
			       arg(0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(binary_fd)),
			       arg(4, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)),
	      "execveat");
	check(seccomp_load(ctx.get()), "load");

	static constexpr const char *kActionNames[] = {"kill the process", "fail with errno", "log only"};
	return "seccomp: profile " + rules.profile + ", " + std::to_string(allowed.size()) + " calls allowed" +
	       (profile->ioctls.empty() || ioctl_denied ? "" : " + ioctl limited to the profile's types") +
	       ", anything else: " + kActionNames[static_cast<int>(rules.action)];
}

} // namespace vlb::sandbox::detail
