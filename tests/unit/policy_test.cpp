// SPDX-License-Identifier: Apache-2.0
// Policies: every shipped example loads; each broken policy in the table
// fails with exactly its error (file, line, column, key, reason).
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "vlb/policy/policy.h"

namespace {

using vlb::policy::parse_policy;
using vlb::policy::PolicyError;

const char *const kMinimal = "[device]\nname = \"d0\"\ntype = \"rng\"\n[backend]\nbinary = \"vlb-dev-rng\"\n";

TEST(Policy, ExamplesAllLoad)
{
	int n = 0;
	for (const auto &e : std::filesystem::directory_iterator(VLB_POLICY_EXAMPLES)) {
		if (e.path().extension() != ".toml")
			continue;
		EXPECT_NO_THROW((void)vlb::policy::load_policy_file(e.path().string())) << e.path();
		++n;
	}
	EXPECT_EQ(n, 5);
}

TEST(Policy, DefaultsAreTheHardenedOnes)
{
	const auto p = parse_policy(kMinimal, "m.toml");
	EXPECT_EQ(p.name, "d0");
	EXPECT_EQ(p.type, vlb::policy::DeviceType::kRng);
	for (const auto *s : {&p.backend.sandbox, &p.adapter.sandbox}) {
		EXPECT_EQ(s->uid, 65534U);
		EXPECT_EQ(s->namespaces, vlb::sandbox::kAllNamespaces);
		EXPECT_EQ(s->mount, vlb::sandbox::MountMode::kMinimal);
		EXPECT_TRUE(s->capabilities.empty());
		EXPECT_EQ(s->seccomp.action, vlb::sandbox::SeccompAction::kKillProcess);
		EXPECT_FALSE(s->landlock.best_effort);
	}
	EXPECT_EQ(p.backend.sandbox.seccomp.profile, "device-rng");
	EXPECT_EQ(p.adapter.sandbox.seccomp.profile, "adapter");
	EXPECT_EQ(p.adapter.binary, "vlb-adapter");
	EXPECT_EQ(p.restart.mode, vlb::policy::RestartMode::kOnFailure);
	EXPECT_EQ(p.digest.substr(0, 7), "sha256:");
	EXPECT_EQ(p.digest.size(), 7U + 64U);
}

// Every process is bounded by default: files (memfds too), threads and
// address space; "as" follows the IOVA window. Ids the policy leaves out
// are the supervisor's to assign.
TEST(Policy, DefaultRlimitsBoundEveryProcess)
{
	const auto limit = [](const vlb::sandbox::Spec &s, int resource) -> std::optional<std::uint64_t> {
		const auto it = std::find_if(s.rlimits.begin(), s.rlimits.end(),
					     [&](const vlb::sandbox::Rlimit &l) { return l.resource == resource; });
		return it == s.rlimits.end() ? std::nullopt : std::optional<std::uint64_t>(it->value);
	};
	const auto p = parse_policy(std::string(kMinimal) + "[memory]\niova_size = \"1G\"\n", "m.toml");
	for (const auto *proc : {static_cast<const vlb::policy::Process *>(&p.backend), &p.adapter}) {
		EXPECT_EQ(limit(proc->sandbox, RLIMIT_NOFILE), 256U);
		EXPECT_EQ(limit(proc->sandbox, RLIMIT_CORE), 0U);
		EXPECT_EQ(limit(proc->sandbox, RLIMIT_NPROC), vlb::policy::kDefaultNproc);
		EXPECT_EQ(limit(proc->sandbox, RLIMIT_FSIZE), vlb::policy::kDefaultFsize);
		EXPECT_EQ(limit(proc->sandbox, RLIMIT_AS), (1ULL << 30) + vlb::policy::kAddressSpaceHeadroom);
		EXPECT_FALSE(proc->uid_written);
		EXPECT_FALSE(proc->gid_written);
		EXPECT_FALSE(proc->fsize_written);
	}
	const auto q = parse_policy(std::string(kMinimal) +
					    "[backend.sandbox]\nuid = 1234\n[backend.sandbox.rlimits]\nas = \"8G\"\n"
					    "fsize = 4096\n",
				    "m.toml");
	EXPECT_EQ(limit(q.backend.sandbox, RLIMIT_AS), 8ULL << 30);
	EXPECT_EQ(limit(q.backend.sandbox, RLIMIT_FSIZE), 4096U);
	EXPECT_TRUE(q.backend.uid_written);
	EXPECT_FALSE(q.backend.gid_written);
	EXPECT_TRUE(q.backend.fsize_written);
	EXPECT_EQ(q.backend.sandbox.uid, 1234U);
}

struct Broken {
	const char *name; // cppcheck-suppress unusedStructMember ; read through GetParam()
	std::string text; // cppcheck-suppress unusedStructMember
	const char *error; // cppcheck-suppress unusedStructMember ; read through GetParam()
};

class BrokenPolicy : public ::testing::TestWithParam<Broken> {};

TEST_P(BrokenPolicy, FailsWithItsError)
{
	try {
		(void)parse_policy(GetParam().text, "p.toml");
		FAIL() << "accepted";
	} catch (const PolicyError &e) {
		EXPECT_STREQ(e.what(), GetParam().error);
	}
}

std::string with(const std::string &extra) { return kMinimal + extra; }

const Broken kBroken[] = {
	{"not_toml", "[device\nname = 1\n", "p.toml:1:8: Error while parsing table header: expected ']', saw '\\n'"},
	{"no_device", "[backend]\nbinary = \"x\"\n", "p.toml: device: the [device] table is required"},
	{"no_name", "[device]\ntype = \"rng\"\n", "p.toml:1:2: device.name: is required"},
	{"bad_name", "[device]\nname = \"Disk 0\"\ntype = \"rng\"\n[backend]\nbinary = \"b\"\n",
	 "p.toml:2:1: device.name: \"Disk 0\" must be 1..31 characters of a-z, 0-9, '-', '_'"},
	{"bad_type", "[device]\nname = \"d\"\ntype = \"gpu\"\n",
	 "p.toml:3:1: device.type: \"gpu\" is not one of: blk, console, input, rng"},
	{"unknown_key", with("colour = \"red\"\n"), "p.toml:6:1: backend.colour: unknown key"},
	{"unknown_table", with("[extras]\n"), "p.toml:6:2: extras: unknown key"},
	{"wrong_type", with("args = \"--x\"\n"), "p.toml:6:1: backend.args: must be an array of strings, not a string"},
	{"queues_range", "[device]\nname = \"d\"\ntype = \"blk\"\nqueues = 65\n",
	 "p.toml:4:1: device.queues: 65 is out of range 1..64"},
	{"queue_size_pow2", "[device]\nname = \"d\"\ntype = \"blk\"\nqueue_size = 100\n[backend]\nbinary = \"b\"\n",
	 "p.toml:4:1: device.queue_size: 100 is not a power of two"},
	{"rw_file_on_ro_disk",
	 "[device]\nname = \"d\"\ntype = \"blk\"\nread_only = true\n[backend]\nbinary = \"b\"\n"
	 "[[backend.files]]\npath = \"/d.img\"\naccess = \"read-write\"\noption = \"--backing-fd\"\n",
	 "p.toml:9:1: backend.files[0].access: \"read-write\" on a read-only device (device.read_only = true)"},
	{"ro_disk_writable_path",
	 "[device]\nname = \"d\"\ntype = \"blk\"\nread_only = true\n[backend]\nbinary = \"b\"\n"
	 "[backend.sandbox.landlock]\nwrite = [\"/var/x\"]\n",
	 "p.toml:8:1: backend.sandbox.landlock.write: a read-only device's back-end gets no writable paths"},
	{"root_uid", with("[backend.sandbox]\nuid = 0\n"),
	 "p.toml:7:1: backend.sandbox.uid: 0 (root) is not allowed for a sandboxed process"},
	{"landlock_root", with("[backend.sandbox.landlock]\nread = [\"/\"]\n"),
	 "p.toml:7:1: backend.sandbox.landlock.read: \"/\" must be an absolute path without \".\", \"..\", \"//\" or "
	 "a trailing \"/\" (and not \"/\" itself)"},
	{"landlock_dotdot", with("[backend.sandbox.landlock]\nwrite = [\"/var/lib/../../etc\"]\n"),
	 "p.toml:7:1: backend.sandbox.landlock.write: \"/var/lib/../../etc\" must be an absolute path without \".\", "
	 "\"..\", \"//\" or a trailing \"/\" (and not \"/\" itself)"},
	{"read_and_write", with("[backend.sandbox.landlock]\nread = [\"/srv\"]\nwrite = [\"/srv\"]\n"),
	 "p.toml:8:1: backend.sandbox.landlock.write: \"/srv\" is listed in more than one of read, write and exec"},
	{"forbidden_syscall", with("[backend.sandbox.seccomp]\nallow = [\"ptrace\"]\n"),
	 "p.toml:7:1: backend.sandbox.seccomp.allow: \"ptrace\" may never be allowed: it reaches outside the sandbox"},
	{"unknown_syscall", with("[backend.sandbox.seccomp]\nallow = [\"frobnicate\"]\n"),
	 "p.toml:7:1: backend.sandbox.seccomp.allow: unknown system call \"frobnicate\""},
	{"allow_and_deny", with("[backend.sandbox.seccomp]\nallow = [\"sync\"]\ndeny = [\"sync\"]\n"),
	 "p.toml:7:1: backend.sandbox.seccomp.allow: \"sync\" is in both allow and deny"},
	{"other_profile", with("[backend.sandbox.seccomp]\nprofile = \"device-blk\"\n"),
	 "p.toml:7:1: backend.sandbox.seccomp.profile: \"device-blk\" is the profile of vlb-dev-blk; this process is "
	 "device-rng"},
	{"errno_without_action", with("[backend.sandbox.seccomp]\nerrno = \"EPERM\"\n"),
	 "p.toml:7:1: backend.sandbox.seccomp.errno: only meaningful with action = \"errno\""},
	{"minimal_without_mountns", with("[backend.sandbox]\nnamespaces = [\"pid\"]\n"),
	 "p.toml:7:1: backend.sandbox.namespaces: leaves out \"mount\", which the default mount = \"minimal\" needs "
	 "(or set mount = \"none\")"},
	{"minimal_without_mountns_explicit", with("[backend.sandbox]\nnamespaces = [\"pid\"]\nmount = \"minimal\"\n"),
	 "p.toml:8:1: backend.sandbox.mount: \"minimal\" needs \"mount\" in namespaces"},
	{"unknown_namespace", with("[backend.sandbox]\nnamespaces = [\"time\"]\n"),
	 "p.toml:7:1: backend.sandbox.namespaces: unknown namespace \"time\" (user, mount, pid, net, ipc, uts, cgroup)"},
	{"unknown_capability", with("[backend.sandbox]\ncapabilities = [\"CAP_FLY\"]\n"),
	 "p.toml:7:1: backend.sandbox.capabilities: unknown capability \"CAP_FLY\""},
	{"adapter_dac_override", with("[adapter.sandbox]\ncapabilities = [\"CAP_DAC_OVERRIDE\"]\n"),
	 "p.toml:7:1: adapter.sandbox.capabilities: \"CAP_DAC_OVERRIDE\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	{"adapter_sys_admin", with("[adapter.sandbox]\ncapabilities = [\"sys_admin\"]\n"),
	 "p.toml:7:1: adapter.sandbox.capabilities: \"sys_admin\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	// fchown of its control node to its own uid, then an unscoped open.
	{"adapter_chown", with("[adapter.sandbox]\ncapabilities = [\"chown\"]\n"),
	 "p.toml:7:1: adapter.sandbox.capabilities: \"chown\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	{"adapter_net_admin", with("[adapter.sandbox]\ncapabilities = [\"net_admin\"]\n"),
	 "p.toml:7:1: adapter.sandbox.capabilities: \"net_admin\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	// SG_IO writes through a read-only backing fd skip the command filter.
	{"backend_sys_rawio", with("[backend.sandbox]\ncapabilities = [\"sys_rawio\"]\n"),
	 "p.toml:7:1: backend.sandbox.capabilities: \"sys_rawio\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	// A raised nofile limit would reach the fd the sandbox's exec waits at.
	{"backend_sys_resource", with("[backend.sandbox]\ncapabilities = [\"sys_resource\"]\n"),
	 "p.toml:7:1: backend.sandbox.capabilities: \"sys_resource\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	{"backend_net_admin", with("[backend.sandbox]\ncapabilities = [\"net_admin\"]\n"),
	 "p.toml:7:1: backend.sandbox.capabilities: \"net_admin\" may not be kept by a sandboxed process: only "
	 "ipc_lock, sys_nice, wake_alarm and block_suspend can be"},
	{"socketpair_with_path", with("socket_path = \"/run/x.sock\"\n"),
	 "p.toml:6:1: backend.socket_path: is only used with connect = \"socket\""},
	{"external_socketpair", "[device]\nname = \"d\"\ntype = \"blk\"\n[backend]\nspawned = false\n",
	 "p.toml:5:1: backend.spawned: a back-end the supervisor does not start must be reached by connect = \"socket\""},
	{"external_with_sandbox",
	 "[device]\nname = \"d\"\ntype = \"blk\"\n[backend]\nspawned = false\nconnect = \"socket\"\n"
	 "socket_path = \"/run/q.sock\"\n[backend.sandbox]\nuid = 5\n",
	 "p.toml:5:1: backend.spawned: false: binary, args, files and sandbox would be ignored; remove them"},
	{"relative_binary", "[device]\nname = \"d\"\ntype = \"rng\"\n[backend]\nbinary = \"bin/vlb-dev-rng\"\n",
	 "p.toml:5:1: backend.binary: \"bin/vlb-dev-rng\" must be an absolute path or a program name in the "
	 "supervisor's program directory"},
	{"file_option", with("[[backend.files]]\npath = \"/x\"\noption = \"-f\"\n"),
	 "p.toml:8:1: backend.files[0].option: \"-f\" must be a long option like \"--backing-fd\""},
	{"listen_with_access", with("[[backend.files]]\npath = \"/x\"\nlisten = true\naccess = \"read-only\"\noption = \"--port-fd\"\n"),
	 "p.toml:9:1: backend.files[0].access: does not apply to a listening socket (listen = true)"},
	{"iova_size", with("[memory]\niova_size = \"3M\"\n"),
	 "p.toml:7:1: memory.iova_size: 3145728 must be a power of two from 1M to 4G"},
	{"bad_size_suffix", with("[memory]\niova_size = \"3T\"\n"),
	 "p.toml:7:1: memory.iova_size: size \"3T\": the suffix must be K, M or G"},
	{"size_overflow", with("[memory]\niova_size = \"99999999999999G\"\n"),
	 "p.toml:7:1: memory.iova_size: size \"99999999999999G\" does not fit in 64 bits"},
	{"socket_in_root",
	 "[device]\nname = \"d\"\ntype = \"blk\"\n[backend]\nspawned = false\nconnect = \"socket\"\n"
	 "socket_path = \"/q.sock\"\n",
	 "p.toml:7:1: backend.socket_path: \"/q.sock\" must be in a directory of its own, not in \"/\""},
	{"no_type", "[device]\nname = \"d\"\n", "p.toml:1:2: device.type: is required"},
	{"bounce_word", with("[memory]\nbounce_threshold = \"most\"\n"),
	 "p.toml:7:1: memory.bounce_threshold: must be a byte count or \"all\""},
	{"backoff_order", with("[restart]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 1000\n"),
	 "p.toml:7:1: restart.backoff_initial_ms: is larger than backoff_max_ms"},
	{"restart_mode", with("[restart]\nmode = \"sometimes\"\n"),
	 "p.toml:7:1: restart.mode: \"sometimes\" is not one of: always, never, on-failure"},
	{"port_range", with("[backend.sandbox.landlock]\ntcp_connect = [70000]\n"),
	 "p.toml:7:1: backend.sandbox.landlock.tcp_connect: port 70000 is out of range 1..65535"},
	{"attestation_required", with("[attestation]\nrequired = true\n"),
	 "p.toml:7:1: attestation.required: attestation is not implemented yet; a policy that requires it is "
	 "refused until it is"},
};

INSTANTIATE_TEST_SUITE_P(Table, BrokenPolicy, ::testing::ValuesIn(kBroken),
			 [](const auto &param_info) { return std::string(param_info.param.name); });

TEST(Policy, CapabilityNamesAreAcceptedInEverySpelling)
{
	const auto p = parse_policy(with("[backend.sandbox]\ncapabilities = [\"CAP_WAKE_ALARM\", \"cap_sys_nice\", "
					 "\"ipc_lock\"]\n"),
				    "c.toml");
	EXPECT_EQ(p.backend.sandbox.capabilities, (std::vector<std::string>{"wake_alarm", "sys_nice", "ipc_lock"}));
}

TEST(Policy, DirectoryLoadsTheGoodAndReportsTheBroken)
{
	const auto dir = std::filesystem::temp_directory_path() / ("vlb-policy-" + std::to_string(::getpid()));
	std::filesystem::create_directories(dir);
	std::ofstream(dir / "a.toml") << kMinimal;
	std::ofstream(dir / "b.toml") << "[device]\nname = 3\n";
	std::ofstream(dir / "c.toml") << kMinimal; // same name as a.toml
	std::ofstream(dir / "ignored.txt") << "not a policy";
	const auto entries = vlb::policy::load_policy_directory(dir.string());
	std::filesystem::remove_all(dir);
	ASSERT_EQ(entries.size(), 3U);
	EXPECT_TRUE(entries[0].policy.has_value());
	EXPECT_FALSE(entries[1].policy.has_value());
	EXPECT_EQ(entries[1].error, (dir / "b.toml").string() + ":2:1: device.name: must be a string, not an integer");
	EXPECT_FALSE(entries[2].policy.has_value());
	EXPECT_EQ(entries[2].error, (dir / "c.toml").string() + ": device.name: \"d0\" is already used by " +
					    (dir / "a.toml").string());
}

} // namespace
