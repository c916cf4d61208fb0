// SPDX-License-Identifier: Apache-2.0
#include "vlb/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include <gtest/gtest.h>

namespace {

bool fd_is_open(int fd)
{
	return ::fcntl(fd, F_GETFD) != -1;
}

int open_devnull()
{
	const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	EXPECT_GE(fd, 0);
	return fd;
}

TEST(UniqueFd, ClosesOnDestruction)
{
	int raw = -1;
	{
		const vlb::UniqueFd fd(open_devnull());
		raw = fd.get();
		EXPECT_TRUE(fd_is_open(raw));
	}
	EXPECT_FALSE(fd_is_open(raw));
}

TEST(UniqueFd, MoveTransfersOwnershipOnce)
{
	vlb::UniqueFd a(open_devnull());
	const int raw = a.get();
	vlb::UniqueFd b(std::move(a));
	EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the moved-from state is what is tested
	EXPECT_EQ(b.get(), raw);
	vlb::UniqueFd c;
	c = std::move(b);
	EXPECT_EQ(c.get(), raw);
	EXPECT_TRUE(fd_is_open(raw));
	c.reset();
	EXPECT_FALSE(fd_is_open(raw));
}

TEST(UniqueFd, ResetClosesThePreviousFd)
{
	vlb::UniqueFd fd(open_devnull());
	const int first = fd.get();
	fd.reset(open_devnull());
	EXPECT_FALSE(fd_is_open(first) && first != fd.get());
	EXPECT_TRUE(fd_is_open(fd.get()));
}

TEST(UniqueFd, ReleaseKeepsTheFdOpen)
{
	vlb::UniqueFd fd(open_devnull());
	const int raw = fd.release();
	EXPECT_FALSE(fd.valid());
	EXPECT_TRUE(fd_is_open(raw));
	::close(raw);
}

} // namespace
