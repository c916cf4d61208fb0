// SPDX-License-Identifier: Apache-2.0
// Mapping: sole owner of one mmap()ed range, unmapped exactly once.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>

namespace vlb {

class Mapping {
public:
	Mapping() noexcept = default;
	~Mapping() { reset(); }

	// mmap(nullptr, length, prot, flags, fd, offset); throws
	// std::system_error naming |what| on failure.
	static Mapping map(std::size_t length, int prot, int flags, int fd, off_t offset,
			   const char *what);
	// An anonymous private mapping.
	static Mapping anonymous(std::size_t length, int prot);

	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	Mapping(Mapping &&other) noexcept;
	Mapping &operator=(Mapping &&other) noexcept;

	[[nodiscard]] void *data() const noexcept { return addr_; }
	[[nodiscard]] std::size_t size() const noexcept { return length_; }
	[[nodiscard]] bool valid() const noexcept { return addr_ != nullptr; }
	[[nodiscard]] std::span<std::byte> bytes() const noexcept
	{
		return {static_cast<std::byte *>(addr_), length_};
	}

	void reset() noexcept;

private:
	Mapping(void *addr, std::size_t length) noexcept : addr_(addr), length_(length) {}

	void *addr_ = nullptr;
	std::size_t length_ = 0;
};

} // namespace vlb
