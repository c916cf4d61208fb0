// SPDX-License-Identifier: Apache-2.0
// The kernel's ABI validation (kmod/vlb_abi_check.c), built for user space.
#include "vlb_abi_check.h"
#include "vlb_types.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <span>
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
	{"reserved1", [](vlb_create &c) { c.reserved1 = 1; }, -EINVAL, "reserved"},
	{"reserved[2]", [](vlb_create &c) { c.reserved[2] = 1; }, -EINVAL, "reserved"},
	{"rng deadline above its maximum", [](vlb_create &c) { c.request_timeout_ms = 10001; }, -EINVAL, "request_timeout_ms"},
	{"a deadline for input, which has none", [](vlb_create &c) { c.device_id = 18; c.request_timeout_ms = 1000; }, -EINVAL, "request_timeout_ms"},
	{"sound: no driver proven", [](vlb_create &c) { c.device_id = 25; }, -EPROTONOSUPPORT, "device_id"},
	{"can: no stock driver", [](vlb_create &c) { c.device_id = 36; }, -EPROTONOSUPPORT, "device_id"},
	{"gpio: no driver proven", [](vlb_create &c) { c.device_id = 41; }, -EPROTONOSUPPORT, "device_id"},
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
	for (const __u32 id : {2U, 3U, 4U, 18U}) {
		vlb_create c = valid_rng();
		c.device_id = id;
		c.num_queues = 2;
		c.config_size = id == 18 ? 136 : 0;
		const char *why = nullptr;
		EXPECT_EQ(vlb_check_create(&c, &why), 0) << "type " << id << ": " << why;
	}
}

TEST(AbiCheckCreate, RequestDeadlinesDefaultPerType)
{
	const std::pair<__u32, __u32> defaults[] = {{2, 30000}, {3, 5000}, {4, 5000}, {18, 0}};
	for (const auto &[id, ms] : defaults) {
		vlb_create c = valid_rng();
		c.device_id = id;
		c.num_queues = 2;
		c.config_size = id == 18 ? 136 : 0;
		const char *why = nullptr;
		ASSERT_EQ(vlb_check_create(&c, &why), 0) << why;
		EXPECT_EQ(c.request_timeout_ms, ms) << "type " << id;
	}
	vlb_create c = valid_rng();
	c.request_timeout_ms = 10000;
	const char *why = nullptr;
	ASSERT_EQ(vlb_check_create(&c, &why), 0) << why;
	EXPECT_EQ(c.request_timeout_ms, 10000U);
}

// virtio_blk puts seg_max data segments, its header and its status byte in
// one chain; without indirect descriptors it must fit the ring, or
// virtqueue_add_split() WARNs from the block layer's submission path.
TEST(AbiCheckConfig, BlkSegMaxFitsTheRing)
{
	constexpr __u64 kSegMax = 1ULL << 2;
	const auto blk = [](__u16 ring, __u32 seg_max, bool offered) {
		vlb_create c = valid_rng();
		c.device_id = 2;
		c.queue_size_max = ring;
		if (offered)
			c.device_features |= kSegMax;
		c.config_size = 60;
		std::memcpy(&c.config[12], &seg_max, sizeof(seg_max));
		const char *why = nullptr;
		const int r = vlb_check_create(&c, &why);
		if (r != 0) {
			EXPECT_NE(std::string(why).find(ring < 4 ? "queue_size_max" : "seg_max"), std::string::npos)
				<< why;
		}
		return r;
	};
	EXPECT_EQ(blk(16, 14, true), 0);
	EXPECT_EQ(blk(16, 15, true), -EINVAL);
	EXPECT_EQ(blk(16, 0xffffffffU, true), -EINVAL);
	EXPECT_EQ(blk(16, 0, true), 0);             // 0 reads as one segment
	EXPECT_EQ(blk(16, 0xffffffffU, false), 0);  // not offered: not read
	EXPECT_EQ(blk(4, 0, false), 0);
	EXPECT_EQ(blk(2, 0, false), -EINVAL);       // header, data, status: 3
	// The same check for a config space the device changes later.
	vlb_create c = valid_rng();
	c.device_id = 2;
	c.queue_size_max = 16;
	c.device_features |= kSegMax;
	c.config_size = 60;
	const char *why = nullptr;
	ASSERT_EQ(vlb_check_create(&c, &why), 0) << why;
	std::array<__u8, VLB_CONFIG_MAX> later{};
	const __u32 seg_max = 100;
	std::memcpy(&later[12], &seg_max, sizeof(seg_max));
	EXPECT_EQ(vlb_check_config(&c, later.data(), &why), -EINVAL);
}

