// SPDX-License-Identifier: Apache-2.0
// The kernel's ABI validation (kmod/vlb_abi_check.c), built for user space.
#include "vlb_abi_check.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace {

vlb_create valid_rng()
{
	vlb_create c{};
	c.device_id = 4; // VIRTIO_ID_RNG
	c.device_features = VLB_F_VERSION_1;
	c.num_queues = 1;
	c.queue_size_max = 256;
	std::strcpy(c.name, "rng0");
	return c;
}

TEST(AbiCheckCreate, ValidRequestGetsDefaults)
{
	vlb_create c = valid_rng();
	const char *why = nullptr;
	ASSERT_EQ(vlb_check_create(&c, &why), 0) << why;
	EXPECT_EQ(c.iova_size, VLB_IOVA_SIZE_DEFAULT);
	EXPECT_EQ(c.max_granted_pages, static_cast<__u32>(VLB_GRANT_PAGES_DEFAULT));
	EXPECT_EQ(c.bounce_pool_pages, static_cast<__u32>(VLB_BOUNCE_POOL_DEFAULT));
	EXPECT_EQ(c.bounce_threshold, VLB_PAGE_SIZE);
}

TEST(AbiCheckCreate, TransportFeaturesAreMaskedDeviceFeaturesKept)
{
	vlb_create c = valid_rng();
	const __u64 indirect = 1ULL << 28;
	const __u64 event_idx = 1ULL << 29;
	const __u64 packed = 1ULL << 34;
	const __u64 device_bit = 1ULL << 5;
	const __u64 high_device_bit = 1ULL << 55;
	c.device_features |= indirect | event_idx | packed | VLB_F_ACCESS_PLATFORM |
			     device_bit | high_device_bit;
	const char *why = nullptr;
	ASSERT_EQ(vlb_check_create(&c, &why), 0) << why;
	EXPECT_EQ(c.device_features, VLB_F_VERSION_1 | device_bit | high_device_bit);
}

struct BadCreate {
	const char *what;
	std::function<void(vlb_create &)> spoil;
	int err;
	const char *why_mentions;
};

// Shown by GoogleTest (and CTest) instead of the struct's bytes.
void PrintTo(const BadCreate &bad, std::ostream *os)
{
	*os << bad.what;
}

class AbiCheckCreateRejects : public ::testing::TestWithParam<BadCreate> {};

TEST_P(AbiCheckCreateRejects, WithPreciseErrnoAndField)
{
	const BadCreate &bad = GetParam();
	vlb_create c = valid_rng();
	bad.spoil(c);
	const char *why = nullptr;
	EXPECT_EQ(vlb_check_create(&c, &why), bad.err) << bad.what;
	ASSERT_NE(why, nullptr);
	EXPECT_NE(std::string(why).find(bad.why_mentions), std::string::npos)
		<< bad.what << ": " << why;
}

const std::vector<BadCreate> kBadCreates = {
	{"net is not allowed", [](vlb_create &c) { c.device_id = 1; }, -EPROTONOSUPPORT, "device_id"},
	{"unknown type", [](vlb_create &c) { c.device_id = 0xffff; }, -EPROTONOSUPPORT, "device_id"},
	{"legacy device", [](vlb_create &c) { c.device_features = 0; }, -EINVAL, "VERSION_1"},
	{"no queues", [](vlb_create &c) { c.num_queues = 0; }, -EINVAL, "num_queues"},
	{"too many queues", [](vlb_create &c) { c.num_queues = VLB_MAX_QUEUES + 1; }, -EINVAL, "num_queues"},
	{"queue size 1", [](vlb_create &c) { c.queue_size_max = 1; }, -EINVAL, "queue_size_max"},
	{"queue size not pow2", [](vlb_create &c) { c.queue_size_max = 96; }, -EINVAL, "queue_size_max"},
	{"queue size too big", [](vlb_create &c) { c.queue_size_max = 2048; }, -EINVAL, "queue_size_max"},
	{"config too big", [](vlb_create &c) { c.config_size = VLB_CONFIG_MAX + 1; }, -EINVAL, "config_size"},
	{"garbage past config", [](vlb_create &c) { c.config_size = 4; c.config[4] = 1; }, -EINVAL, "config"},
	{"reserved0", [](vlb_create &c) { c.reserved0 = 1; }, -EINVAL, "reserved"},
	{"flags", [](vlb_create &c) { c.flags = 1; }, -EINVAL, "flags"},
	{"reserved[3]", [](vlb_create &c) { c.reserved[3] = 1; }, -EINVAL, "reserved"},
	{"empty name", [](vlb_create &c) { std::memset(c.name, 0, sizeof(c.name)); }, -EINVAL, "empty"},
	{"unterminated name", [](vlb_create &c) { std::memset(c.name, 'a', sizeof(c.name)); }, -ENAMETOOLONG, "NUL"},
	{"uppercase name", [](vlb_create &c) { c.name[0] = 'R'; }, -EINVAL, "[a-z0-9_-]"},
	{"slash in name", [](vlb_create &c) { c.name[1] = '/'; }, -EINVAL, "[a-z0-9_-]"},
	{"junk after NUL", [](vlb_create &c) { c.name[20] = 'x'; }, -EINVAL, "after the NUL"},
	{"iova too small", [](vlb_create &c) { c.iova_size = 4096; }, -EINVAL, "iova_size"},
	{"iova too big", [](vlb_create &c) { c.iova_size = VLB_IOVA_SIZE_MAX + 4096; }, -EINVAL, "iova_size"},
	{"iova not page multiple", [](vlb_create &c) { c.iova_size = VLB_IOVA_SIZE_MIN + 1; }, -EINVAL, "iova_size"},
	{"more grants than iova", [](vlb_create &c) { c.iova_size = VLB_IOVA_SIZE_MIN; c.max_granted_pages = 1000; }, -EINVAL, "max_granted_pages"},
	{"bounce pool too big", [](vlb_create &c) { c.bounce_pool_pages = VLB_BOUNCE_POOL_MAX + 1; }, -EINVAL, "bounce_pool_pages"},
};

