// SPDX-License-Identifier: Apache-2.0
// What a well-typed policy may still get wrong: contradictions (a writable
// file on a read-only disk, a path both read-only and writable), and
// anything that would widen privilege without saying so (running as root,
// "/" as a Landlock path, a forbidden system call, another device type's
// seccomp profile). Each error names the key it is about.
#include <seccomp.h>

#include <algorithm>
#include <set>

#include "parse.h"
#include "vlb/sandbox/profiles.h"

namespace vlb::policy::detail {
namespace {

bool is_clean_absolute(const std::string &path)
{
	if (path.size() < 2 || path[0] != '/' || path.back() == '/' || path.find("//") != std::string::npos)
		return false;
	return path.find("/./") == std::string::npos && path.find("/../") == std::string::npos &&
	       !path.ends_with("/..") && !path.ends_with("/.");
}

void check_binary(const std::string &binary, const std::string &key, const Locations &where)
{
	if (binary.empty())
		where.fail(key, "is required");
	const bool bare = binary.find('/') == std::string::npos && binary != "." && binary != "..";
	if (!bare && !is_clean_absolute(binary))
		where.fail(key, "\"" + binary + "\" must be an absolute path or a program name in the supervisor's "
				 "program directory");
}

void check_sandbox(const sandbox::Spec &s, const std::string &key, const std::string &role_profile,
		   const Locations &where)
{
	if (s.uid == 0)
		where.fail(key + ".uid", "0 (root) is not allowed for a sandboxed process");
	if (s.gid == 0)
		where.fail(key + ".gid", "0 (root) is not allowed for a sandboxed process");
	if (s.mount == sandbox::MountMode::kMinimal && (s.namespaces & sandbox::kNsMount) == 0U) {
		if (where.written(key + ".mount"))
			where.fail(key + ".mount", "\"minimal\" needs \"mount\" in namespaces");
		where.fail(key + ".namespaces", "leaves out \"mount\", which the default mount = \"minimal\" needs "
						"(or set mount = \"none\")");
	}

	std::set<std::string> seen;
	auto paths = [&](const std::vector<std::string> &list, const char *set) {
		const std::string k = key + ".landlock." + set;
		for (const auto &p : list) {
			if (!is_clean_absolute(p))
				where.fail(k, "\"" + p + "\" must be an absolute path without \".\", \"..\", \"//\" or a "
						 "trailing \"/\" (and not \"/\" itself)");
			if (!seen.insert(p).second)
				where.fail(k, "\"" + p + "\" is listed in more than one of read, write and exec");
		}
	};
	paths(s.landlock.read, "read");
	paths(s.landlock.write, "write");
	paths(s.landlock.exec, "exec");

	const std::string sc = key + ".seccomp";
	const auto *profile = sandbox::find_profile(s.seccomp.profile);
	if (profile == nullptr)
		where.fail(sc + ".profile", "unknown profile \"" + s.seccomp.profile + "\"");
	if (s.seccomp.profile != role_profile)
		where.fail(sc + ".profile", "\"" + s.seccomp.profile + "\" is the profile of " +
						    std::string(profile->role) + "; this process is " + role_profile);
	for (const auto &name : s.seccomp.allow) {
		if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR)
			where.fail(sc + ".allow", "unknown system call \"" + name + "\"");
		if (sandbox::is_forbidden_syscall(name))
			where.fail(sc + ".allow", "\"" + name + "\" may never be allowed: it reaches outside the sandbox");
		if (std::find(s.seccomp.deny.begin(), s.seccomp.deny.end(), name) != s.seccomp.deny.end())
			where.fail(sc + ".allow", "\"" + name + "\" is in both allow and deny");
	}
	for (const auto &name : s.seccomp.deny)
		if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR)
			where.fail(sc + ".deny", "unknown system call \"" + name + "\"");
}

} // namespace

void validate(const Policy &p, const Locations &where)
{
	const bool name_ok = !p.name.empty() && p.name.size() < 32 &&
			     std::all_of(p.name.begin(), p.name.end(), [](char c) {
				     return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
			     });
	if (!name_ok)
		where.fail("device.name", "\"" + p.name + "\" must be 1..31 characters of a-z, 0-9, '-', '_'");
	if ((p.queue_size & (p.queue_size - 1)) != 0)
		where.fail("device.queue_size", std::to_string(p.queue_size) + " is not a power of two");
	if (p.read_only && p.type != DeviceType::kBlk)
		where.fail("device.read_only", "only a blk device can be read-only");

	const Backend &b = p.backend;
	if (b.connect == Connect::kSocketpair && !b.socket_path.empty())
		where.fail("backend.socket_path", "is only used with connect = \"socket\"");
	if (b.connect == Connect::kSocketPath && !is_clean_absolute(b.socket_path))
		where.fail("backend.socket_path", "connect = \"socket\" needs an absolute socket_path");
	// Its directory is opened to the sandboxed processes; "/" would be all.
	if (b.connect == Connect::kSocketPath && b.socket_path.rfind('/') == 0)
		where.fail("backend.socket_path", "\"" + b.socket_path + "\" must be in a directory of its own, not in \"/\"");
	if (!b.spawned) {
		if (b.connect != Connect::kSocketPath)
			where.fail("backend.spawned", "a back-end the supervisor does not start must be reached by "
						      "connect = \"socket\"");
		if (!b.binary.empty() || !b.args.empty() || !b.files.empty() || p.backend_sandboxed)
			where.fail("backend.spawned", "false: binary, args, files and sandbox would be ignored; remove "
						      "them");
	} else {
		check_binary(b.binary, "backend.binary", where);
		check_sandbox(b.sandbox, "backend.sandbox", "device-" + std::string(to_string(p.type)), where);
	}
	for (std::size_t i = 0; i < b.files.size(); ++i) {
		const auto &f = b.files[i];
		const std::string k = "backend.files[" + std::to_string(i) + "]";
		if (!is_clean_absolute(f.path))
			where.fail(k + ".path", "\"" + f.path + "\" must be a clean absolute path");
		if (!f.option.starts_with("--") || f.option.find('=') != std::string::npos)
			where.fail(k + ".option", "\"" + f.option + "\" must be a long option like \"--backing-fd\"");
		if (f.writable && p.read_only)
			where.fail(k + ".access", "\"read-write\" on a read-only device (device.read_only = true)");
	}
	if (p.read_only && !b.sandbox.landlock.write.empty())
		where.fail("backend.sandbox.landlock.write", "a read-only device's back-end gets no writable paths");

	check_binary(p.adapter.binary, "adapter.binary", where);
	check_sandbox(p.adapter.sandbox, "adapter.sandbox", "adapter", where);

	const auto iova = p.memory.iova_size;
	if (iova < (1ULL << 20) || iova > (1ULL << 32) || (iova & (iova - 1)) != 0)
		where.fail("memory.iova_size", std::to_string(iova) + " must be a power of two from 1M to 4G");
	if (p.restart.backoff_initial > p.restart.backoff_max)
		where.fail("restart.backoff_initial_ms", "is larger than backoff_max_ms");
}

} // namespace vlb::policy::detail
