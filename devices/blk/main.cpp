// SPDX-License-Identifier: Apache-2.0
// vlb-dev-blk: virtio-blk over vhost-user on a file or block device.
#include <fcntl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include "blk_device.h"
#include "uring_lock.h"
#include "vlb/devices/server.h"
#include "vlb/program.h"
#include "vlb/sys_error.h"

namespace {

const char *const kUsage =
	"Usage: vlb-dev-blk (--socket-path PATH | --fd N) (--backing FILE | --backing-fd N) [OPTIONS]\n"
	"virtio-blk vhost-user back-end on a file or block device.\n\n"
	"  --backing FILE         backing file or block device\n"
	"  --backing-fd N         inherited fd of the backing file (opened by the caller)\n"
	"  --read-only            refuse writes; advertise VIRTIO_BLK_F_RO\n"
	"  --direct               open --backing with O_DIRECT (where the driver's memory\n"
	"                         cannot be pinned, through aligned buffers)\n"
	"  --queues N             number of request queues (default 1)\n"
	"  --queue-size N         largest queue size accepted (default 1024)\n"
	"  --block-size N         logical block size (default: the backing device's, 512 for files)\n"
	"  --serial STR           GET_ID answer, up to 20 bytes (default vlb-blk)\n"
	"  --engine uring|sync    I/O engine (default uring, falls back to sync)\n"
	"  --read-threads N       worker threads for reads of 256 KiB and more, and for\n"
	"                         kernel copies of 64 KiB and more, so that large copies\n"
	"                         run on several CPUs (default 0: none)\n"
	"  --kernel-copy-min N    behind the virtio-loopback transport, reads and writes of\n"
	"                         N bytes and more are copied by the kernel (VLB_IOVA_COPY),\n"
	"                         nothing is mapped into this process; 0: never\n"
	"                         (default 65536)\n"
	"The backing size is re-read every second; a change is announced to the\n"
	"driver as a config change.\n";

const char *const kCapabilities = "{\n  \"type\": \"block\",\n  \"features\": [\n    \"read-only\",\n    \"blk-file\"\n  ]\n}\n";

enum : int {
	kOptBacking = 0x200,
	kOptBackingFd,
	kOptReadOnly,
	kOptDirect,
	kOptQueues,
	kOptQueueSize,
	kOptBlockSize,
	kOptSerial,
	kOptEngine,
	kOptReadThreads,
	kOptKernelCopyMin,
};

// Parses argv into |so| and |bo|; returns 0, or 2 after printing usage.
int parse_options(int argc, char **argv, vlb::devices::ServerOptions &so, vlb::devices::BlkOptions &bo,
		  std::string &backing, long &backing_fd, bool &direct)
{
	using namespace vlb;
	using namespace vlb::devices;
	return parse_device_options(argc, argv, {
		{"backing", required_argument, nullptr, kOptBacking},
		{"backing-fd", required_argument, nullptr, kOptBackingFd},
		{"read-only", no_argument, nullptr, kOptReadOnly},
		{"direct", no_argument, nullptr, kOptDirect},
		{"queues", required_argument, nullptr, kOptQueues},
		{"queue-size", required_argument, nullptr, kOptQueueSize},
		{"block-size", required_argument, nullptr, kOptBlockSize},
		{"serial", required_argument, nullptr, kOptSerial},
		{"engine", required_argument, nullptr, kOptEngine},
		{"read-threads", required_argument, nullptr, kOptReadThreads},
		{"kernel-copy-min", required_argument, nullptr, kOptKernelCopyMin},
	}, kUsage, so, [&](int c, const char *arg) {
		switch (c) {
		case kOptBacking:
			backing = arg;
			return true;
		case kOptBackingFd:
			backing_fd = static_cast<long>(parse_u64(arg, "--backing-fd"));
			return true;
		case kOptReadOnly:
			bo.read_only = true;
			return true;
		case kOptDirect:
			direct = true;
			return true;
		case kOptQueues: {
			const auto v = parse_u64(arg, "--queues");
			if (v == 0 || v > 64)
				throw std::invalid_argument("--queues must be 1..64");
			bo.queues = static_cast<std::uint16_t>(v);
			return true;
		}
		case kOptQueueSize: {
			const auto v = parse_u64(arg, "--queue-size");
			if (!vu::valid_queue_size(static_cast<std::uint32_t>(v)) || v > 32768)
				throw std::invalid_argument("--queue-size must be a power of two up to 32768");
			bo.max_queue_size = static_cast<std::uint16_t>(v);
			return true;
		}
		case kOptBlockSize:
			bo.block_size = static_cast<std::uint32_t>(
				std::min<std::uint64_t>(parse_u64(arg, "--block-size"), UINT32_MAX));
			return true;
		case kOptSerial:
			bo.serial = arg;
			if (bo.serial.size() > VIRTIO_BLK_ID_BYTES)
				throw std::invalid_argument("--serial longer than 20 bytes");
			return true;
		case kOptEngine:
			if (std::string(arg) == "sync")
				bo.use_uring = false;
			else if (std::string(arg) != "uring")
				throw std::invalid_argument("--engine must be uring or sync");
			return true;
		case kOptReadThreads: {
			const auto v = parse_u64(arg, "--read-threads");
			if (v > 64)
				throw std::invalid_argument("--read-threads must be 0..64");
			bo.read_threads = static_cast<unsigned>(v);
			return true;
		}
		case kOptKernelCopyMin:
			bo.kernel_copy_min = parse_u64(arg, "--kernel-copy-min");
			return true;
		default:
			return false;
		}
	});
}

} // namespace

