// SPDX-License-Identifier: Apache-2.0
// vlb-adapter: connects one kernel loopback device to one vhost-user
// back-end (by socket path or inherited fd) and stays off the data path.
#include <getopt.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <algorithm>

#include "bridge.h"
#include "vlb/program.h"
#include "vlb/signals.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace {

const char *const kUsage =
	"Usage: vlb-adapter --type blk|rng|input|console --name NAME\n"
	"                   (--backend-socket PATH | --backend-fd N) [OPTIONS]\n"
	"Creates a virtio-loopback device backed by a vhost-user back-end.\n\n"
	"  --type TYPE              virtio device type the back-end implements\n"
	"  --name NAME              kernel device name ([a-z0-9_-], unique)\n"
	"  --backend-socket PATH    connect to the back-end's unix socket\n"
	"  --backend-fd N           an inherited, connected socket to the back-end\n"
	"  --peer-uid N             refuse a back-end whose socket peer is not uid N\n"
	"  --reconnect-timeout MS   with --backend-socket: how long to wait for a back-end\n"
	"                           that went away to come back (default 30000; 0: give up)\n"
	"  --max-granted-pages N    driver pages the back-end may see at once\n"
	"  --bounce-threshold N     buffers below N bytes are copied (4294967295: all)\n"
	"  --iova-size BYTES        the device's IOVA space\n"
	"  --queue-size N           largest ring the driver may use (default 256)\n"
	"  --device PATH            control node (default /dev/virtio-loopback)\n"
	"  --control-fd N           the control node, already open (from the supervisor)\n"
	"  --supervisor-fd N        with --backend-fd: a socket on which the supervisor\n"
	"                           passes the connection to a restarted back-end\n"
	"  -v, --verbose            log every control message\n"
	"  -h, --help               this text\n"
	"SIGUSR1 logs the kernel device's counters (grants, revocations, refused\n"
	"faults, rejected used entries...); they are logged at exit too.\n"
	"Exit status: 0 after SIGTERM/SIGINT, 1 when the back-end or kernel\n"
	"device fails, 2 for usage errors.\n";

// The signals pending on |sigfd|: SIGUSR1 logs the kernel device's
// counters; SIGTERM and SIGINT stop |loop| (returns true: detach).
bool on_signals(int sigfd, vlb::vu::EventLoop &loop, const vlb::Logger &log, const vlb::adapter::Bridge *bridge)
{
	bool detach = false;
	signalfd_siginfo si{};
	while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
		if (si.ssi_signo == SIGUSR1) {
			if (bridge)
				log.info("kernel counters: %s", bridge->counters().c_str());
			continue;
		}
		log.info("signal: detaching (the kernel keeps the device for its grace period)");
		detach = true;
		loop.stop();
	}
	return detach;
}

enum : int { kType = 0x100, kName, kSocket, kFd, kPeerUid, kReconnect, kMaxGranted, kBounce, kIova, kQueueSize, kDevice, kControlFd, kSupervisorFd };

} // namespace