// Every config value a stock driver builds a data structure, a shift or a
// BUG_ON from is bounded (kmod/vlb_types.c says why for each).
struct BadConfig {
	const char *what;
	__u32 type;
	__u64 features;  // bits offered on top of VERSION_1
	std::function<void(vlb_create &)> spoil;
	const char *why_mentions;
};

void PrintTo(const BadConfig &bad, std::ostream *os)
{
	*os << bad.what;
}

template <typename T> void put(vlb_create &c, std::size_t off, T v)
{
	std::memcpy(std::span(c.config).subspan(off, sizeof(v)).data(), &v, sizeof(v));
}

vlb_create valid_of(const BadConfig &b)
{
	vlb_create c = valid_rng();
	c.device_id = b.type;
	c.device_features |= b.features;
	c.num_queues = 4;
	c.config_size = b.type == 18 ? 136 : 72;
	if (b.type == 2) {
		put<__u32>(c, 20, 512);    // blk_size
		put<__u32>(c, 48, 1024);   // max_write_zeroes_sectors
		put<__u32>(c, 60, 1024);   // secure erase: sectors, seg, alignment
		put<__u32>(c, 64, 4);
		put<__u32>(c, 68, 8);
		put<__u16>(c, 34, 1);      // num_queues
	}
	if (b.type == 3)
		put<__u32>(c, 4, 1);       // max_nr_ports
	return c;
}

class AbiCheckConfigRejects : public ::testing::TestWithParam<BadConfig> {};

TEST_P(AbiCheckConfigRejects, AtCreateWithTheField)
{
	const BadConfig &bad = GetParam();
	vlb_create c = valid_of(bad);
	const char *why = nullptr;
	ASSERT_EQ(vlb_check_create(&c, &why), 0) << bad.what << ": the base is refused: " << why;
	c = valid_of(bad);
	bad.spoil(c);
	EXPECT_EQ(vlb_check_create(&c, &why), -EINVAL) << bad.what;
	ASSERT_NE(why, nullptr);
	EXPECT_NE(std::string(why).find(bad.why_mentions), std::string::npos) << bad.what << ": " << why;
}

constexpr __u64 F(unsigned bit) { return 1ULL << bit; }

