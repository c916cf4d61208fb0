// SPDX-License-Identifier: Apache-2.0
// The supervisor's per-device identities: one id per device, the same from
// one load to the next, never another device's, never root; a policy's own
// ids win unless they collide.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

#include "identities.h"
#include "vlb/policy/policy.h"

namespace {

using vlb::supervisor::Identities;
using vlb::supervisor::IdRange;
using vlb::supervisor::parse_id_range;

vlb::policy::Policy policy(const std::string &name, const std::string &sandbox = "")
{
	return vlb::policy::parse_policy("[device]\nname = \"" + name + "\"\ntype = \"rng\"\n[backend]\nbinary = "
					 "\"vlb-dev-rng\"\n" + sandbox,
					 name + ".toml");
}

TEST(Identities, EachDeviceGetsItsOwnStableId)
{
	Identities ids{IdRange{}};
	std::set<uid_t> seen;
	for (int i = 0; i < 200; ++i) {
		auto p = policy("dev" + std::to_string(i));
		ids.assign(p);
		const uid_t id = p.backend.sandbox.uid;
		EXPECT_GE(id, 0x70000000U);
		EXPECT_LT(id, 0x70000000U + 65536U);
		EXPECT_EQ(p.backend.sandbox.gid, id);
		EXPECT_EQ(p.adapter.sandbox.uid, id);
		EXPECT_EQ(p.adapter.sandbox.gid, id);
		EXPECT_TRUE(seen.insert(id).second) << "dev" << i << " got another device's id " << id;
	}
	// Reloaded (released and assigned again), and in a fresh supervisor:
	// the same id.
	auto again = policy("dev7");
	ids.assign(again);
	Identities fresh{IdRange{}};
	auto other_run = policy("dev7");
	fresh.assign(other_run);
	EXPECT_EQ(again.backend.sandbox.uid, other_run.backend.sandbox.uid);
}

TEST(Identities, ASmallRangeFillsUpAndSaysSo)
{
	Identities ids{IdRange{5000, 3}};
	std::set<uid_t> seen;
	uid_t b_id = 0;
	for (const char *name : {"a", "b", "c"}) {
		auto p = policy(name);
		ids.assign(p);
		seen.insert(p.backend.sandbox.uid);
		b_id = std::string(name) == "b" ? p.backend.sandbox.uid : b_id;
	}
	EXPECT_EQ(seen, (std::set<uid_t>{5000, 5001, 5002}));
	auto d = policy("d");
	try {
		ids.assign(d);
		FAIL() << "a fourth device got an id from a range of three";
	} catch (const std::runtime_error &e) {
		EXPECT_STREQ(e.what(), "no free id left in the range 5000:3 (--id-range)");
	}
	ids.release("b");
	EXPECT_NO_THROW(ids.assign(d));
	EXPECT_EQ(d.backend.sandbox.uid, b_id);
}

TEST(Identities, PolicyIdsWinUnlessTheyCollide)
{
	Identities ids{IdRange{5000, 100}};
	auto p = policy("own", "[backend.sandbox]\nuid = 1234\ngid = 1234\n");
	ids.assign(p);
	EXPECT_EQ(p.backend.sandbox.uid, 1234U);
	EXPECT_EQ(p.backend.sandbox.gid, 1234U);
	// The adapter names no ids: the device's own.
	EXPECT_GE(p.adapter.sandbox.uid, 5000U);
	EXPECT_LT(p.adapter.sandbox.uid, 5100U);

	auto same = policy("other", "[backend.sandbox]\nuid = 1234\n");
	try {
		ids.assign(same);
		FAIL() << "two devices share uid 1234";
	} catch (const std::runtime_error &e) {
		EXPECT_STREQ(e.what(), "uid 1234 is also device own's: devices may not share an identity");
	}
	auto in_range = policy("third", "[adapter.sandbox]\ngid = 5050\n");
	try {
		ids.assign(in_range);
		FAIL() << "a policy took an id from the assigned range";
	} catch (const std::runtime_error &e) {
		EXPECT_STREQ(e.what(), "gid 5050 lies in the range the supervisor assigns devices their ids from "
				       "(5000:100)");
	}
	// A refused device holds nothing: its name can load later.
	auto fixed = policy("third");
	EXPECT_NO_THROW(ids.assign(fixed));
}

// The control group may drive the supervisor (peer_in_group): a device
// run with it as its gid could stop or reload every other device.
TEST(Identities, NoDeviceIsGivenTheControlGroup)
{
	const gid_t control = 5001;
	Identities ids{IdRange{5000, 3}, control};
	for (const char *name : {"a", "b"}) {
		auto p = policy(name);
		ids.assign(p);
		EXPECT_NE(p.backend.sandbox.gid, control) << name << " was assigned the control group";
		EXPECT_NE(p.adapter.sandbox.gid, control) << name << " was assigned the control group";
	}
	// Two devices, three slots, one of them the control group: full.
	auto c = policy("c");
	EXPECT_THROW(ids.assign(c), std::runtime_error);

	Identities outside{IdRange{}, 1234};
	auto named = policy("named", "[adapter.sandbox]\ngid = 1234\n");
	try {
		outside.assign(named);
		FAIL() << "a policy ran a device in the control group";
	} catch (const std::runtime_error &e) {
		EXPECT_STREQ(e.what(), "gid 1234 is the control socket's group (--control-group): a device in it "
				       "could load, stop and reconfigure every device");
	}
	// The same number as a uid grants nothing and is allowed.
	auto as_uid = policy("as-uid", "[adapter.sandbox]\nuid = 1234\n");
	EXPECT_NO_THROW(outside.assign(as_uid));
}

TEST(Identities, RangeOptionIsChecked)
{
	const IdRange r = parse_id_range("0x70000000:4096");
	EXPECT_EQ(r.first, 0x70000000U);
	EXPECT_EQ(r.count, 4096U);
	const std::pair<const char *, const char *> kBad[] = {
		{"100", "--id-range: expected FIRST:COUNT, got '100'"},
		{"0:10", "--id-range: FIRST and COUNT must be at least 1 (0 is root)"},
		{"10:0", "--id-range: FIRST and COUNT must be at least 1 (0 is root)"},
		{"65000:1000", "--id-range: the range must not hold 65535, the 16-bit (uid_t)-1"},
		{"2147483000:1000", "--id-range: the range must end at 2147483647 or below"},
		{"4294967295:1", "--id-range FIRST: 4294967295 is larger than 2147483647"},
		{"x:1", "--id-range FIRST: expected an unsigned number"},
	};
	for (const auto &[text, error] : kBad) {
		try {
			(void)parse_id_range(text);
			ADD_FAILURE() << text << " was accepted";
		} catch (const std::invalid_argument &e) {
			EXPECT_STREQ(e.what(), error) << text;
		}
	}
}

// The range may hold no id the host already uses: a device process with
// a user's uid could signal that user's processes (and be signalled), and
// one inside a subuid range runs as some user's namespaced processes.
class HostIds : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string tmpl = (std::filesystem::temp_directory_path() / "vlb-ids-XXXXXX").string();
		ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
		dir_ = tmpl;
		files_ = {(dir_ / "passwd").string(), (dir_ / "group").string(), (dir_ / "subuid").string(),
			  (dir_ / "subgid").string()};
		std::ofstream(files_.passwd) << "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
		std::ofstream(files_.group) << "root:x:0:\nalice:x:1000:\n";
		std::ofstream(files_.subuid) << "alice:100000:65536\n";
		std::ofstream(files_.subgid) << "# comment\nalice:100000:65536\n";
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	// The message check_id_range_is_unused throws, or "" if the range is free.
	[[nodiscard]] std::string conflict(const IdRange &range) const
	{
		try {
			vlb::supervisor::check_id_range_is_unused(range, files_);
		} catch (const std::invalid_argument &e) {
			return e.what();
		}
		return "";
	}

