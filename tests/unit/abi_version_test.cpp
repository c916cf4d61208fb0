// SPDX-License-Identifier: Apache-2.0
#include "kernel_node.h"

#include <system_error>

#include <gtest/gtest.h>

namespace {

TEST(AbiVersion, SameMajorAndNewerKernelMinorIsCompatible)
{
	EXPECT_TRUE(vlb::abi_compatible({0, 1}, {0, 1}));
	EXPECT_TRUE(vlb::abi_compatible({0, 1}, {0, 3}));
}

TEST(AbiVersion, OlderKernelMinorOrOtherMajorIsNot)
{
	EXPECT_FALSE(vlb::abi_compatible({0, 2}, {0, 1}));
	EXPECT_FALSE(vlb::abi_compatible({1, 0}, {0, 9}));
	EXPECT_FALSE(vlb::abi_compatible({0, 1}, {1, 1}));
}

TEST(KernelNode, MissingNodeNamesThePathInTheError)
{
	try {
		const vlb::KernelNode node("/nonexistent/virtio-loopback");
		FAIL() << "opened a node that does not exist";
	} catch (const std::system_error &e) {
		EXPECT_EQ(e.code().value(), ENOENT);
		EXPECT_NE(std::string(e.what()).find("/nonexistent/virtio-loopback"), std::string::npos);
	}
}

TEST(KernelNode, ANodeThatIsNotOursAnswersENOTTY)
{
	const vlb::KernelNode node("/dev/null");
	try {
		(void)node.version();
		FAIL() << "/dev/null answered VLB_IOC_GET_VERSION";
	} catch (const std::system_error &e) {
		EXPECT_EQ(e.code().value(), ENOTTY);
	}
}

} // namespace
