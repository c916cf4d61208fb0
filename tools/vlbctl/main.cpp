// SPDX-License-Identifier: Apache-2.0
// vlbctl: operator's command-line tool for virtio-loopback.
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/virtio_loopback.h>

#include "kernel_node.h"
#include "vlb/policy/policy.h"

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
		     "\n"
		     "Options:\n"
		     "  --device PATH  control node (default: %s)\n"
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

} // namespace

int main(int argc, char **argv)
{
	const std::span<char *> args(argv, static_cast<std::size_t>(argc));
	const char *device = vlb::kDefaultControlNode;
	std::string_view command;
	std::vector<std::string_view> rest;

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