const std::vector<BadConfig> kBadConfigs = {
	{"blk capacity 2^54", 2, 0, [](vlb_create &c) { put<__u64>(c, 0, 1ULL << 54); }, "capacity"},
	{"blk size_max below a page", 2, F(1), [](vlb_create &c) { put<__u32>(c, 8, 512); }, "size_max"},
	{"blk blk_size 1000", 2, F(6), [](vlb_create &c) { put<__u32>(c, 20, 1000); }, "blk_size"},
	{"blk blk_size 8192", 2, F(6), [](vlb_create &c) { put<__u32>(c, 20, 8192); }, "blk_size"},
	{"blk physical_block_exp 31", 2, F(10), [](vlb_create &c) { c.config[24] = 31; }, "physical_block_exp"},
	{"blk opt_io_size 4 GiB", 2, F(10), [](vlb_create &c) { put<__u32>(c, 28, 1U << 23); }, "opt_io_size"},
	{"blk wce 2 (a BUG_ON)", 2, F(11), [](vlb_create &c) { c.config[32] = 2; }, "wce"},
	{"blk num_queues 0", 2, F(12), [](vlb_create &c) { put<__u16>(c, 34, 0); }, "num_queues"},
	{"blk num_queues past the transport's", 2, F(12), [](vlb_create &c) { put<__u16>(c, 34, 5); }, "num_queues"},
	{"blk discard alignment 2^23", 2, F(13), [](vlb_create &c) { put<__u32>(c, 44, 1U << 23); }, "discard_sector_alignment"},
	{"blk write zeroes 0 (read as all)", 2, F(14), [](vlb_create &c) { put<__u32>(c, 48, 0); }, "max_write_zeroes"},
	{"blk write zeroes 2^23", 2, F(14), [](vlb_create &c) { put<__u32>(c, 48, 1U << 23); }, "max_write_zeroes"},
	{"blk secure erase without sectors", 2, F(16), [](vlb_create &c) { put<__u32>(c, 60, 0); }, "secure erase"},
	{"blk secure erase alignment 2^23", 2, F(16), [](vlb_create &c) { put<__u32>(c, 68, 1U << 23); }, "secure erase"},
	{"blk secure erase of one segment beside discard", 2, F(16) | F(13) | F(2),
	 [](vlb_create &c) { put<__u32>(c, 64, 1); put<__u32>(c, 12, 8); }, "max_secure_erase_seg"},
	{"blk zoned", 2, 0, [](vlb_create &c) { c.device_features |= F(17); }, "zoned"},
	{"console ring below a splice", 3, 0, [](vlb_create &c) { c.queue_size_max = 128; }, "queue_size_max"},
	{"console one queue", 3, 0, [](vlb_create &c) { c.num_queues = 1; }, "num_queues"},
	{"console no ports", 3, F(1), [](vlb_create &c) { put<__u32>(c, 4, 0); }, "max_nr_ports"},
	{"console more ports than queues", 3, F(1), [](vlb_create &c) { put<__u32>(c, 4, 2); }, "max_nr_ports"},
	{"input answer above 128 bytes", 18, 0, [](vlb_create &c) { c.config[2] = 129; }, "size"},
	{"input config of 1 byte (its window is 8 at least)", 18, 0, [](vlb_create &c) { c.config_size = 1; }, "config_size"},
	{"input axis min above max", 18, 0,
	 [](vlb_create &c) { c.config[0] = 0x12; put<__s32>(c, 8, 10); put<__s32>(c, 12, 9); }, "min/max"},
	{"input axis range overflows (mousedev divides by it)", 18, 0,
	 [](vlb_create &c) { c.config[0] = 0x12; put<__s32>(c, 8, INT32_MIN); put<__s32>(c, 12, INT32_MAX); }, "min/max"},
	{"input negative fuzz", 18, 0,
	 [](vlb_create &c) { c.config[0] = 0x12; put<__s32>(c, 12, 100); put<__s32>(c, 16, -1); }, "fuzz"},
	{"input flat beyond the range", 18, 0,
	 [](vlb_create &c) { c.config[0] = 0x12; put<__s32>(c, 12, 100); put<__s32>(c, 20, 101); }, "flat"},
	{"input 1025 MT slots", 18, 0,
	 [](vlb_create &c) { c.config[0] = 0x12; c.config[1] = 0x2f; put<__s32>(c, 12, 1024); }, "ABS_MT_SLOT"},
};

std::string config_row_name(const ::testing::TestParamInfo<BadConfig> &info)
{
	std::string name;
	for (const char c : std::string_view(info.param.what))
		name += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
	return name;
}

INSTANTIATE_TEST_SUITE_P(Table, AbiCheckConfigRejects, ::testing::ValuesIn(kBadConfigs), config_row_name);

