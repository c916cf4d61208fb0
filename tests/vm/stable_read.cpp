// SPDX-License-Identifier: Apache-2.0
// vlb-stable-read DEVICE COUNT: reads the first MiB of DEVICE with O_DIRECT
// COUNT times and checks, after each read returned, that its buffer does not
// change for a few milliseconds more. The driver's buffer is granted to the
// device zero-copy; once the read completed, nothing the device does may
// reach it. Exit 0 if no buffer changed, 1 if one did, 2 on errors.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kBytes = std::size_t{1} << 20;

struct FreeDeleter {
	void operator()(void *p) const noexcept { std::free(p); } // NOLINT(cppcoreguidelines-no-malloc)
};

} // namespace

int main(int argc, char **argv)
{
	const std::span<char *> args(argv, static_cast<std::size_t>(argc));
	if (args.size() != 3) {
		std::fprintf(stderr, "usage: vlb-stable-read DEVICE COUNT\n");
		return 2;
	}
	const int fd = ::open(args[1], O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		std::perror(args[1]);
		return 2;
	}
	const long count = std::strtol(args[2], nullptr, 10);
	const std::unique_ptr<void, FreeDeleter> buf(std::aligned_alloc(4096, kBytes)); // NOLINT(cppcoreguidelines-no-malloc)
	if (!buf || count <= 0) {
		std::fprintf(stderr, "vlb-stable-read: bad COUNT or no memory\n");
		return 2;
	}
	std::vector<unsigned char> seen(kBytes);
	long changed = 0;
	for (long i = 0; i < count; ++i) {
		if (::pread(fd, buf.get(), kBytes, 0) != static_cast<ssize_t>(kBytes)) {
			std::perror("pread");
			return 2;
		}
		std::memcpy(seen.data(), buf.get(), kBytes);
		std::this_thread::sleep_for(std::chrono::milliseconds(3));
		if (std::memcmp(seen.data(), buf.get(), kBytes) != 0)
			++changed;
	}
	::close(fd);
	std::printf("%ld of %ld reads: the buffer changed after the read returned\n", changed, count);
	return changed == 0 ? 0 : 1;
}
