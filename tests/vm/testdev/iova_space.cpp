// SPDX-License-Identifier: Apache-2.0
#include "iova_space.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <functional>
#include <utility>

#include <linux/virtio_loopback.h>

#include "vlb/sys_error.h"

namespace vlb::testdev {

IovaSpace::IovaSpace(UniqueFd fd, std::uint64_t size)
	: fd_(std::move(fd)),
	  // Lazy: no MAP_POPULATE, pages fault in only where the device looks.
	  map_(Mapping::map(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0, "IOVA space"))
{
}

int IovaSpace::in_child(const std::function<int(volatile std::uint8_t *base)> &fn) const
{
	const pid_t pid = ::fork();
	if (pid < 0)
		throw_errno("fork");
	if (pid == 0) {
		void *p = ::mmap(nullptr, map_.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
		if (p == MAP_FAILED)
			::_exit(3);
		::_exit(fn(static_cast<volatile std::uint8_t *>(p)));
	}
	int status = 0;
	if (retry_eintr([&] { return ::waitpid(pid, &status, 0); }) < 0)
		throw_errno("waitpid");
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		return kSigbus;
	return WIFEXITED(status) ? WEXITSTATUS(status) : kOtherDeath;
}

IovaSpace::Outcome IovaSpace::probe(std::uint64_t iova, Access access,
				    std::optional<std::uint64_t> read_first) const
{
	(void)bytes(iova, 1);
	if (read_first)
		(void)bytes(*read_first, 1);
	const int r = in_child([&](volatile std::uint8_t *base) {
		// NOLINTBEGIN(cppcoreguidelines-pro-bounds-pointer-arithmetic): inside the mapping, checked by bytes() above
		if (read_first)
			(void)base[*read_first];
		volatile auto *byte = base + iova;
		// NOLINTEND(cppcoreguidelines-pro-bounds-pointer-arithmetic)
		if (access == Access::read) {
			(void)*byte;
		} else if (access == Access::read_then_write) {
			const std::uint8_t old = *byte;
			*byte = old;
		} else {
#if defined(__x86_64__)
			// A first touch that is a write (a write fault, not a read
			// fault then pfn_mkwrite), leaving the byte unchanged.
			asm volatile("lock orb $0, %0" : "+m"(*byte));
#else
			const std::uint8_t old = *byte;
			*byte = old;
#endif
		}
		return 0;
	});
	if (r == kSigbus)
		return Outcome::sigbus;
	return r == 0 ? Outcome::ok : Outcome::other;
}

std::span<std::byte> IovaSpace::bytes(std::uint64_t iova, std::uint64_t len) const
{
	if (iova > map_.size() || len > map_.size() - iova)
		throw std::out_of_range("IOVA range outside the domain");
	return map_.bytes().subspan(iova, len);
}

long IovaSpace::copy(std::uint64_t iova, std::uint64_t len, int file, std::uint64_t offset, bool to_file) const
{
	vlb_iova_seg seg{.iova = iova, .len = len};
	vlb_iova_copy c{};
	c.segs = reinterpret_cast<std::uintptr_t>(&seg); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): the uapi carries pointers as u64
	c.nr_segs = 1;
	c.fd = file;
	c.offset = offset;
	c.flags = to_file ? VLB_IOVA_COPY_TO_FILE : VLB_IOVA_COPY_FROM_FILE;
	const long r = ::ioctl(fd_.get(), VLB_IOVA_COPY, &c);
	return r < 0 ? -errno : r;
}

void IovaSpace::call(int call_fd) const
{
	const vlb_iova_call c{.fd = call_fd, .reserved = 0};
	if (::ioctl(fd_.get(), VLB_IOVA_CALL, &c) != 0)
		throw_errno("VLB_IOVA_CALL");
}

} // namespace vlb::testdev
