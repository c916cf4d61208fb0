// SPDX-License-Identifier: Apache-2.0
// vlbctl: operator's command-line tool for virtio-loopback.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/virtio_loopback.h>

#include <sys/socket.h>
#include <unistd.h>

#include "kernel_node.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"
#include "vlb/policy/policy.h"
#include "vlb/sandbox/profiles.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void print_usage(std::FILE *to)
{
	std::fprintf(to,
		     "Usage: vlbctl [--device PATH] COMMAND\n"
		     "\n"
		     "Commands:\n"
		     "  version      print the versions of vlbctl and of the loaded kernel\n"
		     "               module's ABI; fails when they are incompatible\n"
		     "  policy check FILE...\n"
		     "               parse and validate policy files without starting\n"
		     "               anything; prints each error as FILE:LINE:COLUMN: KEY: REASON\n"
		     "  status [--json]\n"
		     "               the supervisor's devices: state, pids, restarts\n"
		     "  restart DEVICE\n"
		     "               restart a device's adapter and back-end now\n"
		     "  reload       re-read the policy directory (as SIGHUP does)\n"
		     "  profile list\n"
		     "               the baseline seccomp profiles and their process roles\n"
		     "  profile show NAME\n"
		     "               every system call and ioctl request profile NAME allows,\n"
		     "               one per line (what a policy's allow/deny start from)\n"
		     "\n"
		     "Options:\n"
		     "  --device PATH  control node (default: %s)\n"
		     "  --socket PATH  the supervisor's control socket\n"
		     "                 (default: /run/virtio-loopback/control.sock)\n"
		     "  -h, --help     this text\n"
		     "  -V             print vlbctl's own version and exit\n"
		     "\n"
		     "Exit status: 0 success, 1 failure, 2 usage error.\n",
		     vlb::kDefaultControlNode);
}

int cmd_version(const char *device)
{
	const vlb::AbiVersion built{VLB_ABI_MAJOR, VLB_ABI_MINOR};
	const vlb::KernelNode node(device);
	const vlb::AbiVersion running = node.version();
	std::printf("vlbctl %s, ABI %u.%u\n", VLB_VERSION, built.major, built.minor);
	std::printf("kernel module ABI %u.%u at %s\n", running.major, running.minor, device);
	if (!vlb::abi_compatible(built, running)) {
		std::fprintf(stderr, "vlbctl: kernel ABI %u.%u is incompatible with %u.%u\n",
			     running.major, running.minor, built.major, built.minor);
		return kExitFailure;
	}
	return kExitOk;
}

int cmd_policy(std::span<const std::string_view> args)
{
	if (args.empty() || args[0] != "check" || args.size() < 2) {
		std::fprintf(stderr, "vlbctl: usage: vlbctl policy check FILE...\n");
		return kExitUsage;
	}
	int rc = kExitOk;
	for (const auto file : args.subspan(1)) {
		try {
			const auto p = vlb::policy::load_policy_file(std::string(file));
			std::printf("%s: ok: device %s (%s), %s\n", p.file.c_str(), p.name.c_str(),
				    std::string(vlb::policy::to_string(p.type)).c_str(), p.digest.c_str());
		} catch (const vlb::policy::PolicyError &e) {
			std::fprintf(stderr, "%s\n", e.what());
			rc = kExitFailure;
		}
	}
	return rc;
}

// One request line to vlb-supervisord, its reply printed as it comes.
int cmd_supervisor(const std::string &socket, const std::string &request)
{
	const vlb::UniqueFd fd = vlb::connect_unix(socket);
	const std::string line = request + "\n";
	if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
		vlb::throw_errno("send to " + socket);
	std::string reply;
	char buf[4096];
	for (ssize_t n = 0; (n = vlb::retry_eintr([&] { return ::read(fd.get(), buf, sizeof buf); })) > 0;)
		reply.append(buf, static_cast<std::size_t>(n));
	if (reply.empty()) {
		std::fprintf(stderr, "vlbctl: %s closed the connection without an answer\n", socket.c_str());
		return kExitFailure;
	}
	const bool error = reply.rfind("error:", 0) == 0;
	std::fputs(reply.c_str(), error ? stderr : stdout);
	return error ? kExitFailure : kExitOk;
}

