// SPDX-License-Identifier: Apache-2.0
// vlb-test-device: serves one virtio device over the kernel uapi directly.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <string_view>

#include "test_device.h"

namespace {

void usage(std::FILE *to)
{
	std::fprintf(to,
		     "Usage: vlb-test-device [OPTIONS]\n"
		     "Creates a virtio-loopback device and serves it until SIGINT/SIGTERM,\n"
		     "then prints the kernel's counters for it. SIGUSR1 doubles a blk disk\n"
		     "and raises a config-change interrupt; SIGUSR2 makes the device stop\n"
		     "answering requests (it keeps taking them).\n\n"
		     "  --type rng|blk|console  device type (default rng); console is a multiport\n"
		     "                          console with one port and 4 queues, that adds port 0\n"
		     "                          and sends the guest nothing on it\n"
		     "  --name NAME             device name (default testdev0)\n"
		     "  --queues N              queues (default 1)\n"
		     "  --queue-size N          ring size (default 256)\n"
		     "  --capacity-mb N         blk: RAM disk size (default 64)\n"
		     "  --bounce-threshold N    bytes; 4294967295 bounces everything\n"
		     "  --max-granted-pages N   grant budget\n"
		     "  --iova-size BYTES       IOVA space\n"
		     "  --request-timeout-ms N  request deadline (0: the type's default)\n"
		     "  --hostile MODE          bad-used-id (console: once its port is up) | long-len |\n"
		     "                          short-control (console: a 7-byte PORT_NAME) |\n"
		     "                          early-rx (console: one byte on port 0 while the driver\n"
		     "                          still adds its receive buffers) |\n"
		     "                          never-complete | no-replies |\n"
		     "                          empty (every used length 0) |\n"
		     "                          late-copy (a thread copies into each read of 64 KiB\n"
		     "                          and more while it is completed) |\n"
		     "                          late-grant (after SIGUSR2, breaks the device while a\n"
		     "                          notify is held by test_notify_delay_ms; then prints\n"
		     "                          whether the request it publishes is reachable)\n"
		     "  --device PATH           control node (default /dev/virtio-loopback)\n"
		     "  --probes                check what the kernel lets the device reach\n"
		     "                          (forked children; prints 'probe NAME want=.. got=..')\n"
		     "  --loop-probe PATH       with --probes: VLB_IOVA_COPY must refuse PATH (a disk of\n"
		     "                          this transport, or a file on one) with ELOOP; tried once\n"
		     "                          it can be opened (repeatable)\n"
		     "  --served-probe PATH     the same for a file whose I/O a process serves (9p, FUSE,\n"
		     "                          NFS, nbd, loop): EOPNOTSUPP\n"
		     "  --peek                  count from-device pages that show the device anything\n"
		     "                          but zeros before it writes them ('peek' line at exit)\n"
		     "  --suppress-kicks        set VRING_USED_F_NO_NOTIFY while draining queues\n"
		     "  --interrupt-ioctl       complete through VLB_DEV_VQ_INTERRUPT, not the call eventfd\n"
		     "  --call-ioctl            complete through VLB_IOVA_CALL on the IOVA fd\n"
		     "  -v                      log control messages\n");
}

unsigned long long number(std::string_view opt, const char *v)
{
	char *end = nullptr;
	const unsigned long long n = std::strtoull(v, &end, 0);
	if (end == v || *end != '\0')
		throw std::invalid_argument(std::string(opt) + ": not a number: " + v);
	return n;
}

vlb::testdev::Hostile hostile(const std::string_view v)
{
	using vlb::testdev::Hostile;
	if (v == "bad-used-id")
		return Hostile::bad_used_id;
	if (v == "long-len")
		return Hostile::long_len;
	if (v == "never-complete")
		return Hostile::never_complete;
	if (v == "empty")
		return Hostile::empty;
	if (v == "no-replies")
		return Hostile::no_replies;
	if (v == "late-copy")
		return Hostile::late_copy;
	if (v == "late-grant")
		return Hostile::late_grant;
	if (v == "short-control")
		return Hostile::short_control;
	if (v == "early-rx")
		return Hostile::early_rx;
	throw std::invalid_argument("--hostile: unknown mode " + std::string(v));
}

} // namespace

int main(int argc, char **argv)
{
	const std::span<char *> args(argv, static_cast<std::size_t>(argc));
	vlb::testdev::Options o;
	try {
		for (std::size_t i = 1; i < args.size(); ++i) {
			const std::string_view a = args[i];
			if (a == "-h" || a == "--help") {
				usage(stdout);
				return 0;
			}
			if (a == "-v") {
				o.verbose = true;
				continue;
			}
			if (a == "--probes") {
				o.probes = true;
				continue;
			}
			if (a == "--suppress-kicks") {
				o.suppress_kicks = true;
				continue;
			}
			if (a == "--peek") {
				o.peek = true;
				continue;
			}
			if (a == "--interrupt-ioctl") {
				o.interrupt_ioctl = true;
				continue;
			}
			if (a == "--call-ioctl") {
				o.call_ioctl = true;
				continue;
			}
			if (i + 1 >= args.size())
				throw std::invalid_argument(std::string(a) + " needs a value (see --help)");
			const char *v = args[++i];
			if (a == "--type") {
				const std::string_view t = v;
				if (t == "rng")
					o.type = vlb::testdev::DeviceType::rng;
				else if (t == "blk")
					o.type = vlb::testdev::DeviceType::blk;
				else if (t == "console")
					o.type = vlb::testdev::DeviceType::console;
				else
					throw std::invalid_argument("--type: rng, blk or console");
			} else if (a == "--name") {
				o.name = v;
			} else if (a == "--queues") {
				o.queues = static_cast<unsigned>(number(a, v));
			} else if (a == "--queue-size") {
				o.queue_size = static_cast<unsigned>(number(a, v));
			} else if (a == "--capacity-mb") {
				o.capacity_mb = number(a, v);
			} else if (a == "--bounce-threshold") {
				o.bounce_threshold = static_cast<std::uint32_t>(number(a, v));
			} else if (a == "--max-granted-pages") {
				o.max_granted_pages = static_cast<std::uint32_t>(number(a, v));
			} else if (a == "--iova-size") {
				o.iova_size = number(a, v);
			} else if (a == "--request-timeout-ms") {
				o.request_timeout_ms = static_cast<std::uint32_t>(number(a, v));
			} else if (a == "--hostile") {
				o.hostile = hostile(v);
			} else if (a == "--device") {
				o.control_node = v;
			} else if (a == "--loop-probe") {
				o.copy_refusals.emplace_back(v, ELOOP);
			} else if (a == "--served-probe") {
				o.copy_refusals.emplace_back(v, EOPNOTSUPP);
			} else {
				throw std::invalid_argument("unknown option " + std::string(a) + " (see --help)");
			}
		}
	} catch (const std::exception &e) {
		std::fprintf(stderr, "vlb-test-device: %s\n", e.what());
		return 2;
	}
	try {
		vlb::testdev::TestDevice dev(o);
		return dev.run();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "vlb-test-device: %s\n", e.what());
		return 1;
	}
}