int main(int argc, char **argv)
{
	using namespace vlb;
	Logger log("vlb-adapter");
	return run_program(log, [&] {
		adapter::BridgeOptions opt;
		std::string socket_path;
		long backend_fd = -1;
		long supervisor_fd = -1;
		const option opts[] = {
			{"type", required_argument, nullptr, kType},
			{"name", required_argument, nullptr, kName},
			{"backend-socket", required_argument, nullptr, kSocket},
			{"backend-fd", required_argument, nullptr, kFd},
			{"peer-uid", required_argument, nullptr, kPeerUid},
			{"reconnect-timeout", required_argument, nullptr, kReconnect},
			{"max-granted-pages", required_argument, nullptr, kMaxGranted},
			{"bounce-threshold", required_argument, nullptr, kBounce},
			{"iova-size", required_argument, nullptr, kIova},
			{"queue-size", required_argument, nullptr, kQueueSize},
			{"device", required_argument, nullptr, kDevice},
			{"control-fd", required_argument, nullptr, kControlFd},
			{"supervisor-fd", required_argument, nullptr, kSupervisorFd},
			{"verbose", no_argument, nullptr, 'v'},
			{"help", no_argument, nullptr, 'h'},
			{nullptr, 0, nullptr, 0},
		};
		int c = 0;
		// getopt_long's global state is fine: main, before any thread.
		while ((c = getopt_long(argc, argv, "vh", opts, nullptr)) != -1) { // NOLINT(concurrency-mt-unsafe)
			switch (c) {
			case kType: opt.type = optarg; break;
			case kName: opt.name = optarg; break;
			case kSocket: socket_path = optarg; break;
			case kFd: backend_fd = static_cast<long>(parse_u64(optarg, "--backend-fd", INT_MAX)); break;
			case kPeerUid: {
				const auto uid = static_cast<uid_t>(parse_u64(optarg, "--peer-uid", UINT32_MAX - 1));
				opt.verify_peer = [uid](const ucred &peer) {
					if (peer.uid != uid)
						throw std::runtime_error("back-end peer uid " + std::to_string(peer.uid) +
									 " refused: --peer-uid " + std::to_string(uid));
				};
				break;
			}
			case kReconnect:
				opt.reconnect_timeout = std::chrono::milliseconds(parse_u64(optarg, "--reconnect-timeout", 86400000));
				break;
			case kMaxGranted:
				opt.max_granted_pages = static_cast<std::uint32_t>(parse_u64(optarg, "--max-granted-pages", UINT32_MAX));
				break;
			case kBounce:
				opt.bounce_threshold = static_cast<std::uint32_t>(parse_u64(optarg, "--bounce-threshold", UINT32_MAX));
				break;
			case kIova: opt.iova_size = parse_u64(optarg, "--iova-size"); break;
			case kQueueSize: opt.queue_size = static_cast<std::uint16_t>(parse_u64(optarg, "--queue-size", UINT16_MAX)); break;
			case kDevice: opt.control_node = optarg; break;
			case kControlFd: opt.control_fd = static_cast<int>(parse_u64(optarg, "--control-fd", INT_MAX)); break;
			case kSupervisorFd: supervisor_fd = static_cast<long>(parse_u64(optarg, "--supervisor-fd", INT_MAX)); break;
			case 'v': log.set_level(LogLevel::kDebug); break;
			case 'h': std::fputs(kUsage, stdout); return 0;
			default: std::fputs(kUsage, stderr); return kExitUsage;
			}
		}
		if (optind != argc)
			throw std::invalid_argument(std::string("unexpected argument: ") + argv[optind]);
		if (opt.type.empty() || opt.name.empty())
			throw std::invalid_argument("--type and --name are required");
		(void)adapter::device_type(opt.type);
		// Several adapters share the supervisor's log: say which one speaks.
		log.set_tag("vlb-adapter[" + opt.name + "]");
		if (socket_path.empty() == (backend_fd < 0))
			throw std::invalid_argument("exactly one of --backend-socket and --backend-fd is required");

		if (supervisor_fd >= 0 && backend_fd < 0)
			throw std::invalid_argument("--supervisor-fd goes with --backend-fd");
		const UniqueFd supervisor(static_cast<int>(supervisor_fd));
		if (supervisor) {
			opt.next_backend = [&supervisor](std::chrono::steady_clock::time_point deadline) {
				const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
					deadline - std::chrono::steady_clock::now());
				return receive_fd(supervisor.get(), static_cast<int>(std::max<long>(left.count(), 0)));
			};
		}
		struct sigaction ign{};
		ign.sa_handler = SIG_IGN;
		::sigaction(SIGPIPE, &ign, nullptr);
		opt.backend_path = socket_path;
		// A back-end started with its adapter (the supervisor's, by socket
		// path) listens a moment after: wait for it as for a restarted one.
		UniqueFd backend = socket_path.empty()
					   ? UniqueFd(static_cast<int>(backend_fd))
					   : connect_unix_until(socket_path,
								std::chrono::steady_clock::now() + opt.reconnect_timeout);
		vu::EventLoop loop;
		// Before any thread exists.
		const UniqueFd sigfd = blocked_signalfd({SIGTERM, SIGINT, SIGUSR1});
		bool signalled = false;
		std::unique_ptr<adapter::Bridge> bridge;
		loop.watch(sigfd.get(), [&] {
			if (on_signals(sigfd.get(), loop, log, bridge.get()))
				signalled = true;
		});
		try {
			bridge = std::make_unique<adapter::Bridge>(opt, std::move(backend), loop, log);
		} catch (const vu::ProtocolError &e) {
			// Refused before a kernel device exists: say whose fault it is.
			throw std::runtime_error(std::string("refusing the back-end: ") + e.what());
		}
		loop.run();
		loop.unwatch(sigfd.get());
		if (const std::string counters = bridge->counters(); !counters.empty())
			log.info("kernel counters at exit: %s", counters.c_str());
		return signalled && bridge->failure().empty() ? 0 : kExitFailure;
	}, vlb::ExecAfterStart::kForbidden);
}