int main(int argc, char **argv)
{
	using namespace vlb;
	using namespace vlb::devices;
	Logger log("vlb-dev-blk");
	return run_program(log, [&] {
		ServerOptions so;
		BlkOptions bo;
		std::string backing;
		long backing_fd = -1;
		bool direct = false;
		if (const int rc = parse_options(argc, argv, so, bo, backing, backing_fd, direct); rc != 0)
			return rc;
		if (optind != argc)
			throw std::invalid_argument(std::string("unexpected argument: ") + argv[optind]);
		if (const auto rc = finish_options(so, kUsage, kCapabilities, log))
			return *rc;
		if (backing.empty() == (backing_fd < 0))
			throw std::invalid_argument("exactly one of --backing and --backing-fd is required");
		if (!backing.empty()) {
			const int flags = (bo.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
			bo.backing = UniqueFd(::open(backing.c_str(), flags));
			if (!bo.backing)
				throw_errno("open " + backing);
		} else {
			bo.backing = UniqueFd(static_cast<int>(backing_fd));
			if (::fcntl(bo.backing.get(), F_GETFD) < 0)
				throw std::invalid_argument("--backing-fd " + std::to_string(backing_fd) +
							    " is not open");
		}

		vu::EventLoop loop;
		const auto sig = watch_termination(loop, log);
		const unsigned read_threads = bo.read_threads;
		const std::uint64_t copy_min = bo.kernel_copy_min;
		BlkDevice dev(std::move(bo), loop, log);
		// Every ring exists now, and no input has been read.
		if (const int r = forbid_new_rings(); r == -EACCES)
			log.debug("not sandboxed: new io_uring rings stay allowed");
		else if (r < 0)
			throw std::system_error(-r, std::generic_category(), "forbidding new io_uring rings");
		log.info("%llu bytes, engine %s, %u read thread(s), kernel copies %s%llu bytes",
			 static_cast<unsigned long long>(dev.capacity_bytes()), dev.engine_name(), read_threads,
			 copy_min == 0 ? "off, " : "from ", static_cast<unsigned long long>(copy_min));

		// Resize detection: one fstat a second is cheaper than any watch
		// and works for inherited fds without a path.
		UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
		if (!timer)
			throw_errno("timerfd_create");
		const itimerspec every_second{{1, 0}, {1, 0}};
		::timerfd_settime(timer.get(), 0, &every_second, nullptr);
		vu::Backend *current = nullptr;
		loop.watch(timer.get(), [&] {
			std::uint64_t ticks = 0;
			if (::read(timer.get(), &ticks, sizeof(ticks)) < 0)
				return;
			if (dev.refresh_capacity()) {
				log.info("backing resized to %llu bytes",
					 static_cast<unsigned long long>(dev.capacity_bytes()));
				if (current != nullptr)
					current->notify_config_change();
			}
		});
		const int status = serve(dev, loop, so, log, [&](vu::Backend *b) { current = b; });
		loop.unwatch(timer.get());
		return status;
	}, vlb::ExecAfterStart::kForbidden);
}
