// SPDX-License-Identifier: Apache-2.0
// vlb-hostile: a randomized, reproducible campaign of hostile device
// processes against virtio_loopback.ko, with the stock drivers loaded and
// an application using whatever devices come up. It passes only if, after
// it stopped everything, every process of it could die (nothing stuck in
// the kernel) and every device is gone within the bound; the case around
// it then unloads the module and the harness checks the kernel log.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "actor.h"
#include "counters.h"

namespace {

using namespace vlb::hostile;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Options {
	std::uint64_t seed = 0;
	bool seeded = false;
	unsigned duration_s = 60;
	unsigned procs = 6;
	unsigned settle_s = 45;  // grace + the longest deadline + removal
	bool user = true;
	bool hvc = false;
};

void usage(std::FILE *to)
{
	std::fprintf(to,
		     "Usage: vlb-hostile [--seed N] [--duration SEC] [--procs N] [--settle SEC] [--no-user]\n"
		     "                   [--hvc]\n"
		     "Runs N hostile device processes at a time against /dev/virtio-loopback for SEC\n"
		     "seconds (default 60, 6 processes), each created, misbehaving and killed at\n"
		     "random, with an application reading the disks and /dev/hwrng that come up.\n"
		     "Then stops everything and checks that every process died and every device\n"
		     "is gone within --settle seconds (default 45). Prints its seed first:\n"
		     "--seed replays a run (the kernel's timing still varies). Counts at the end.\n"
		     "--hvc also writes to /dev/hvc*: a console device that never completes its\n"
		     "output then holds the writing CPUs with interrupts off (SECURITY.md, known\n"
		     "limits), which can freeze a guest; off by default.\n"
		     "Exit status: 0 passed, 1 a process or a device outlived the bound, 2 usage.\n");
}

std::uint64_t splitmix(std::uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

std::vector<std::string> entries(const char *dir, std::string_view prefix)
{
	std::vector<std::string> out;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
		std::string name = e.path().filename().string();
		if (name.starts_with(prefix))
			out.push_back(std::move(name));
	}
	return out;
}

// One read in a child that SIGALRM ends if the driver's wait is killable
// and the device's deadline has not ended it first.
bool read_in_child(const std::string &path, off_t at, bool direct)
{
	const pid_t pid = ::fork();
	if (pid == 0) {
		::alarm(20);
		const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
		if (fd < 0)
			::_exit(1);
		void *buf = nullptr;
		if (::posix_memalign(&buf, 4096, 4096) != 0)
			::_exit(1);
		::_exit(::pread(fd, buf, direct ? 4096 : 32, at) > 0 ? 0 : 1);
	}
	int st = 0;
	return pid > 0 && ::waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// The application: reads whatever disks and rngs exist, writes to consoles.
[[noreturn]] void run_user(std::uint64_t seed, bool hvc, Counters &c)
{
	std::mt19937_64 rng(seed);
	for (;;) {
		std::this_thread::sleep_for(milliseconds(100 + rng() % 200));
		const auto disks = entries("/sys/block", "vd");
		if (!disks.empty()) {
			const std::string dev = "/dev/" + disks.at(rng() % disks.size());
			c.add(Count::user_reads);
			if (read_in_child(dev, static_cast<off_t>((rng() % 256) * 4096), rng() % 2 == 0))
				c.add(Count::user_reads_ok);
		}
		if (rng() % 3 == 0) {
			c.add(Count::user_reads);
			if (read_in_child("/dev/hwrng", 0, false))
				c.add(Count::user_reads_ok);
		}
		// Console ports, which the devices add and remove under the writer.
		const auto ports = entries("/dev", "vport");
		if (!ports.empty() && rng() % 3 == 0) {
			const int fd = ::open(("/dev/" + ports.at(rng() % ports.size())).c_str(),
					      O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0) {
				std::array<char, 64> in{};
				(void)!::write(fd, "hostile\n", 8);
				(void)!::read(fd, in.data(), in.size());
				::close(fd);
				c.add(Count::user_writes);
			}
		}
		// One writer at a time: hvc output busy-waits with interrupts off.
		const auto hvcs = hvc ? entries("/dev", "hvc") : std::vector<std::string>{};
		if (!hvcs.empty() && rng() % 4 == 0) {
			const int fd = ::open(("/dev/" + hvcs.at(rng() % hvcs.size())).c_str(),
					      O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			if (fd >= 0) {
				(void)!::write(fd, "hostile\n", 8);
				::close(fd);
				c.add(Count::user_writes);
			}
		}
	}
}

// The devices this module still has: its parent devices are /sys/devices/vlb-NAME.
std::vector<std::string> devices_left()
{
	return entries("/sys/devices", "vlb-");
}

int run(const Options &o)
{
	void *shared = ::mmap(nullptr, sizeof(Counters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		std::perror("mmap");
		return 2;
	}
	auto *counters = new (shared) Counters();  // NOLINT(cppcoreguidelines-owning-memory): placement in shared memory
	// Orphans of hostile processes (their fd-holding children) come here.
	(void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
	std::printf("seed %llu\nreplay: vlb-hostile --seed %llu --duration %u --procs %u\n",
		    static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(o.seed), o.duration_s,
		    o.procs);
	(void)std::fflush(stdout);

	std::mt19937_64 rng(splitmix(o.seed));
	pid_t user = -1;
	if (o.user) {
		user = ::fork();
		if (user == 0)
			run_user(splitmix(o.seed ^ 0x75736572), o.hvc, *counters);
	}
	std::vector<pid_t> slot_pid(o.procs, -1);
	std::vector<unsigned> generation(o.procs, 0);
	std::map<pid_t, unsigned> slot_of;
	const auto end = Clock::now() + seconds(o.duration_s);
	while (Clock::now() < end) {
		for (unsigned s = 0; s < o.procs; ++s) {
			if (slot_pid.at(s) > 0)
				continue;
			ActorConfig cfg{.seed = splitmix(o.seed ^ (std::uint64_t{s} << 40) ^ generation.at(s)),
					.slot = s, .generation = generation.at(s), .slots = o.procs,
					.counters = counters};
			const pid_t pid = ::fork();
			if (pid == 0) {
				(void)::setpgid(0, 0);  // killed with the children that hold its fds
				std::fflush(stdout);
				::_exit(run_actor(cfg));
			}
			if (pid > 0) {
				(void)::setpgid(pid, pid);
				slot_pid.at(s) = pid;
				slot_of[pid] = s;
				counters->slot_generation.at(s) = generation.at(s);
				generation.at(s)++;
			}
		}
		std::this_thread::sleep_for(milliseconds(50));
		// Now and then one dies mid-sentence.
		if (rng() % 40 == 0) {
			const pid_t victim = slot_pid.at(rng() % o.procs);
			if (victim > 0 && ::kill(-victim, SIGKILL) == 0)
				counters->add(Count::kills);
		}
		int st = 0;
		pid_t pid = 0;
		while ((pid = ::waitpid(-1, &st, WNOHANG)) > 0) {
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS)
				counters->add(Count::sigbus);
			if (const auto it = slot_of.find(pid); it != slot_of.end()) {
				slot_pid.at(it->second) = -1;
				slot_of.erase(it);
			}
		}
	}

	// Stop everything; every process must be able to die.
	std::printf("stopping\n");
	(void)std::fflush(stdout);
	for (const pid_t p : slot_pid)
		if (p > 0)
			(void)::kill(-p, SIGKILL);
	if (user > 0)
		(void)::kill(user, SIGKILL);
	int status = 0;
	const auto stop_by = Clock::now() + seconds(o.settle_s);
	for (;;) {
		int st = 0;
		const pid_t pid = ::waitpid(-1, &st, WNOHANG);
		if (pid < 0)
			break;  // ECHILD: all gone
		if (pid == 0) {
			if (Clock::now() > stop_by) {
				std::printf("FAIL: processes still alive %u s after SIGKILL (stuck in the kernel)\n",
					    o.settle_s);
				status = 1;
				break;
			}
			std::this_thread::sleep_for(milliseconds(50));
		}
	}
	// Every device goes within the bound once its fds are closed.
	std::vector<std::string> left;
	while (!(left = devices_left()).empty() && Clock::now() < stop_by)
		std::this_thread::sleep_for(milliseconds(100));
	for (const auto &d : left)
		std::printf("FAIL: device %s still there %u s after the processes went\n", d.c_str(), o.settle_s);
	if (!left.empty())
		status = 1;
	counters->print(stdout);
	std::printf("%s\n", status == 0 ? "passed" : "failed");
	return status;
}

} // namespace

int main(int argc, char **argv)
{
	Options o;
	const std::span<char *> args(argv, static_cast<std::size_t>(argc));
	for (std::size_t i = 1; i < args.size(); ++i) {
		const std::string_view a(args[i]);
		const char *v = i + 1 < args.size() ? args[i + 1] : nullptr;
		if (a == "-h" || a == "--help") {
			usage(stdout);
			return 0;
		}
		if (a == "--no-user") {
			o.user = false;
			continue;
		}
		if (a == "--hvc") {
			o.hvc = true;
			continue;
		}
		if (v == nullptr || (a != "--seed" && a != "--duration" && a != "--procs" && a != "--settle")) {
			usage(stderr);
			return 2;
		}
		char *endp = nullptr;
		const unsigned long long n = std::strtoull(v, &endp, 0);
		if (endp == v || *endp != '\0') {
			std::fprintf(stderr, "vlb-hostile: %s: not a number: %s\n", args[i], v);
			return 2;
		}
		++i;
		if (a == "--seed") {
			o.seed = n;
			o.seeded = true;
		} else if (a == "--duration") {
			o.duration_s = static_cast<unsigned>(n);
		} else if (a == "--procs") {
			o.procs = std::clamp(static_cast<unsigned>(n), 1U, static_cast<unsigned>(kMaxSlots));
		} else {
			o.settle_s = static_cast<unsigned>(n);
		}
	}
	if (!o.seeded && ::getrandom(&o.seed, sizeof(o.seed), 0) != sizeof(o.seed))
		o.seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
	return run(o);
}
