// SPDX-License-Identifier: Apache-2.0
// Fuzzes vlb-dev-console over hostile rings, with its port a socketpair:
// bytes waiting on the port are scattered into the receive queue's
// buffers, and the transmit queue's buffers are gathered and written to
// the port, whatever the chains look like. Each input runs twice: as the
// hvc console, and as a named port with MULTIPORT, where queues 2 and 3
// carry control messages both ways.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "console_device.h"
#include "fuzzed_rings.h"

namespace {

void run_once(const std::uint8_t *data, std::size_t size, bool multiport)
{
	using namespace vlb;
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return;
	const UniqueFd port(sv[0]);
	const UniqueFd peer(sv[1]);
	static const char kInput[] = "input for the guest\n";
	if (::write(peer.get(), kInput, sizeof kInput) != sizeof kInput)
		return;
	Logger log("fuzz", LogLevel::kError);
	log.set_level(static_cast<LogLevel>(0));
	vu::EventLoop loop;
	devices::ConsoleDevice dev(loop, log, multiport ? "org.vlb.fuzz" : "");
	dev.attach({port.get(), port.get()}, [] {});
	// More input once the receive buffers were seen; a full socket
	// buffer only means less input, so the result does not matter.
	fuzz::run_device_over(dev, loop, log, {data, size}, dev.features(), dev.num_queues(), [&peer] {
		if (::write(peer.get(), kInput, sizeof kInput) < 0)
			return;
	});
	dev.detach();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	run_once(data, size, false);
	run_once(data, size, true);
	return 0;
}