// Drivers read most fields once, one by one: an update between two reads
// would mix two spaces each check passed. Only what they read again may
// change, and a selection window's answer once per selection.
TEST(AbiCheckConfigChange, OnlyWhatTheDriverReadsAgain)
{
	const char *why = nullptr;
	vlb_create blk = valid_rng();
	blk.device_id = 2;
	blk.device_features |= 1ULL << 2 | 1ULL << 11;
	blk.config_size = 60;
	put<__u32>(blk, 12, 8);
	ASSERT_EQ(vlb_check_create(&blk, &why), 0) << why;
	std::array<__u8, VLB_CONFIG_MAX> next{};
	std::memcpy(next.data(), blk.config, sizeof(blk.config));
	put<__u64>(blk, 0, 0);  // the old space, for comparison
	const auto change = [&](std::size_t off, __u8 v, bool answer = true) {
		auto n = next;
		n.at(off) = v;
		return vlb_check_config_change(&blk, blk.config, n.data(), answer, &why);
	};
	EXPECT_EQ(change(0, 7), 0);    // capacity
	EXPECT_EQ(change(32, 1), 0);   // wce
	EXPECT_EQ(change(32, 2), -EINVAL) << "wce 2 passed";
	EXPECT_EQ(change(12, 4), -EINVAL) << "seg_max changed";
	EXPECT_NE(std::string(why).find("read once"), std::string::npos) << why;

	vlb_create input = valid_rng();
	input.device_id = 18;
	input.num_queues = 2;
	input.config_size = 136;
	ASSERT_EQ(vlb_check_create(&input, &why), 0) << why;
	std::array<__u8, VLB_CONFIG_MAX> answer{};
	answer.at(2) = 4;
	EXPECT_EQ(vlb_check_config_change(&input, input.config, answer.data(), true, &why), 0);
	EXPECT_EQ(vlb_check_config_change(&input, input.config, answer.data(), false, &why), -EBUSY)
		<< "a second answer to one selection passed";
}

// The host's magic SysRq handler takes every keyboard: an input device's
// key bitmap reaches the driver without KEY_SYSRQ (99), whatever the
// device declares; other keys and other selections pass as they are.
TEST(AbiCheckConfig, InputDeclaresNoSysrqKey)
{
	const vlb_type *t = vlb_type_find(18);
	ASSERT_NE(t, nullptr);
	ASSERT_NE(t->mask_config, nullptr);
	std::array<std::uint8_t, 136> cfg{};
	cfg[0] = 0x11;	// VIRTIO_INPUT_CFG_EV_BITS
	cfg[1] = 1;	// EV_KEY
	cfg[2] = 128;
	std::memset(cfg.data() + 8, 0xff, 128);
	t->mask_config(cfg.data(), cfg.size());
	EXPECT_EQ(cfg[8 + 99 / 8], 0xff & ~(1U << (99 % 8)));
	EXPECT_EQ(cfg[8 + 99 / 8 - 1], 0xff);
	EXPECT_EQ(cfg[8 + 99 / 8 + 1], 0xff);
	// EV_BITS of EV_REL, and ID_NAME: untouched.
	cfg[1] = 2;
	cfg[8 + 99 / 8] = 0xff;
	t->mask_config(cfg.data(), cfg.size());
	EXPECT_EQ(cfg[8 + 99 / 8], 0xff);
	cfg[0] = 0x01;
	cfg[1] = 1;
	t->mask_config(cfg.data(), cfg.size());
	EXPECT_EQ(cfg[8 + 99 / 8], 0xff);
	// A space too short to hold bit 99 is left alone.
	cfg[0] = 0x11;
	t->mask_config(cfg.data(), 8 + 99 / 8);
	EXPECT_EQ(cfg[8 + 99 / 8], 0xff);
	EXPECT_EQ(vlb_type_find(4)->mask_config, nullptr);  // rng: nothing to take out
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

// The uapi layout user space and the module agree on: fixed size, 8-byte
// aligned, reserved words last.
static_assert(sizeof(vlb_scope) == 88);
static_assert(offsetof(vlb_scope, name) == 8);
static_assert(offsetof(vlb_scope, iova_size) == 48);
static_assert(offsetof(vlb_scope, reserved) == 56);

vlb_scope rng_scope()
{
	vlb_scope s{};
	s.device_id = 4; // VIRTIO_ID_RNG
	std::strcpy(s.name, "rng0");
	return s;
}

TEST(AbiCheckScope, TypeNameLimitsAndReserved)
{
	const char *why = nullptr;
	vlb_scope s = rng_scope();
	EXPECT_EQ(vlb_check_scope(&s, &why), 0) << why;
	s.device_id = 0xdead;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EPROTONOSUPPORT);
	s = rng_scope();
	s.name[0] = 'A';
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
	s = rng_scope();
	s.flags = 1;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
	s = rng_scope();
	s.reserved[3] = 1;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
	s = rng_scope();
	s.iova_size = VLB_IOVA_SIZE_MAX * 2;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
	EXPECT_NE(std::string_view(why).find("iova_size"), std::string_view::npos);
	s.iova_size = VLB_IOVA_SIZE_MIN + 1;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
	s = rng_scope();
	s.bounce_pool_pages = VLB_BOUNCE_POOL_MAX + 1;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
	s = rng_scope();
	s.max_granted_pages = static_cast<__u32>(VLB_IOVA_SIZE_MAX / VLB_PAGE_SIZE) + 1;
	EXPECT_EQ(vlb_check_scope(&s, &why), -EINVAL);
}

