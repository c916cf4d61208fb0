// SPDX-License-Identifier: Apache-2.0
// vlb-supervisord: runs each policy's adapter and back-end in their
// sandboxes, restarts them per policy, and serves vlbctl.
#include <getopt.h>
#include <grp.h>

#include <cstdio>
#include <string>

#include "supervisor.h"
#include "vlb/program.h"

namespace {

const char *const kUsage =
	"Usage: vlb-supervisord [OPTIONS]\n"
	"Starts one sandboxed adapter/back-end pair per policy file and keeps them running.\n\n"
	"  --policy-dir DIR       policies (*.toml), default /etc/virtio-loopback/policies\n"
	"  --libexec-dir DIR      where bare program names in policies live,\n"
	"                         default /usr/libexec/virtio-loopback\n"
	"  --runtime-dir DIR      sockets and sandbox mountpoints, default /run/virtio-loopback\n"
	"  --control-socket PATH  vlbctl's socket, default RUNTIME_DIR/control.sock\n"
	"  --control-group NAME   this group may use the control socket too (default: root only)\n"
	"  --device PATH          kernel control node, default /dev/virtio-loopback\n"
	"  --id-range FIRST:COUNT host uids/gids for the devices' own identities (one\n"
	"                         per device), default 1879048192:65536; refused if\n"
	"                         /etc/passwd, group, subuid or subgid use one of them\n"
	"  -v, --verbose          debug logging\n"
	"  -h, --help             this text\n"
	"Signals: SIGHUP reloads the policies (changed ones restart their device,\n"
	"unchanged ones are not touched); SIGTERM stops every device and exits 0.\n"
	"Exit status: 0 after SIGTERM/SIGINT, 1 on a fatal error, 2 for usage errors.\n";

enum : int { kPolicyDir = 0x100, kLibexec, kRuntime, kControl, kGroup, kDevice, kIdRange };

} // namespace

int main(int argc, char **argv)
{
	using namespace vlb;
	Logger log("vlb-supervisord");
	return run_program(log, [&] {
		supervisor::Options opt;
		std::string control;
		const option opts[] = {
			{"policy-dir", required_argument, nullptr, kPolicyDir},
			{"libexec-dir", required_argument, nullptr, kLibexec},
			{"runtime-dir", required_argument, nullptr, kRuntime},
			{"control-socket", required_argument, nullptr, kControl},
			{"control-group", required_argument, nullptr, kGroup},
			{"device", required_argument, nullptr, kDevice},
			{"id-range", required_argument, nullptr, kIdRange},
			{"verbose", no_argument, nullptr, 'v'},
			{"help", no_argument, nullptr, 'h'},
			{nullptr, 0, nullptr, 0},
		};
		int c = 0;
		while ((c = getopt_long(argc, argv, "vh", opts, nullptr)) != -1) { // NOLINT(concurrency-mt-unsafe)
			switch (c) {
			case kPolicyDir: opt.policy_dir = optarg; break;
			case kLibexec: opt.paths.libexec_dir = optarg; break;
			case kRuntime: opt.paths.runtime_dir = optarg; break;
			case kControl: control = optarg; break;
			case kGroup: {
				const group *g = ::getgrnam(optarg); // NOLINT(concurrency-mt-unsafe): before any thread
				if (g == nullptr)
					throw std::invalid_argument(std::string("--control-group: no group ") + optarg);
				opt.control_group = g->gr_gid;
				break;
			}
			case kDevice: opt.paths.control_node = optarg; break;
			case kIdRange: opt.ids = supervisor::parse_id_range(optarg); break;
			case 'v': log.set_level(LogLevel::kDebug); break;
			case 'h': std::fputs(kUsage, stdout); return 0;
			default: std::fputs(kUsage, stderr); return kExitUsage;
			}
		}
		if (optind != argc)
			throw std::invalid_argument(std::string("unexpected argument: ") + argv[optind]);
		opt.control_socket = control.empty() ? opt.paths.runtime_dir + "/control.sock" : control;
		supervisor::check_id_range_is_unused(opt.ids);
		supervisor::Supervisor sup(std::move(opt), log);
		return sup.run();
	});
}
