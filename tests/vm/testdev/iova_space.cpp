// SPDX-License-Identifier: Apache-2.0
#include "iova_space.h"

#include <sys/mman.h>

#include <utility>

namespace vlb::testdev {

IovaSpace::IovaSpace(UniqueFd fd, std::uint64_t size)
	: fd_(std::move(fd)),
	  // Lazy: no MAP_POPULATE, pages fault in only where the device looks.
	  map_(Mapping::map(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0, "IOVA space"))
{
}

std::span<std::byte> IovaSpace::bytes(std::uint64_t iova, std::uint64_t len) const
{
	if (iova > map_.size() || len > map_.size() - iova)
		throw std::out_of_range("IOVA range outside the domain");
	return map_.bytes().subspan(iova, len);
}

} // namespace vlb::testdev
