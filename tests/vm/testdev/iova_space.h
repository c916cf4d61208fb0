// SPDX-License-Identifier: Apache-2.0
// The device's view of a kernel IOVA domain: one MAP_SHARED mapping of the
// IOVA fd. Every access is bounds-checked against the mapping; whether a
// page may be touched at all is the kernel's call (SIGBUS otherwise).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>

#include "vlb/mapping.h"
#include "vlb/unique_fd.h"

namespace vlb::testdev {

class IovaSpace {
public:
	IovaSpace(UniqueFd fd, std::uint64_t size);

	// The bytes [iova, iova + len); throws std::out_of_range outside.
	[[nodiscard]] std::span<std::byte> bytes(std::uint64_t iova, std::uint64_t len) const;

	template <typename T> [[nodiscard]] T load(std::uint64_t iova) const
	{
		T v{};
		std::memcpy(&v, bytes(iova, sizeof(T)).data(), sizeof(T));
		return v;
	}
	template <typename T> void store(std::uint64_t iova, const T &v) const
	{
		std::memcpy(bytes(iova, sizeof(T)).data(), &v, sizeof(T));
	}

	[[nodiscard]] std::uint64_t size() const noexcept { return map_.size(); }
	// VLB_IOVA_CALL: the completions of the queue whose call eventfd is
	// |call_fd|, processed by the kernel before this returns.
	void call(int call_fd) const;

	// read_then_write maps the page read-only first: the write then goes
	// through pfn_mkwrite, not the fault handler.
	enum class Access { read, write, read_then_write };
	enum class Outcome { ok, sigbus, other };
	// Touches one byte at |iova| in a child process that maps the IOVA fd
	// afresh (the parent's mapping is not inherited: VM_DONTCOPY), so a
	// refused access kills only the child. With |read_first|, the child
	// reads that byte before: pages the kernel maps around that fault are
	// then present when |iova| is touched.
	[[nodiscard]] Outcome probe(std::uint64_t iova, Access access,
				    std::optional<std::uint64_t> read_first = std::nullopt) const;
	// Runs |fn| on a fresh mapping of the domain in a child process (as
	// probe() does) and returns its result, or kSigbus if the kernel
	// refused an access, kOtherDeath for any other death.
	static constexpr int kSigbus = 256, kOtherDeath = 257;
	[[nodiscard]] int in_child(const std::function<int(volatile std::uint8_t *base)> &fn) const;

	// VLB_IOVA_COPY of [iova, iova + len) into |file| (|to_file|) or out
	// of it, at |offset|: bytes transferred, or -errno.
	[[nodiscard]] long copy(std::uint64_t iova, std::uint64_t len, int file, std::uint64_t offset,
				bool to_file) const;

private:
	UniqueFd fd_;
	Mapping map_;
};

} // namespace vlb::testdev