std::string row_name(const ::testing::TestParamInfo<BadCreate> &info)
{
	std::string name;
	for (const char c : std::string_view(info.param.what))
		name += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
	return name;
}

INSTANTIATE_TEST_SUITE_P(Table, AbiCheckCreateRejects, ::testing::ValuesIn(kBadCreates), row_name);

TEST(AbiCheckCreate, EveryAllowedTypeIsAccepted)
{
	for (const __u32 id : {2U, 3U, 4U, 18U, 25U, 36U, 41U}) {
		vlb_create c = valid_rng();
		c.device_id = id;
		const char *why = nullptr;
		EXPECT_EQ(vlb_check_create(&c, &why), 0) << "type " << id;
	}
}

TEST(AbiCheckReply, ResultMustBeZeroOrErrno)
{
	const char *why = nullptr;
	vlb_reply r{};
	EXPECT_EQ(vlb_check_reply(&r, &why), 0);
	r.result = -EIO;
	EXPECT_EQ(vlb_check_reply(&r, &why), 0);
	r.result = 1;
	EXPECT_EQ(vlb_check_reply(&r, &why), -EINVAL);
	r.result = -4096;
	EXPECT_EQ(vlb_check_reply(&r, &why), -EINVAL);
	r.result = 0;
	r.reserved[1] = 7;
	EXPECT_EQ(vlb_check_reply(&r, &why), -EINVAL);
}

TEST(AbiCheckEventfd, IndexFdAndReserved)
{
	const char *why = nullptr;
	vlb_vq_eventfd e{.index = 1, .fd = 5, .reserved = 0};
	EXPECT_EQ(vlb_check_vq_eventfd(&e, 2, &why), 0);
	EXPECT_EQ(vlb_check_vq_eventfd(&e, 1, &why), -EINVAL);
	e.fd = -1;
	EXPECT_EQ(vlb_check_vq_eventfd(&e, 2, &why), 0);
	e.fd = -2;
	EXPECT_EQ(vlb_check_vq_eventfd(&e, 2, &why), -EBADF);
	e.fd = 3;
	e.reserved = 1;
	EXPECT_EQ(vlb_check_vq_eventfd(&e, 2, &why), -EINVAL);
}

TEST(AbiCheckConfigUpdate, StaysInsideTheConfigSpace)
{
	const char *why = nullptr;
	vlb_config_update u{};
	u.offset = 4;
	u.len = 4;
	EXPECT_EQ(vlb_check_config_update(&u, 8, &why), 0);
	EXPECT_EQ(vlb_check_config_update(&u, 7, &why), -EINVAL);
	u.len = 0;
	EXPECT_EQ(vlb_check_config_update(&u, 8, &why), -EINVAL);
	// offset + len would wrap around in 32 bits.
	u.offset = 0xfffffff0U;
	u.len = 0x20;
	EXPECT_EQ(vlb_check_config_update(&u, 8, &why), -EINVAL);
}

TEST(AbiCheckReattach, NameAndReserved)
{
	const char *why = nullptr;
	vlb_reattach r{};
	std::strcpy(r.name, "blk-0");
	EXPECT_EQ(vlb_check_reattach(&r, &why), 0);
	r.reserved[0] = 1;
	EXPECT_EQ(vlb_check_reattach(&r, &why), -EINVAL);
}

