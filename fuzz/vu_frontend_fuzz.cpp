// SPDX-License-Identifier: Apache-2.0
// Fuzzes the front-end's side: the input is everything a back-end answers,
// pre-written into the socket, and UserDriver runs its whole set-up
// (features, protocol features, queue count, memory table, rings) against
// it. Garbage must end in ProtocolError, never a crash or a hang.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "vlb/vu/driver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace vlb;
	using namespace vlb::vu;
	if (size > std::size_t{64} * 1024)
		return 0;
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	UniqueFd frontend(sv[0]);
	UniqueFd backend(sv[1]);
	int buf = 256 * 1024;
	::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	::setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (::write(backend.get(), data, size) != static_cast<ssize_t>(size))
		return 0;
	::shutdown(backend.get(), SHUT_WR);  // EOF after the input
	try {
		UserDriver::Options o;
		o.queues = 2;
		o.queue_size = 8;
		o.memory_bytes = 1 << 20;
		o.wanted_features = ~std::uint64_t{0};
		o.inflight = true;
		o.timeout = std::chrono::milliseconds(200);
		UserDriver d(std::move(frontend), o);
		(void)d.frontend().get_config(0, 16);
		(void)d.frontend().get_vring_base(0);
	} catch (const ProtocolError &) {
	} catch (const std::system_error &) {
	}
	return 0;
}