	std::filesystem::path dir_;
	vlb::supervisor::HostIdFiles files_;
};

TEST_F(HostIds, AFreeRangePasses)
{
	EXPECT_EQ(conflict(IdRange{}), "");
	EXPECT_EQ(conflict(IdRange{2000, 1000}), "");
	EXPECT_EQ(conflict(IdRange{165536, 10}), ""); // just past alice's subordinate range
}

TEST_F(HostIds, AUsersIdsAreRefused)
{
	EXPECT_NE(conflict(IdRange{1000, 1}).find("--id-range 1000:1: user alice (uid 1000, gid 1000, " + files_.passwd +
						  ") is in it"),
		  std::string::npos)
		<< conflict(IdRange{1000, 1});
	std::ofstream(files_.passwd) << "root:x:0:0:root:/root:/bin/sh\n";
	EXPECT_NE(conflict(IdRange{900, 200}).find("group alice (gid 1000, " + files_.group + ") is in it"),
		  std::string::npos);
}

TEST_F(HostIds, ASubordinateRangeThatOverlapsIsRefused)
{
	EXPECT_NE(conflict(IdRange{165535, 10}).find("subuid range 100000:65536 of alice (" + files_.subuid +
						     ":1) overlaps it"),
		  std::string::npos)
		<< conflict(IdRange{165535, 10});
	std::ofstream(files_.subuid) << "";
	EXPECT_NE(conflict(IdRange{50000, 60000}).find("subgid range 100000:65536 of alice (" + files_.subgid +
						       ":2) overlaps it"),
		  std::string::npos)
		<< conflict(IdRange{50000, 60000});
}

TEST_F(HostIds, AnUnreadableFileIsAnError)
{
	files_.passwd = files_.group + "/passwd"; // ENOTDIR: it cannot be read, and is not merely absent
	EXPECT_NE(conflict(IdRange{2000, 10}).find("--id-range: cannot read " + files_.passwd), std::string::npos)
		<< conflict(IdRange{2000, 10});
}

TEST_F(HostIds, AHugeSubordinateRangeDoesNotWrapAround)
{
	std::ofstream(files_.subuid) << "bob:1879048192:18446744073709551615\n";
	EXPECT_NE(conflict(IdRange{}).find("subuid range 1879048192:18446744073709551615 of bob"), std::string::npos)
		<< conflict(IdRange{});
}

TEST_F(HostIds, MissingFilesHoldNoIds)
{
	const vlb::supervisor::HostIdFiles none{"/nonexistent/passwd", "/nonexistent/group", "/nonexistent/subuid",
						"/nonexistent/subgid"};
	EXPECT_NO_THROW(vlb::supervisor::check_id_range_is_unused(IdRange{1000, 1}, none));
}

} // namespace
