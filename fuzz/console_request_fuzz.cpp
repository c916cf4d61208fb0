// SPDX-License-Identifier: Apache-2.0
// Fuzzes vlb-dev-console over hostile rings, with its port a socketpair:
// bytes waiting on the port are scattered into the receive queue's
// buffers, and the transmit queue's buffers are gathered and written to
// the port, whatever the chains look like.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "console_device.h"
#include "fuzzed_rings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace vlb;
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return 0;
	const UniqueFd port(sv[0]);
	const UniqueFd peer(sv[1]);
	static const char kInput[] = "input for the guest\n";
	if (::write(peer.get(), kInput, sizeof kInput) != sizeof kInput)
		return 0;
	Logger log("fuzz", LogLevel::kError);
	log.set_level(static_cast<LogLevel>(0));
	vu::EventLoop loop;
	devices::ConsoleDevice dev(loop, log);
	dev.attach({port.get(), port.get()}, [] {});
	// More input once the receive buffers were seen; a full socket
	// buffer only means less input, so the result does not matter.
	fuzz::run_device_over(dev, loop, log, {data, size}, 0, 2, [&peer] {
		if (::write(peer.get(), kInput, sizeof kInput) < 0)
			return;
	});
	dev.detach();
	return 0;
}