// Seccomp profiles as the sandbox applies them, for audits and for
// comparing against traces (scripts/guest/trace-profiles.sh).
int cmd_profile(const std::vector<std::string_view> &args)
{
	namespace sb = vlb::sandbox;
	if (args.size() == 1 && args[0] == "list") {
		for (const auto &p : sb::profiles())
			std::printf("%-16.*s %.*s\n", static_cast<int>(p.name.size()), p.name.data(),
				    static_cast<int>(p.role.size()), p.role.data());
		return kExitOk;
	}
	if (args.size() != 2 || args[0] != "show") {
		std::fprintf(stderr, "vlbctl: usage: profile list | profile show NAME\n");
		return kExitUsage;
	}
	const sb::Profile *p = sb::find_profile(args[1]);
	if (p == nullptr) {
		std::fprintf(stderr, "vlbctl: no seccomp profile '%.*s' (see 'vlbctl profile list')\n",
			     static_cast<int>(args[1].size()), args[1].data());
		return kExitFailure;
	}
	std::vector<std::string_view> calls(sb::base_syscalls().begin(), sb::base_syscalls().end());
	calls.insert(calls.end(), p->syscalls.begin(), p->syscalls.end());
	if (!p->ioctls.empty())
		calls.emplace_back("ioctl");
	calls.emplace_back("prctl"); // the filter adds it, with its arguments fixed (below)
	std::sort(calls.begin(), calls.end());
	for (const auto c : calls)
		std::printf("%.*s\n", static_cast<int>(c.size()), c.data());
	std::printf("prctl PR_SET_DUMPABLE 0 only: every vlb program gives up being dumpable after exec\n");
	for (const auto &rule : p->ioctls) {
		const int why_len = static_cast<int>(rule.why.size());
		if (rule.mask == 0xffffffffU)  // one request
			std::printf("ioctl 0x%08x only: %.*s\n", rule.value, why_len, rule.why.data());
		else  // one request of several sizes or numbers (evdev's tables)
			std::printf("ioctl 0x%08x under mask 0x%08x: %.*s\n", rule.value, rule.mask, why_len,
				    rule.why.data());
	}
	return kExitOk;
}

} // namespace

int main(int argc, char **argv)
{
	const std::span<char *> args(argv, static_cast<std::size_t>(argc));
	const char *device = vlb::kDefaultControlNode;
	std::string_view command;
	std::vector<std::string_view> rest;
	std::string socket = "/run/virtio-loopback/control.sock";

	for (std::size_t i = 1; i < args.size(); ++i) {
		const std::string_view arg = args[i];
		if (arg == "-h" || arg == "--help") {
			print_usage(stdout);
			return kExitOk;
		}
		if (arg == "-V") {
			std::printf("vlbctl %s\n", VLB_VERSION);
			return kExitOk;
		}
		if (arg == "--socket" && command.empty()) {
			if (i + 1 >= args.size()) {
				std::fprintf(stderr, "vlbctl: --socket needs a path\n");
				return kExitUsage;
			}
			socket = args[++i];
			continue;
		}
		if (arg == "--device") {
			if (i + 1 >= args.size()) {
				std::fprintf(stderr, "vlbctl: --device needs a path\n");
				return kExitUsage;
			}
			device = args[++i];
		} else if (!command.empty()) {
			rest.push_back(arg); // the command's own arguments
		} else if (!arg.empty() && arg[0] == '-') {
			std::fprintf(stderr, "vlbctl: unknown option '%s' (see --help)\n", args[i]);
			return kExitUsage;
		} else {
			command = arg;
		}
	}

	try {
		if (command == "version" && rest.empty())
			return cmd_version(device);
		if (command == "policy")
			return cmd_policy(rest);
		if (command == "status" && (rest.empty() || (rest.size() == 1 && rest[0] == "--json")))
			return cmd_supervisor(socket, rest.empty() ? "status" : "status --json");
		if (command == "restart" && rest.size() == 1)
			return cmd_supervisor(socket, "restart " + std::string(rest[0]));
		if (command == "reload" && rest.empty())
			return cmd_supervisor(socket, "reload");
		if (command == "profile")
			return cmd_profile(rest);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "vlbctl: %s\n", e.what());
		return kExitFailure;
	}
	if (command.empty())
		std::fprintf(stderr, "vlbctl: no command given (see --help)\n");
	else
		std::fprintf(stderr, "vlbctl: unknown command '%.*s' (see --help)\n",
			     static_cast<int>(command.size()), command.data());
	return kExitUsage;
}
