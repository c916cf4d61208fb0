// SPDX-License-Identifier: Apache-2.0
// Landlock through the kernel uapi header. Debian 12's <linux/landlock.h>
// stops at ABI 2; the later rights and the network and scope fields are
// defined here (values from the uapi header of later kernels, ABI-stable),
// and only used when the running kernel reports that ABI.
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "steps.h"
#include "vlb/sandbox/sandbox.h"
#include "vlb/sys_error.h"
#include "vlb/unique_fd.h"

namespace vlb::sandbox {
namespace {

constexpr std::uint64_t kFsTruncate = 1ULL << 14;       // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ULL << 15;       // ABI 5
constexpr std::uint64_t kNetBindTcp = 1ULL << 0;        // ABI 4
constexpr std::uint64_t kNetConnectTcp = 1ULL << 1;     // ABI 4
constexpr std::uint64_t kScopeAbstractUnix = 1ULL << 0; // ABI 6
constexpr std::uint64_t kScopeSignal = 1ULL << 1;       // ABI 6
constexpr int kRuleNetPort = 2;

// struct landlock_ruleset_attr as of ABI 6; older kernels accept the larger
// struct as long as the fields they do not know are zero.
struct RulesetAttr {
	std::uint64_t handled_access_fs;
	std::uint64_t handled_access_net;
	std::uint64_t scoped;
};

struct __attribute__((packed)) NetPortAttr {
	std::uint64_t allowed_access;
	std::uint64_t port;
};

constexpr std::uint64_t kFsRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
constexpr std::uint64_t kFsExec = kFsRead | LANDLOCK_ACCESS_FS_EXECUTE;
constexpr std::uint64_t kFsWrite = kFsRead | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
				   LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
				   LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
				   LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER |
				   kFsTruncate | kFsIoctlDev;
// Rights that make sense on a file (not a directory) as a rule's target.
constexpr std::uint64_t kFsFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
					LANDLOCK_ACCESS_FS_READ_FILE | kFsTruncate | kFsIoctlDev;

std::uint64_t fs_rights_for_abi(int abi)
{
	std::uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; // ABI 1
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= kFsTruncate;
	if (abi >= 5)
		all |= kFsIoctlDev;
	return all;
}

void add_path_rule(int ruleset, int fd, std::uint64_t access, std::uint64_t handled, const std::string &what)
{
	struct stat st{};
	if (::fstat(fd, &st) != 0)
		throw_errno("landlock: stat " + what);
	access &= handled;
	if (!S_ISDIR(st.st_mode))
		access &= kFsFileRights;
	landlock_path_beneath_attr attr{};
	attr.allowed_access = access;
	attr.parent_fd = fd;
	if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) != 0)
		throw_errno("landlock: rule for " + what);
}

void add_path_rule(int ruleset, const std::string &path, std::uint64_t access, std::uint64_t handled)
{
	const UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
	if (!fd)
		throw_errno("landlock: open " + path);
	add_path_rule(ruleset, fd.get(), access, handled, path);
}

} // namespace

int landlock_abi()
{
	const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : static_cast<int>(abi);
}

namespace detail {

std::string apply_landlock(const LandlockRules &rules, int binary_fd)
{
	const int abi = landlock_abi();
	const bool wants_ports = !rules.tcp_bind.empty() || !rules.tcp_connect.empty();
	if (abi == 0) {
		if (!rules.best_effort)
			throw std::runtime_error("landlock: the kernel has no Landlock (and the policy is not best-effort)");
		return "landlock: unavailable, skipped (best effort)";
	}
	if (wants_ports && abi < 4 && !rules.best_effort)
		throw std::runtime_error("landlock: TCP port rules need ABI 4, the kernel has ABI " +
					 std::to_string(abi));

	RulesetAttr attr{};
	attr.handled_access_fs = fs_rights_for_abi(abi);
	if (abi >= 4)
		attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
	if (abi >= 6)
		attr.scoped = kScopeAbstractUnix | kScopeSignal;
	const UniqueFd ruleset(static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
	if (!ruleset)
		throw_errno("landlock: create ruleset");

	const std::uint64_t fs = attr.handled_access_fs;
	add_path_rule(ruleset.get(), binary_fd, kFsExec, fs, "the program");
	add_path_rule(ruleset.get(), dynamic_loader_path(), kFsExec, fs);
	for (const auto &p : system_read_paths())
		add_path_rule(ruleset.get(), p, kFsRead, fs);
	for (const char *dev : {"/dev/null", "/dev/zero"})
		add_path_rule(ruleset.get(), dev, kFsRead | LANDLOCK_ACCESS_FS_WRITE_FILE, fs);
	add_path_rule(ruleset.get(), "/dev/urandom", kFsRead, fs);
	for (const auto &p : rules.read)
		add_path_rule(ruleset.get(), p, kFsRead, fs);
	for (const auto &p : rules.exec)
		add_path_rule(ruleset.get(), p, kFsExec, fs);
	for (const auto &p : rules.write)
		add_path_rule(ruleset.get(), p, kFsWrite, fs);
	if (abi >= 4) {
		auto add_port = [&](std::uint16_t port, std::uint64_t access) {
			NetPortAttr net{access, port};
			if (::syscall(SYS_landlock_add_rule, ruleset.get(), kRuleNetPort, &net, 0) != 0)
				throw_errno("landlock: rule for TCP port " + std::to_string(port));
		};
		for (const auto port : rules.tcp_bind)
			add_port(port, kNetBindTcp);
		for (const auto port : rules.tcp_connect)
			add_port(port, kNetConnectTcp);
	}
	if (::syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0)
		throw_errno("landlock: restrict self");

	std::string line = "landlock: ABI " + std::to_string(abi) + ", filesystem";
	line += abi >= 4 ? ", TCP bind/connect" : " (no network rules before ABI 4)";
	line += abi >= 6 ? ", scoped signals and abstract sockets" : "";
	line += "; " + std::to_string(rules.read.size()) + " read, " + std::to_string(rules.write.size()) +
		" write, " + std::to_string(rules.exec.size()) + " exec paths, " +
		std::to_string(rules.tcp_bind.size() + rules.tcp_connect.size()) + " TCP ports";
	return line;
}

} // namespace detail
} // namespace vlb::sandbox
