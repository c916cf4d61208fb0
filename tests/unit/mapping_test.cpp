// SPDX-License-Identifier: Apache-2.0
#include "vlb/mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <span>
#include <system_error>
#include <utility>

#include <gtest/gtest.h>

namespace {

// mincore() fails with ENOMEM on an address that is not mapped.
bool is_mapped(void *addr)
{
	unsigned char vec = 0;
	return ::mincore(addr, 1, &vec) == 0;
}

TEST(Mapping, UnmapsOnDestruction)
{
	void *addr = nullptr;
	{
		const vlb::Mapping m = vlb::Mapping::anonymous(4096, PROT_READ | PROT_WRITE);
		addr = m.data();
		const std::span<std::byte> bytes = m.bytes();
		bytes[0] = std::byte{1};
		EXPECT_EQ(bytes[0], std::byte{1});
		EXPECT_TRUE(is_mapped(addr));
	}
	EXPECT_FALSE(is_mapped(addr));
}

TEST(Mapping, MoveTransfersTheRange)
{
	vlb::Mapping a = vlb::Mapping::anonymous(8192, PROT_READ);
	void *addr = a.data();
	vlb::Mapping b = std::move(a);
	EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the moved-from state is what is tested
	EXPECT_EQ(b.data(), addr);
	EXPECT_EQ(b.size(), 8192U);
	b.reset();
	EXPECT_FALSE(is_mapped(addr));
}

TEST(Mapping, FailureNamesWhatWasMapped)
{
	try {
		(void)vlb::Mapping::map(4096, PROT_READ, MAP_SHARED, -1, 0, "the test's bad fd");
		FAIL() << "mapped fd -1";
	} catch (const std::system_error &e) {
		EXPECT_EQ(e.code().value(), EBADF);
		EXPECT_NE(std::string(e.what()).find("the test's bad fd"), std::string::npos);
	}
}

} // namespace
