// SPDX-License-Identifier: Apache-2.0
// Fuzzes vlb-dev-blk's request parsing with hostile rings: the input is the
// driver's memory (descriptor table, avail ring, headers, data, discard
// segments), served by a BlkDevice on a memfd-backed disk (sync engine).
// Out-of-range sectors, short headers, missing status bytes and bad
// discard segments must all end in a status byte, never in a crash or an
// access outside the 1 MiB disk.
#include <linux/virtio_blk.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "blk_device.h"
#include "fuzzed_rings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace vlb;
	UniqueFd disk(::memfd_create("fuzz-disk", MFD_CLOEXEC));
	if (!disk || ::ftruncate(disk.get(), 1 << 20) != 0)
		return 0;
	Logger log("fuzz", LogLevel::kError);
	log.set_level(static_cast<LogLevel>(0));
	vu::EventLoop loop;
	devices::BlkOptions bo;
	bo.backing = std::move(disk);
	bo.use_uring = false;
	devices::BlkDevice dev(std::move(bo), loop, log);
	fuzz::run_device_over(dev, loop, log, {data, size},
			      vu::bit(VIRTIO_BLK_F_DISCARD) | vu::bit(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	return 0;
}
