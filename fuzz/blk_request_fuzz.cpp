// SPDX-License-Identifier: Apache-2.0
// Fuzzes vlb-dev-blk's request parsing with hostile rings: the input is the
// driver's memory (descriptor table, avail ring, headers, data, discard
// segments). A fixed, valid vhost-user set-up is sent to a real Backend
// serving a BlkDevice on a memfd-backed disk (sync engine), then the queue
// is kicked. Out-of-range sectors, short headers, missing status bytes and
// bad discard segments must all end in a status byte, never in a crash or
// an access outside the 1 MiB disk.
#include <linux/virtio_blk.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "blk_device.h"
#include "vlb/vu/backend.h"
#include "vlb/vu/channel.h"

namespace {

using namespace vlb;
using namespace vlb::vu;

constexpr std::uint64_t kMem = 1 << 16;
constexpr std::uint64_t kUser = 0x7f0000000000;
constexpr std::uint32_t kQueue = 16;

template <typename T> void send(Channel &c, Request r, const T &v, std::span<const int> fds = {})
{
	c.send_value(static_cast<std::uint32_t>(r), 0, v, fds);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size == 0 || size > kMem)
		return 0;
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return 0;
	Channel fe{UniqueFd(sv[0])};
	UniqueFd mem(::memfd_create("fuzz-guest", MFD_CLOEXEC));
	UniqueFd disk(::memfd_create("fuzz-disk", MFD_CLOEXEC));
	UniqueFd kick(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!mem || !disk || !kick || ::ftruncate(mem.get(), kMem) != 0 ||
	    ::ftruncate(disk.get(), 1 << 20) != 0 ||
	    ::pwrite(mem.get(), data, size, 0) != static_cast<ssize_t>(size))
		return 0;

	Logger log("fuzz", LogLevel::kError);
	log.set_level(static_cast<LogLevel>(0));
	EventLoop loop;
	devices::BlkOptions bo;
	bo.backing = std::move(disk);
	bo.use_uring = false;
	devices::BlkDevice dev(std::move(bo), loop, log);
	Backend backend(dev, UniqueFd(sv[1]), loop, log);

	// Rings at fixed places of the fuzzed memory: desc 0x0, avail 0x100,
	// used 0x200; everything else is buffers.
	send(fe, Request::SetFeatures,
	     std::uint64_t{bit(kFVersion1) | bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES) |
			   bit(kFRingIndirectDesc)});
	struct {
		MemTableHeader h;
		MemRegion r;
	} table{{1, 0}, {0, kMem, kUser, 0}};
	const int mem_fd[] = {mem.get()};
	send(fe, Request::SetMemTable, table, mem_fd);
	send(fe, Request::SetVringNum, VringState{0, kQueue});
	send(fe, Request::SetVringBase, VringState{0, 0});
	send(fe, Request::SetVringAddr, VringAddr{0, 0, kUser, kUser + 0x200, kUser + 0x100, 0});
	const int kick_fd[] = {kick.get()};
	send(fe, Request::SetVringKick, std::uint64_t{0}, kick_fd);
	for (int i = 0; i < 20 && !backend.closed(); i++)
		loop.run_once(std::chrono::milliseconds(0));
	return 0;
}