TEST(AbiCheckScope, CreateOnlyOfTheNameTypeAndWithinTheLimits)
{
	const char *why = nullptr;
	vlb_scope s = rng_scope();
	s.iova_size = VLB_IOVA_SIZE_MIN * 4;
	s.max_granted_pages = 64;
	s.bounce_pool_pages = 8;
	const auto checked = [](vlb_create c) {
		const char *w = nullptr;
		EXPECT_EQ(vlb_check_create(&c, &w), 0) << w;
		return c;
	};
	vlb_create c = valid_rng();
	c.iova_size = s.iova_size;
	c.max_granted_pages = 64;
	c.bounce_pool_pages = 8;
	EXPECT_EQ(vlb_scope_allows_create(&s, &c, &why), 0) << why;

	vlb_create other = c;
	std::strcpy(other.name, "rng1");
	EXPECT_EQ(vlb_scope_allows_create(&s, &other, &why), -EPERM);
	EXPECT_NE(std::string_view(why).find("name"), std::string_view::npos);
	// Same name, another type: a keyboard instead of the rng.
	other = c;
	other.device_id = 18; // VIRTIO_ID_INPUT
	EXPECT_EQ(vlb_scope_allows_create(&s, &other, &why), -EPERM);
	EXPECT_NE(std::string_view(why).find("device_id"), std::string_view::npos);
	// Zero fields become the defaults, which are above these limits.
	other = checked(valid_rng());
	EXPECT_EQ(vlb_scope_allows_create(&s, &other, &why), -EPERM);
	other = c;
	other.max_granted_pages = 65;
	EXPECT_EQ(vlb_scope_allows_create(&s, &other, &why), -EPERM);
	other = c;
	other.bounce_pool_pages = 9;
	EXPECT_EQ(vlb_scope_allows_create(&s, &other, &why), -EPERM);
	// Without limits, only the module's bounds apply.
	s = rng_scope();
	other = checked(valid_rng());
	EXPECT_EQ(vlb_scope_allows_create(&s, &other, &why), 0) << why;
}

TEST(AbiCheckScope, AnotherDeviceIsRefusedBeforeItIsParsed)
{
	const char *why = nullptr;
	const vlb_scope s = rng_scope();
	vlb_create c{}; // not a valid request at all
	std::strcpy(c.name, "rng0");
	c.device_id = 18;
	EXPECT_EQ(vlb_scope_allows_device(&s, c.device_id, c.name, &why), -EPERM);
	c.device_id = 4;
	EXPECT_EQ(vlb_scope_allows_device(&s, c.device_id, c.name, &why), 0);
	std::memset(c.name, 'a', sizeof(c.name)); // unterminated
	EXPECT_EQ(vlb_scope_allows_device(&s, c.device_id, c.name, &why), -EPERM);
}

TEST(AbiCheckScope, ReattachOnlyOfTheName)
{
	const char *why = nullptr;
	const vlb_scope s = rng_scope();
	vlb_reattach r{};
	std::strcpy(r.name, "rng0");
	EXPECT_EQ(vlb_scope_allows_name(&s, r.name, &why), 0);
	std::strcpy(r.name, "rng");
	EXPECT_EQ(vlb_scope_allows_name(&s, r.name, &why), -EPERM);
	std::strcpy(r.name, "rng00");
	EXPECT_EQ(vlb_scope_allows_name(&s, r.name, &why), -EPERM);
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
