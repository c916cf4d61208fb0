// SPDX-License-Identifier: Apache-2.0
#include "iova_copy.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>

#include <linux/virtio_loopback.h>

namespace vlb::devices {

bool IovaCopyFds::supported(const vu::MemoryTable &mem, int fd)
{
	if (mem.generation() != generation_) {
		generation_ = mem.generation();
		known_.clear();
	}
	const auto it = std::find_if(known_.begin(), known_.end(), [fd](const auto &k) { return k.first == fd; });
	if (it != known_.end())
		return it->second;
	const bool yes = vu::iova_fd_knows(fd, VLB_IOVA_COPY);
	known_.emplace_back(fd, yes);
	return yes;
}

bool iov_to_mem(const vu::MemoryTable &mem, const std::vector<iovec> &iov, int &fd, std::vector<MemSeg> &out)
{
	out.clear();
	fd = -1;
	for (const iovec &v : iov) {
		const auto r = mem.host_to_fd(static_cast<const std::uint8_t *>(v.iov_base), v.iov_len);
		if (!r || (fd >= 0 && r->fd != fd))
			return false;
		fd = r->fd;
		out.push_back({r->offset, v.iov_len});
	}
	return fd >= 0;
}

long transfer_iova_copy(int backing, IoOp &op)
{
	long total = 0;
	std::uint64_t pos = op.offset;
	std::size_t first = 0;
	std::vector<vlb_iova_seg> segs;
	while (first < op.mem.size()) {
		// As many segments as one call takes.
		segs.clear();
		std::uint64_t bytes = 0;
		for (std::size_t i = first; i < op.mem.size() && segs.size() < VLB_IOVA_COPY_SEGS_MAX; ++i) {
			const std::uint64_t n = std::min<std::uint64_t>(op.mem[i].len, VLB_IOVA_COPY_BYTES_MAX - bytes);
			segs.push_back({op.mem[i].offset, n});
			bytes += n;
			if (bytes == VLB_IOVA_COPY_BYTES_MAX)
				break;
		}
		vlb_iova_copy c{};
		c.segs = reinterpret_cast<std::uintptr_t>(segs.data()); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): the uapi carries pointers as u64
		c.nr_segs = static_cast<std::uint32_t>(segs.size());
		c.fd = backing;
		c.offset = pos;
		c.flags = op.kind == IoOp::Kind::kRead ? VLB_IOVA_COPY_FROM_FILE : VLB_IOVA_COPY_TO_FILE;
		const long n = ::ioctl(op.mem_fd, VLB_IOVA_COPY, &c);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; // past the end: the device checked bounds, so the file shrank
		total += n;
		pos += static_cast<std::uint64_t>(n);
		drop_transferred(op.mem, first, static_cast<std::uint64_t>(n));
	}
	return total;
}

} // namespace vlb::devices
