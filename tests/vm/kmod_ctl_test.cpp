// SPDX-License-Identifier: Apache-2.0
// Control-node ioctls against the real module (runs inside the test guest,
// as root, with virtio_loopback.ko loaded).
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <linux/virtio_loopback.h>

#include <gtest/gtest.h>

#include "kernel_node.h"
#include "vlb/mapping.h"

namespace {

TEST(ControlNode, ReportsTheAbiThisTreeWasBuiltWith)
{
	const vlb::KernelNode node;
	const vlb::AbiVersion v = node.version();
	EXPECT_EQ(v.major, static_cast<unsigned>(VLB_ABI_MAJOR));
	EXPECT_EQ(v.minor, static_cast<unsigned>(VLB_ABI_MINOR));
}

TEST(ControlNode, VersionZeroesReservedFields)
{
	const vlb::KernelNode node;
	vlb_version ver{};
	std::fill(std::begin(ver.reserved), std::end(ver.reserved), 0xA5A5A5A5U);
	ASSERT_EQ(::ioctl(node.fd(), VLB_IOC_GET_VERSION, &ver), 0);
	for (const auto r : ver.reserved)
		EXPECT_EQ(r, 0U);
}

TEST(ControlNode, UnknownIoctlIsENOTTY)
{
	const vlb::KernelNode node;
	errno = 0;
	EXPECT_EQ(::ioctl(node.fd(), _IO(VLB_IOCTL_MAGIC, 0x7f)), -1);
	EXPECT_EQ(errno, ENOTTY);
	// Same number, wrong size encoded in the command: also unknown.
	errno = 0;
	EXPECT_EQ(::ioctl(node.fd(), _IOR(VLB_IOCTL_MAGIC, 0x00, __u32), nullptr), -1);
	EXPECT_EQ(errno, ENOTTY);
}

TEST(ControlNode, BadPointerIsEFAULT)
{
	const vlb::KernelNode node;
	errno = 0;
	EXPECT_EQ(::ioctl(node.fd(), VLB_IOC_GET_VERSION, nullptr), -1);
	EXPECT_EQ(errno, EFAULT);

	// A read-only page: the kernel must not write through it.
	const vlb::Mapping ro = vlb::Mapping::anonymous(4096, PROT_READ);
	errno = 0;
	EXPECT_EQ(::ioctl(node.fd(), VLB_IOC_GET_VERSION, ro.data()), -1);
	EXPECT_EQ(errno, EFAULT);
}

TEST(ControlNode, IsNotSeekable)
{
	const vlb::KernelNode node;
	errno = 0;
	EXPECT_EQ(::lseek(node.fd(), 0, SEEK_SET), -1);
	EXPECT_EQ(errno, ESPIPE);
}

} // namespace
