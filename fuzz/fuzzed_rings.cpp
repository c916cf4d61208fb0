// SPDX-License-Identifier: Apache-2.0
#include "fuzzed_rings.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "vlb/vu/channel.h"

namespace vlb::fuzz {
namespace {

using namespace vlb::vu;

constexpr std::uint64_t kUser = 0x7f0000000000;

template <typename T> void send(Channel &c, Request r, const T &v, std::span<const int> fds = {})
{
	c.send_value(static_cast<std::uint32_t>(r), 0, v, fds);
}

void spin(EventLoop &loop, const Backend &backend)
{
	for (int i = 0; i < 20 && !backend.closed(); i++)
		loop.run_once(std::chrono::milliseconds(0));
}

} // namespace

void run_device_over(vu::Device &dev, vu::EventLoop &loop, const Logger &log,
		     std::span<const std::uint8_t> memory, std::uint64_t features, unsigned queues,
		     const std::function<void()> &then)
{
	if (memory.empty() || memory.size() > kMemory)
		return;
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return;
	Channel fe{UniqueFd(sv[0])};
	UniqueFd backend_end(sv[1]);
	const UniqueFd mem(::memfd_create("fuzz-guest", MFD_CLOEXEC));
	if (!mem || ::ftruncate(mem.get(), kMemory) != 0 ||
	    ::pwrite(mem.get(), memory.data(), memory.size(), 0) != static_cast<ssize_t>(memory.size()))
		return;
	std::vector<UniqueFd> kicks;
	for (unsigned q = 0; q < queues; q++) {
		kicks.emplace_back(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK));
		if (!kicks.back())
			return;
	}
	Backend backend(dev, std::move(backend_end), loop, log);

	send(fe, Request::SetFeatures, features | bit(kFVersion1) | bit(kFRingIndirectDesc));
	struct {
		MemTableHeader h;
		MemRegion r;
	} table{{1, 0}, {0, kMemory, kUser, 0}};
	const int mem_fd[] = {mem.get()};
	send(fe, Request::SetMemTable, table, mem_fd);
	for (unsigned q = 0; q < queues; q++) {
		const std::uint64_t base = kUser + q * kQueueStride;
		send(fe, Request::SetVringNum, VringState{q, kQueueSize});
		send(fe, Request::SetVringBase, VringState{q, 0});
		send(fe, Request::SetVringAddr, VringAddr{q, 0, base, base + 0x200, base + 0x100, 0});
		const int kick_fd[] = {kicks[q].get()};
		send(fe, Request::SetVringKick, std::uint64_t{q}, kick_fd);
	}
	spin(loop, backend);
	if (then && !backend.closed()) {
		then();
		spin(loop, backend);
	}
}

} // namespace vlb::fuzz
