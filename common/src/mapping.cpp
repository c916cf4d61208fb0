// SPDX-License-Identifier: Apache-2.0
#include "vlb/mapping.h"

#include <sys/mman.h>

#include <string>
#include <utility>

#include "vlb/sys_error.h"

namespace vlb {

Mapping Mapping::map(std::size_t length, int prot, int flags, int fd, off_t offset,
		     const char *what)
{
	void *addr = ::mmap(nullptr, length, prot, flags, fd, offset);
	if (addr == MAP_FAILED)
		throw_errno(std::string("mmap ") + what);
	return {addr, length};
}

Mapping Mapping::anonymous(std::size_t length, int prot)
{
	return map(length, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "anonymous");
}

Mapping::Mapping(Mapping &&other) noexcept
	: addr_(std::exchange(other.addr_, nullptr)), length_(std::exchange(other.length_, 0))
{
}

Mapping &Mapping::operator=(Mapping &&other) noexcept
{
	if (this != &other) {
		reset();
		addr_ = std::exchange(other.addr_, nullptr);
		length_ = std::exchange(other.length_, 0);
	}
	return *this;
}

void Mapping::reset() noexcept
{
	if (addr_ != nullptr)
		::munmap(addr_, length_);
	addr_ = nullptr;
	length_ = 0;
}

} // namespace vlb