vlb_iova_copy good_copy()
{
	vlb_iova_copy c{};
	c.segs = 0x1000;  // only checked for NULL here; the kernel copies from it
	c.nr_segs = 1;
	c.fd = 3;
	c.flags = VLB_IOVA_COPY_TO_FILE;
	return c;
}

TEST(AbiCheckIovaCopy, FlagsCountFdOffsetAndReserved)
{
	const char *why = nullptr;
	vlb_iova_copy c = good_copy();
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), 0);
	c.flags = VLB_IOVA_COPY_FROM_FILE;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), 0);
	c.flags = VLB_IOVA_COPY_TO_FILE | VLB_IOVA_COPY_FROM_FILE;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
	EXPECT_NE(std::string(why).find("flags"), std::string::npos);
	c.flags = 0;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
	c = good_copy();
	c.nr_segs = 0;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
	c.nr_segs = VLB_IOVA_COPY_SEGS_MAX + 1;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
	c = good_copy();
	c.fd = -1;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EBADF);
	c = good_copy();
	c.offset = 1ULL << 63;  // not a loff_t
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
	c = good_copy();
	c.segs = 0;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EFAULT);
	c = good_copy();
	c.reserved0 = 1;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
	c = good_copy();
	c.reserved[1] = 1;
	EXPECT_EQ(vlb_check_iova_copy(&c, &why), -EINVAL);
}

TEST(AbiCheckIovaCall, FdAndReserved)
{
	const char *why = nullptr;
	vlb_iova_call c{};
	c.fd = 3;
	EXPECT_EQ(vlb_check_iova_call(&c, &why), 0);
	c.reserved = 1;
	EXPECT_EQ(vlb_check_iova_call(&c, &why), -EINVAL);
	EXPECT_NE(std::string(why).find("reserved"), std::string::npos);
	c.reserved = 0;
	c.fd = -1;
	EXPECT_EQ(vlb_check_iova_call(&c, &why), -EBADF);
	EXPECT_NE(std::string(why).find("fd"), std::string::npos);
}

TEST(AbiCheckIovaSegs, InsideTheSpaceBoundedAndCountedInPages)
{
	const char *why = nullptr;
	constexpr std::uint64_t kSpace = 1ULL << 20;
	__u64 bytes = 0;
	__u32 pages = 0;
	// 8 bytes across a page boundary, then a whole page.
	const std::array<vlb_iova_seg, 2> two{{{4092, 8}, {8192, 4096}}};
	EXPECT_EQ(vlb_check_iova_segs(two.data(), 2, kSpace, 0, &bytes, &pages, &why), 0);
	EXPECT_EQ(bytes, 4104U);
	EXPECT_EQ(pages, 3U);
	const std::array<vlb_iova_seg, 1> empty{{{4096, 0}}};
	EXPECT_EQ(vlb_check_iova_segs(empty.data(), 1, kSpace, 0, &bytes, &pages, &why), -EINVAL);
	const std::array<vlb_iova_seg, 1> past_end{{{kSpace - 4096, 4097}}};
	EXPECT_EQ(vlb_check_iova_segs(past_end.data(), 1, kSpace, 0, &bytes, &pages, &why), -EFAULT);
	const std::array<vlb_iova_seg, 1> wraps{{{~0ULL - 10, 20}}};
	EXPECT_EQ(vlb_check_iova_segs(wraps.data(), 1, kSpace, 0, &bytes, &pages, &why), -EFAULT);
	// The byte limit holds over the sum, not per segment.
	constexpr std::uint64_t kHalf = VLB_IOVA_COPY_BYTES_MAX / 2;
	const std::array<vlb_iova_seg, 3> too_much{{{0, kHalf}, {kHalf, kHalf}, {2 * kHalf, 1}}};
	EXPECT_EQ(vlb_check_iova_segs(too_much.data(), 2, 1ULL << 30, 0, &bytes, &pages, &why), 0);
	EXPECT_EQ(vlb_check_iova_segs(too_much.data(), 3, 1ULL << 30, 0, &bytes, &pages, &why), -EINVAL);
	// The end of the copy is a file position too (a signed 64-bit loff_t).
	const std::array<vlb_iova_seg, 1> one{{{0, 512}}};
	EXPECT_EQ(vlb_check_iova_segs(one.data(), 1, kSpace, (1ULL << 63) - 513, &bytes, &pages, &why), 0);
	EXPECT_EQ(vlb_check_iova_segs(one.data(), 1, kSpace, (1ULL << 63) - 512, &bytes, &pages, &why), -EINVAL);
}

} // namespace
