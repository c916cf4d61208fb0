// SPDX-License-Identifier: Apache-2.0
// vlb-vu-bench: drives any vhost-user-blk back-end from user space
// (UserDriver) and prints one line per run:
//   IOPS MiB/s p50_us p99_us backend_cpu_us_per_io
// The back-end's CPU time comes from /proc/PID/stat, so the same run
// compares this project's device with qemu-storage-daemon fairly.
#include <linux/virtio_blk.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "vlb/vu/driver.h"

namespace {

using Clock = std::chrono::steady_clock;
using vlb::vu::DriverBuffer;
using vlb::vu::UserDriver;

struct Args {
	std::string socket;
	long pid = 0;
	std::string rw = "randread";
	std::uint32_t bs = 4096;
	std::uint16_t qd = 1;
	double seconds = 5;
	std::uint64_t span = 64ULL << 20;
};

// utime + stime of a process, in microseconds.
double cpu_us(long pid)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
	std::string s;
	std::getline(f, s);
	const auto close = s.rfind(')');
	if (close == std::string::npos)
		return 0;
	std::istringstream in(s.substr(close + 2));
	std::string field;
	double ut = 0;
	double st = 0;
	for (int i = 3; i <= 15 && in >> field; i++) {
		if (i == 14)
			ut = std::stod(field);
		if (i == 15)
			st = std::stod(field);
	}
	return (ut + st) * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int usage()
{
	std::fputs("Usage: vlb-vu-bench --socket PATH --pid BACKEND_PID [--rw randread|randwrite|read|write]\n"
		   "                    [--bs BYTES] [--qd N] [--seconds S] [--span BYTES]\n",
		   stderr);
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	Args a;
	const std::vector<std::string> args(argv + 1, argv + argc); // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
	for (std::size_t i = 0; i < args.size(); i++) {
		const std::string &k = args[i];
		if (i + 1 >= args.size())
			return usage();
		const std::string &v = args[++i];
		if (k == "--socket")
			a.socket = v;
		else if (k == "--pid")
			a.pid = std::stol(v);
		else if (k == "--rw")
			a.rw = v;
		else if (k == "--bs")
			a.bs = static_cast<std::uint32_t>(std::stoul(v));
		else if (k == "--qd")
			a.qd = static_cast<std::uint16_t>(std::stoul(v));
		else if (k == "--seconds")
			a.seconds = std::stod(v);
		else if (k == "--span")
			a.span = std::stoull(v);
		else
			return usage();
	}
	if (a.socket.empty() || a.pid <= 0 || a.bs % 512 != 0 || a.qd == 0 || a.qd > 128)
		return usage();
	try {
		UserDriver::Options o;
		o.queue_size = 256;
		o.memory_bytes = std::uint64_t{a.qd} * (a.bs + 8192) + (8ULL << 20);
		UserDriver d(UserDriver::connect(a.socket), o);
		const bool write = a.rw.find("write") != std::string::npos;
		const bool random = a.rw.rfind("rand", 0) == 0;
		const std::uint64_t blocks = a.span / a.bs;

		// One fixed set of buffers per slot, reused.
		struct Slot {
			DriverBuffer hdr{};
			DriverBuffer data{};
			DriverBuffer status{};
			Clock::time_point start;
		};
		std::vector<Slot> slots(a.qd);
		for (auto &s : slots) {
			s.hdr = d.alloc(16, 16);
			s.data = d.alloc(a.bs);
			s.status = d.alloc(1, 1);
			std::memset(d.memory(s.data.offset, a.bs).data(), 0x5a, a.bs);
		}
		std::vector<int> slot_of_head(o.queue_size, -1);
		std::mt19937_64 rng(1); // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible offsets
		std::uint64_t seq = 0;
		auto submit = [&](int i) {
			auto &s = slots[static_cast<std::size_t>(i)];
			const std::uint64_t block = random ? rng() % blocks : seq++ % blocks;
			const std::uint32_t type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
			virtio_blk_outhdr h{type, 0, block * (a.bs / 512)};
			std::memcpy(d.memory(s.hdr.offset, 16).data(), &h, 16);
			const DriverBuffer r_only[] = {s.hdr, s.data};
			const DriverBuffer w_only[] = {s.data, s.status};
			const DriverBuffer hdr_only[] = {s.hdr};
			const DriverBuffer st_only[] = {s.status};
			s.start = Clock::now();
			const auto head = write ? d.submit(0, r_only, st_only) : d.submit(0, hdr_only, w_only);
			if (!head)
				throw std::runtime_error("ring full");
			slot_of_head.at(*head) = i;
		};
		std::vector<double> lat;
		lat.reserve(1 << 20);
		const double cpu0 = cpu_us(a.pid);
		const auto t0 = Clock::now();
		const auto end = t0 + std::chrono::duration<double>(a.seconds);
		for (int i = 0; i < a.qd; i++)
			submit(i);
		std::uint64_t ios = 0;
		bool stopping = false;
		int outstanding = a.qd;
		while (outstanding > 0) {
			for (const auto &c : d.wait(0, std::chrono::seconds(10))) {
				const int i = slot_of_head.at(c.head);
				const auto now = Clock::now();
				lat.push_back(std::chrono::duration<double, std::micro>(
						      now - slots[static_cast<std::size_t>(i)].start)
						      .count());
				if (d.memory(slots[static_cast<std::size_t>(i)].status.offset, 1)[0] != VIRTIO_BLK_S_OK)
					throw std::runtime_error("I/O error from the back-end");
				ios++;
				outstanding--;
				stopping = stopping || now >= end;
				if (!stopping) {
					submit(i);
					outstanding++;
				}
			}
		}
		const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
		const double cpu = cpu_us(a.pid) - cpu0;
		std::sort(lat.begin(), lat.end());
		const auto pct = [&](double p) {
			return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())))];
		};
		std::printf("%.0f %.1f %.0f %.0f %.2f\n", static_cast<double>(ios) / secs,
			    static_cast<double>(ios) * a.bs / secs / (1 << 20), pct(0.5), pct(0.99),
			    ios ? cpu / static_cast<double>(ios) : 0.0);
		return 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "vlb-vu-bench: %s\n", e.what());
		return 1;
	}
}
