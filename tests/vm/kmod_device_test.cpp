// SPDX-License-Identifier: Apache-2.0
// Device lifecycle and per-device fd ABI against the real module (runs in
// the test guest as root, module loaded with grace_period_ms=500 and
// msg_timeout_ms=1000). No driver binds, except for DeviceFdWithDriver (run
// after the case loads virtio_rng): each test answers or ignores the
// control messages itself.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>

#include <linux/virtio_config.h>
#include <linux/virtio_loopback.h>

#include <gtest/gtest.h>

#include "kernel_node.h"
#include "vlb/mapping.h"
#include "vlb/sys_error.h"
#include "vlb/unique_fd.h"
#include "vlb_test/create_request.h"

namespace {

using namespace std::chrono_literals;

constexpr auto kGracePeriod = 500ms;

vlb_create rng_request(const std::string &name) { return vlb::test::rng_create_request(name); }

int create(const vlb::KernelNode &node, vlb_create c)
{
	return ::ioctl(node.fd(), VLB_IOC_CREATE, &c);
}

vlb_reattach reattach_request(const std::string &name)
{
	vlb_reattach r{};
	std::strncpy(r.name, name.c_str(), sizeof(r.name) - 1);
	return r;
}

int expect_errno(int ret)
{
	return ret < 0 ? errno : 0;
}

TEST(Create, ReturnsADeviceFdAndWritesBackTheOffer)
{
	const vlb::KernelNode node;
	vlb_create c = rng_request("create-ok");
	c.device_features |= (1ULL << 28) | (1ULL << 29) | (1ULL << 34);  // masked off
	const vlb::UniqueFd dev(::ioctl(node.fd(), VLB_IOC_CREATE, &c));
	ASSERT_TRUE(dev.valid()) << std::generic_category().message(errno);
	EXPECT_EQ(c.device_features, 1ULL << 32);
	EXPECT_EQ(::fcntl(dev.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(Create, RefusesBadRequestsWithPreciseErrno)
{
	const vlb::KernelNode node;
	vlb_create c = rng_request("create-bad");
	c.device_id = 1;  // net
	EXPECT_EQ(expect_errno(create(node, c)), EPROTONOSUPPORT);
	c = rng_request("create-bad");
	c.reserved[2] = 1;
	EXPECT_EQ(expect_errno(create(node, c)), EINVAL);
	c = rng_request("create-bad");
	c.queue_size_max = 100;
	EXPECT_EQ(expect_errno(create(node, c)), EINVAL);
	c = rng_request("Bad Name");
	EXPECT_EQ(expect_errno(create(node, c)), EINVAL);
	EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_CREATE, nullptr)), EFAULT);
	// A request that runs from a readable page into an inaccessible one.
	const vlb::Mapping pages = vlb::Mapping::anonymous(8192, PROT_READ | PROT_WRITE);
	ASSERT_EQ(::mprotect(pages.bytes().subspan(4096).data(), 4096, PROT_NONE), 0);
	EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_CREATE,
				       pages.bytes().subspan(4096 - 8).data())),
		  EFAULT);
}

// Config values the stock drivers trust are checked at CREATE and on every
// update: blk's seg_max beyond the ring made virtio_blk build chains the
// ring cannot hold (a WARN in virtqueue_add_split from kblockd), and a wce
// of 2 is a BUG_ON for whoever reads the disk's cache_type in sysfs.
TEST(Create, RefusesConfigsTheStockDriversCannotTake)
{
	const vlb::KernelNode node;
	vlb_create c = rng_request("bad-blk-config");
	c.device_id = 2;
	c.queue_size_max = 8;
	c.device_features |= 1ULL << 2 | 1ULL << 11;  // SEG_MAX, CONFIG_WCE
	c.config_size = 60;
	const __u32 seg_max = 64;
	std::memcpy(&c.config[12], &seg_max, sizeof(seg_max));
	EXPECT_EQ(expect_errno(create(node, c)), EINVAL);
	const __u32 fits = 6;
	std::memcpy(&c.config[12], &fits, sizeof(fits));
	c.config[32] = 2;
	EXPECT_EQ(expect_errno(create(node, c)), EINVAL);
	c.config[32] = 1;
	const vlb::UniqueFd dev(create(node, c));
	ASSERT_TRUE(dev.valid()) << vlb::errno_string(errno);

	vlb_config_update u{};
	u.offset = 32;
	u.len = 1;
	u.data[0] = 2;
	EXPECT_EQ(expect_errno(::ioctl(dev.get(), VLB_DEV_CONFIG_UPDATE, &u)), EINVAL);
	u.offset = 12;
	u.len = 4;
	std::memcpy(u.data, &seg_max, sizeof(seg_max));
	EXPECT_EQ(expect_errno(::ioctl(dev.get(), VLB_DEV_CONFIG_UPDATE, &u)), EINVAL);
	auto st = std::make_unique<vlb_dev_state>();
	ASSERT_EQ(::ioctl(dev.get(), VLB_DEV_GET_STATE, st.get()), 0);
	EXPECT_EQ(st->params.config[32], 1) << "a refused update changed the config";
	std::memcpy(u.data, &fits, sizeof(fits));
	EXPECT_EQ(::ioctl(dev.get(), VLB_DEV_CONFIG_UPDATE, &u), 0) << vlb::errno_string(errno);

	// After CREATE only what virtio_blk reads again may change: a valid
	// but different seg_max is refused, a new capacity is not.
	const __u32 fewer = 5;
	std::memcpy(u.data, &fewer, sizeof(fewer));
	EXPECT_EQ(expect_errno(::ioctl(dev.get(), VLB_DEV_CONFIG_UPDATE, &u)), EINVAL);
	u.offset = 0;
	u.len = 8;
	const __u64 capacity = 4096;
	std::memcpy(u.data, &capacity, sizeof(capacity));
	EXPECT_EQ(::ioctl(dev.get(), VLB_DEV_CONFIG_UPDATE, &u), 0) << vlb::errno_string(errno);
}

TEST(Create, NamesAreUnique)
{
	const vlb::KernelNode node;
	const vlb::UniqueFd first(create(node, rng_request("unique")));
	ASSERT_TRUE(first.valid());
	EXPECT_EQ(expect_errno(create(node, rng_request("unique"))), EEXIST);
}

TEST(Reattach, WithinTheGracePeriodOnlyAndOnlyWhenDetached)
{
	const vlb::KernelNode node;
	vlb_reattach r = reattach_request("reattach");
	{
		const vlb::UniqueFd dev(create(node, rng_request("reattach")));
		ASSERT_TRUE(dev.valid());
		// Attached: nobody may steal the device.
		EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), EBUSY);
	}
	{
		const vlb::UniqueFd again(::ioctl(node.fd(), VLB_IOC_REATTACH, &r));
		ASSERT_TRUE(again.valid()) << std::generic_category().message(errno);
		// Survives well past the grace period while attached.
		std::this_thread::sleep_for(3 * kGracePeriod);
		vlb_stats s{};
		EXPECT_EQ(::ioctl(again.get(), VLB_DEV_GET_STATS, &s), 0);
	}
	std::this_thread::sleep_for(4 * kGracePeriod);
	EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), ENOENT);
	r.reserved[1] = 1;
	EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), EINVAL);
}

vlb_scope scope_request(const std::string &name, __u32 device_id = 4)
{
	vlb_scope s{};
	s.device_id = device_id;
	std::strncpy(s.name, name.c_str(), sizeof(s.name) - 1);
	return s;
}

int scope(const vlb::KernelNode &node, vlb_scope s)
{
	return ::ioctl(node.fd(), VLB_IOC_SCOPE, &s);
}

// A scope holds for the file's lifetime: a second one is refused, even one
// that only narrows, and an unprivileged caller cannot scope at all.
TEST(Scope, OnceAndOnlyWithCapSysAdmin)
{
	const vlb::KernelNode node;
	ASSERT_EQ(scope(node, scope_request("scope-once")), 0) << vlb::errno_string(errno);
	EXPECT_EQ(expect_errno(scope(node, scope_request("scope-other"))), EBUSY);
	EXPECT_EQ(expect_errno(scope(node, scope_request("scope-once"))), EBUSY);

	const vlb::KernelNode fresh;
	EXPECT_EQ(expect_errno(scope(fresh, scope_request("Bad"))), EINVAL);
	EXPECT_EQ(expect_errno(scope(fresh, scope_request("scope-net", 1))), EPROTONOSUPPORT);
	EXPECT_EQ(expect_errno(::ioctl(fresh.fd(), VLB_IOC_SCOPE, nullptr)), EFAULT);
	// The same open file, in a process without capabilities (uid nobody).
	const pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
			::_exit(100);
		::_exit(expect_errno(scope(fresh, scope_request("scope-nobody"))));
	}
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), EPERM);
	// Still unscoped: the refusals left nothing behind.
	EXPECT_EQ(scope(fresh, scope_request("scope-nobody")), 0) << vlb::errno_string(errno);
}

// What a compromised adapter would try with the file it holds: make a
// device of another name or type (a keyboard), or one with larger limits.
TEST(Scope, CreateOnlyOfTheScopedNameTypeAndLimits)
{
	const vlb::KernelNode node;
	vlb_scope s = scope_request("scoped-create");
	s.max_granted_pages = 64;
	s.iova_size = 1ULL << 20;
	s.bounce_pool_pages = 8;
	ASSERT_EQ(scope(node, s), 0) << vlb::errno_string(errno);
	EXPECT_EQ(expect_errno(create(node, rng_request("scoped-other"))), EPERM);
	vlb_create c = rng_request("scoped-create");
	c.device_id = 18;  // input, config left empty: refused before it is parsed
	EXPECT_EQ(expect_errno(create(node, c)), EPERM);
	c = rng_request("scoped-create");
	c.max_granted_pages = 128;
	c.iova_size = 1ULL << 21;
	EXPECT_EQ(expect_errno(create(node, c)), EPERM);
	c = rng_request("scoped-create");
	c.bounce_pool_pages = 0;  // the default, 256 pages, is above the scope
	EXPECT_EQ(expect_errno(create(node, c)), EPERM);
	// Bad requests in scope still get their own errno.
	c = rng_request("scoped-create");
	c.num_queues = 0;
	EXPECT_EQ(expect_errno(create(node, c)), EINVAL);
	const vlb::UniqueFd dev(create(node, rng_request("scoped-create")));
	EXPECT_TRUE(dev.valid()) << vlb::errno_string(errno);
	// Nothing of the refused ones exists.
	vlb_reattach r = reattach_request("scoped-other");
	const vlb::KernelNode unscoped;
	EXPECT_EQ(expect_errno(::ioctl(unscoped.fd(), VLB_IOC_REATTACH, &r)), ENOENT);
}

// Another policy's device in its grace window: its in-flight pages are
// what a REATTACH would hand over. Only a file scoped to its name and type
// may take it; a device created through a scoped file never goes to an
// unscoped one.
TEST(Scope, ReattachOnlyOfTheScopedDevice)
{
	const vlb::KernelNode root;
	{
		const vlb::UniqueFd victim(create(root, rng_request("scope-victim")));
		ASSERT_TRUE(victim.valid()) << vlb::errno_string(errno);
	}
	vlb_reattach r = reattach_request("scope-victim");
	{
		const vlb::KernelNode other;
		ASSERT_EQ(scope(other, scope_request("scope-attacker")), 0);
		EXPECT_EQ(expect_errno(::ioctl(other.fd(), VLB_IOC_REATTACH, &r)), EPERM);
		// Not even whether a name exists: the same answer for none.
		vlb_reattach none = reattach_request("scope-nonexistent");
		EXPECT_EQ(expect_errno(::ioctl(other.fd(), VLB_IOC_REATTACH, &none)), EPERM);
	}
	{
		const vlb::KernelNode wrong_type;
		ASSERT_EQ(scope(wrong_type, scope_request("scope-victim", 2)), 0);
		EXPECT_EQ(expect_errno(::ioctl(wrong_type.fd(), VLB_IOC_REATTACH, &r)), EPERM);
	}
	const vlb::KernelNode own;
	ASSERT_EQ(scope(own, scope_request("scope-victim")), 0);
	{
		const vlb::UniqueFd again(::ioctl(own.fd(), VLB_IOC_REATTACH, &r));
		ASSERT_TRUE(again.valid()) << vlb::errno_string(errno);
	}
	// Created through a scoped file: detached now, in its grace window.
	{
		const vlb::KernelNode scoped;
		ASSERT_EQ(scope(scoped, scope_request("scope-made")), 0);
		const vlb::UniqueFd made(create(scoped, rng_request("scope-made")));
		ASSERT_TRUE(made.valid()) << vlb::errno_string(errno);
	}
	r = reattach_request("scope-made");
	EXPECT_EQ(expect_errno(::ioctl(root.fd(), VLB_IOC_REATTACH, &r)), EPERM);
	const vlb::KernelNode successor;
	ASSERT_EQ(scope(successor, scope_request("scope-made")), 0);
	const vlb::UniqueFd taken(::ioctl(successor.fd(), VLB_IOC_REATTACH, &r));
	EXPECT_TRUE(taken.valid()) << vlb::errno_string(errno);
}

class DeviceFd : public ::testing::Test {
protected:
	void SetUp() override
	{
		const std::string name =
			std::string("fd-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
		std::string lower;
		for (const char ch : name)
			lower += ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
		dev_.reset(create(node_, rng_request(lower.substr(0, 31))));
		ASSERT_TRUE(dev_.valid()) << std::generic_category().message(errno);
	}

	// The next control message, within |timeout|.
	bool next_message(vlb_msg &msg, int timeout_ms = 3000) const
	{
		pollfd p{.fd = dev_.get(), .events = POLLIN, .revents = 0};
		if (::poll(&p, 1, timeout_ms) != 1)
			return false;
		return ::read(dev_.get(), &msg, sizeof(msg)) == sizeof(msg);
	}

	vlb::KernelNode node_;
	vlb::UniqueFd dev_;
};

TEST_F(DeviceFd, ControlMessagesAreFixedSizeAndRepliesChecked)
{
	vlb_msg msg{};
	ASSERT_TRUE(next_message(msg)) << "the driver core sends a message on registration";
	EXPECT_NE(msg.flags & VLB_MSG_F_REPLY, 0U);
	EXPECT_EQ(msg.reserved, 0U);

	vlb_reply reply{.seq = msg.seq, .result = 0, .reserved = {0, 0}};
	// Wrong sizes, bad results, reserved bits, unknown seq.
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), &reply, sizeof(reply) - 1))), EINVAL);
	std::array<char, sizeof(reply) * 2> twice{};
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), twice.data(), twice.size()))), EINVAL);
	vlb_reply bad = reply;
	bad.result = 5;
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), &bad, sizeof(bad)))), EINVAL);
	bad = reply;
	bad.reserved[0] = 1;
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), &bad, sizeof(bad)))), EINVAL);
	bad = reply;
	bad.seq += 1000;
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), &bad, sizeof(bad)))), ENOENT);
	const vlb::Mapping no_access = vlb::Mapping::anonymous(4096, PROT_NONE);
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), no_access.data(), sizeof(reply)))),
		  EFAULT);
	// The real reply is taken once; a repeat is unknown.
	EXPECT_EQ(::write(dev_.get(), &reply, sizeof(reply)), static_cast<ssize_t>(sizeof(reply)));
	EXPECT_EQ(expect_errno(static_cast<int>(::write(dev_.get(), &reply, sizeof(reply)))), ENOENT);

	std::array<char, sizeof(vlb_msg) - 1> small{};
	EXPECT_EQ(expect_errno(static_cast<int>(::read(dev_.get(), small.data(), small.size()))), EINVAL);
}

TEST_F(DeviceFd, UnansweredMessageBreaksTheDeviceAndIsCounted)
{
	vlb_msg msg{};
	ASSERT_TRUE(next_message(msg));
	std::this_thread::sleep_for(2500ms);  // msg_timeout_ms=1000
	vlb_stats s{};
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_STATS, &s), 0);
	EXPECT_GE(s.msg_timeouts, 1U);
	EXPECT_EQ(s.broken, 1U);
	pollfd p{.fd = dev_.get(), .events = POLLIN, .revents = 0};
	ASSERT_EQ(::poll(&p, 1, 0), 1);
	EXPECT_NE(p.revents & POLLERR, 0);
}

TEST_F(DeviceFd, EventfdIoctlsValidateEverything)
{
	const vlb::UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
	vlb_vq_eventfd e{.index = 0, .fd = efd.get(), .reserved = 0};
	EXPECT_EQ(::ioctl(dev_.get(), VLB_DEV_SET_VQ_KICK, &e), 0);
	EXPECT_EQ(::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e), 0);
	EXPECT_EQ(::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e), 0) << "replacing is allowed";
	e.fd = -1;
	EXPECT_EQ(::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e), 0) << "-1 detaches";
	e.fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	const vlb::UniqueFd not_eventfd(e.fd);
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_SET_VQ_KICK, &e)), EINVAL);
	e.fd = 9999;
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_SET_VQ_KICK, &e)), EBADF);
	e = {.index = 1, .fd = efd.get(), .reserved = 0};
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_SET_VQ_KICK, &e)), EINVAL);
	e = {.index = 0, .fd = efd.get(), .reserved = 1};
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e)), EINVAL);
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, nullptr)), EFAULT);
	vlb_vq_index v{.index = 3, .reserved = 0};
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_VQ_INTERRUPT, &v)), EINVAL);
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), _IO(VLB_IOCTL_MAGIC, 0x7f))), ENOTTY);
	// Control-node ioctls are not device ioctls.
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_IOC_GET_VERSION, &v)), ENOTTY);
}

// VLB_IOVA_CALL on the IOVA fd: only a call eventfd of this device's
// queues is processed, and every other argument is refused precisely.
TEST_F(DeviceFd, IovaCallTakesOnlyThisDevicesCallEventfds)
{
	const vlb::UniqueFd iova(::ioctl(dev_.get(), VLB_DEV_GET_IOVA_FD));
	ASSERT_TRUE(iova.valid()) << std::generic_category().message(errno);
	const vlb::UniqueFd call(::eventfd(0, EFD_CLOEXEC));
	const vlb::UniqueFd other(::eventfd(0, EFD_CLOEXEC));
	vlb_iova_call c{.fd = call.get(), .reserved = 0};
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, &c)), ENOENT) << "no call eventfd set yet";
	vlb_vq_eventfd e{.index = 0, .fd = call.get(), .reserved = 0};
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e), 0);
	vlb_stats before{};
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_STATS, &before), 0);
	EXPECT_EQ(::ioctl(iova.get(), VLB_IOVA_CALL, &c), 0);
	vlb_stats after{};
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_STATS, &after), 0);
	EXPECT_EQ(after.calls_in_device, before.calls_in_device + 1);
	EXPECT_EQ(after.calls, before.calls + 1);

	c.fd = other.get();
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, &c)), ENOENT) << "another eventfd";
	const vlb::UniqueFd not_eventfd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	c.fd = not_eventfd.get();
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, &c)), EINVAL);
	c.fd = 9999;
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, &c)), EBADF);
	c = {.fd = call.get(), .reserved = 1};
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, &c)), EINVAL);
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, nullptr)), EFAULT);
	// The control fd is not the IOVA fd.
	c.reserved = 0;
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_IOVA_CALL, &c)), ENOTTY);
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_STATS, &after), 0);
	EXPECT_EQ(after.calls_in_device, before.calls_in_device + 1) << "a refused call counted";
}

// An IOVA fd outlives its device: its calls then answer ENODEV.
TEST(IovaFd, CallsAfterRemovalAreENODEV)
{
	const vlb::KernelNode node;
	vlb::UniqueFd iova;
	const vlb::UniqueFd call(::eventfd(0, EFD_CLOEXEC));
	{
		const vlb::UniqueFd dev(create(node, rng_request("call-after-removal")));
		ASSERT_TRUE(dev.valid()) << std::generic_category().message(errno);
		iova.reset(::ioctl(dev.get(), VLB_DEV_GET_IOVA_FD));
		ASSERT_TRUE(iova.valid()) << std::generic_category().message(errno);
		vlb_vq_eventfd e{.index = 0, .fd = call.get(), .reserved = 0};
		ASSERT_EQ(::ioctl(dev.get(), VLB_DEV_SET_VQ_CALL, &e), 0);
		vlb_iova_call c{.fd = call.get(), .reserved = 0};
		EXPECT_EQ(::ioctl(iova.get(), VLB_IOVA_CALL, &c), 0);
	}
	std::this_thread::sleep_for(4 * kGracePeriod);
	vlb_reattach r = reattach_request("call-after-removal");
	ASSERT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), ENOENT) << "the device is not gone";
	vlb_iova_call c{.fd = call.get(), .reserved = 0};
	EXPECT_EQ(expect_errno(::ioctl(iova.get(), VLB_IOVA_CALL, &c)), ENODEV);
}

// The same, run after the case loaded virtio_rng, so the driver probes.
using DeviceFdWithDriver = DeviceFd;

// What a reattaching adapter reads: before the driver finished, the device
// as created and no queue; once the probe went through, exactly what the
// control messages said, and a consistent in-flight record.
TEST_F(DeviceFdWithDriver, StateFollowsTheDriversProgress)
{
	vlb_dev_state st{};
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_STATE, &st), 0) << std::generic_category().message(errno);
	EXPECT_EQ(st.params.device_id, 4U);
	EXPECT_EQ(st.params.num_queues, 1U);
	EXPECT_EQ(st.params.queue_size_max, 64U);
	EXPECT_EQ(st.params.device_features, 1ULL << 32);
	EXPECT_EQ(st.params.bounce_threshold, 4096U) << "defaults are filled in";
	EXPECT_EQ(std::string(st.params.name), "fd-statefollowsthedriversprogre");
	EXPECT_EQ(st.status & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	EXPECT_EQ(st.driver_features, 0U);
	EXPECT_EQ(st.broken, 0);
	auto vs = std::make_unique<vlb_vq_state>();
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_VQ_STATE, vs.get()), 0);
	EXPECT_EQ(vs->flags, 0U);
	EXPECT_EQ(vs->num, 0U);
	EXPECT_EQ(vs->inflight_num, 0U);

	// Answer the probe: features, the queue, DRIVER_OK.
	std::uint64_t features = 0;
	std::optional<vlb_msg> enable;
	bool driver_ok = false;
	for (vlb_msg msg{}; !driver_ok && next_message(msg);) {
		if (msg.type == VLB_MSG_SET_FEATURES)
			features = msg.u.features.features;
		if (msg.type == VLB_MSG_VQ_ENABLE)
			enable = msg;
		if (msg.type == VLB_MSG_SET_STATUS && (msg.u.status.status & VIRTIO_CONFIG_S_DRIVER_OK))
			driver_ok = true;
		const vlb_reply reply{.seq = msg.seq, .result = 0, .reserved = {0, 0}};
		ASSERT_EQ(::write(dev_.get(), &reply, sizeof(reply)), static_cast<ssize_t>(sizeof(reply)));
	}
	ASSERT_TRUE(driver_ok && enable) << "the rng driver did not finish its probe";
	// The status is stored after the reply is taken: allow it a moment.
	for (int i = 0; i < 100 && !(st.status & VIRTIO_CONFIG_S_DRIVER_OK); i++) {
		std::this_thread::sleep_for(10ms);
		ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_STATE, &st), 0);
	}
	EXPECT_NE(st.status & VIRTIO_CONFIG_S_DRIVER_OK, 0);
	EXPECT_EQ(st.driver_features, features);
	EXPECT_EQ(st.driver_features & (1ULL << 33), 0U) << "ACCESS_PLATFORM is the kernel's own";

	vs = std::make_unique<vlb_vq_state>();
	ASSERT_EQ(::ioctl(dev_.get(), VLB_DEV_GET_VQ_STATE, vs.get()), 0);
	EXPECT_EQ(vs->flags, VLB_VQ_STATE_F_READY);
	EXPECT_EQ(vs->num, enable->u.vq.num);
	EXPECT_EQ(vs->desc, enable->u.vq.desc);
	EXPECT_EQ(vs->avail, enable->u.vq.avail);
	EXPECT_EQ(vs->used, enable->u.vq.used);
	// hwrng may have a read in flight: whatever it is, it is consistent.
	EXPECT_EQ(static_cast<std::uint16_t>(vs->last_avail - vs->used_idx), vs->inflight_num);
	const std::span inflight(vs->inflight, vs->inflight_num);
	for (const auto &r : inflight)
		EXPECT_LT(r.head, vs->num);

	vs->index = 1;
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_GET_VQ_STATE, vs.get())), EINVAL);
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_GET_VQ_STATE, nullptr)), EFAULT);
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_GET_STATE, nullptr)), EFAULT);
}

// Sets a module parameter for the life of a test (sysfs, as root).
class ModuleParam {
public:
	ModuleParam(std::string name, const std::string &value)
		: path_("/sys/module/virtio_loopback/parameters/" + std::move(name))
	{
		old_ = read();
		write(value);
	}
	~ModuleParam() { write(old_); }
	ModuleParam(const ModuleParam &) = delete;
	ModuleParam &operator=(const ModuleParam &) = delete;
	ModuleParam(ModuleParam &&) = delete;
	ModuleParam &operator=(ModuleParam &&) = delete;

private:
	[[nodiscard]] std::string read() const
	{
		const vlb::UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
		std::array<char, 32> b{};
		const ssize_t n = fd ? ::read(fd.get(), b.data(), b.size() - 1) : -1;
		EXPECT_GT(n, 0) << path_;
		return n > 0 ? std::string(b.data(), static_cast<std::size_t>(n)) : "0";
	}
	void write(const std::string &v) const
	{
		const vlb::UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CLOEXEC));
		EXPECT_EQ(fd ? ::write(fd.get(), v.data(), v.size()) : -1, static_cast<ssize_t>(v.size()))
			<< path_;
	}
	std::string path_;
	std::string old_;
};

// Once a removal has started, its name is neither reattached (EIO: the
// adapter waits) nor created again (EEXIST) until the device is gone; a
// CREATE used to reach device_add() while the old parent device still
// existed (a sysfs duplicate and a stack dump), and a REATTACH in the
// window bound a new fd to a device being freed. test_remove_delay_ms
// holds every removal open for 2 s at its start.
TEST(Removal, ANameBeingRemovedIsNeitherReattachedNorCreatedAgain)
{
	const vlb::KernelNode node;
	const vlb_reattach r = reattach_request("being-removed");
	const ModuleParam delay("test_remove_delay_ms", "2000");
	{
		const vlb::UniqueFd dev(create(node, rng_request("being-removed")));
		ASSERT_TRUE(dev.valid());
	}
	std::this_thread::sleep_for(kGracePeriod + 500ms);  // inside the 2 s
	EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), EIO);
	EXPECT_EQ(expect_errno(create(node, rng_request("being-removed"))), EEXIST);
	int err = 0;
	for (int i = 0; i < 100 && (err = expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r))) == EIO; i++)
		std::this_thread::sleep_for(100ms);
	EXPECT_EQ(err, ENOENT) << "the removal did not end";
	const vlb::UniqueFd again(create(node, rng_request("being-removed")));
	EXPECT_TRUE(again.valid()) << vlb::errno_string(errno);
}

// A broken device cannot be resumed and its driver must not wait on it:
// the kernel removes it without waiting for its fd to close. The fd then
// answers ENODEV for everything but what the device was (state, counters),
// and the name is free for a new device while the old fd is still open.
TEST(Reattach, ABrokenDeviceIsRemovedWhileItsFdIsStillOpen)
{
	const vlb::KernelNode node;
	const vlb_reattach r = reattach_request("reattach-broken");
	const vlb::UniqueFd dev(create(node, rng_request("reattach-broken")));
	ASSERT_TRUE(dev.valid());
	pollfd p{.fd = dev.get(), .events = POLLIN, .revents = 0};
	ASSERT_EQ(::poll(&p, 1, 3000), 1);
	vlb_msg msg{};
	ASSERT_EQ(::read(dev.get(), &msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
	// Unanswered: msg_timeout_ms=1000 breaks it, removal follows at once.
	std::this_thread::sleep_for(2500ms);

	vlb_dev_state st{};
	ASSERT_EQ(::ioctl(dev.get(), VLB_DEV_GET_STATE, &st), 0);
	EXPECT_EQ(st.broken, 1);
	vlb_stats stats{};
	ASSERT_EQ(::ioctl(dev.get(), VLB_DEV_GET_STATS, &stats), 0);
	EXPECT_EQ(stats.msg_timeouts, 1U);
	EXPECT_EQ(expect_errno(static_cast<int>(::read(dev.get(), &msg, sizeof(msg)))), ENODEV);
	p.events = POLLIN;
	ASSERT_EQ(::poll(&p, 1, 0), 1);
	EXPECT_NE(p.revents & POLLHUP, 0);
	const vlb_vq_index v{};
	EXPECT_EQ(expect_errno(::ioctl(dev.get(), VLB_DEV_VQ_INTERRUPT, &v)), ENODEV);
	EXPECT_EQ(expect_errno(::ioctl(dev.get(), VLB_DEV_GET_IOVA_FD)), ENODEV);
	const vlb::UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
	const vlb_vq_eventfd e{.index = 0, .fd = efd.get(), .reserved = 0};
	EXPECT_EQ(expect_errno(::ioctl(dev.get(), VLB_DEV_SET_VQ_CALL, &e)), ENODEV);
	EXPECT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), ENOENT);
	const vlb::UniqueFd again(create(node, rng_request("reattach-broken")));
	EXPECT_TRUE(again.valid()) << vlb::errno_string(errno);
}

TEST_F(DeviceFd, ConfigUpdateStaysInsideTheConfigSpace)
{
	vlb_config_update u{};
	u.offset = 0;
	u.len = 1;  // an rng device has no config space
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_CONFIG_UPDATE, &u)), EINVAL);
	EXPECT_EQ(expect_errno(::ioctl(dev_.get(), VLB_DEV_CONFIG_UPDATE, nullptr)), EFAULT);
}

TEST_F(DeviceFd, IovaFdMapsSharedNonExecutableWithinTheDomainOnly)
{
	const vlb::UniqueFd iova(::ioctl(dev_.get(), VLB_DEV_GET_IOVA_FD));
	ASSERT_TRUE(iova.valid()) << std::generic_category().message(errno);
	EXPECT_EQ(::fcntl(iova.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	const std::size_t size = 1U << 20;
	auto try_map = [&](std::size_t len, int prot, int flags, off_t off) {
		void *p = ::mmap(nullptr, len, prot, flags, iova.get(), off);
		const int err = p == MAP_FAILED ? errno : 0;
		if (p != MAP_FAILED)
			::munmap(p, len);
		return err;
	};
	EXPECT_EQ(try_map(size, PROT_READ | PROT_WRITE, MAP_SHARED, 0), 0);
	EXPECT_EQ(try_map(size, PROT_READ, MAP_PRIVATE, 0), EINVAL);
	EXPECT_EQ(try_map(size, PROT_READ | PROT_EXEC, MAP_SHARED, 0), EPERM);
	EXPECT_EQ(try_map(size + 4096, PROT_READ, MAP_SHARED, 0), EINVAL);
	EXPECT_EQ(try_map(4096, PROT_READ, MAP_SHARED, static_cast<off_t>(size)), EINVAL);
	// Mapped read-write, still nothing is reachable: no request in flight.
	const vlb::Mapping m = vlb::Mapping::map(size, PROT_READ, MAP_SHARED, iova.get(), 0, "iova");
	unsigned char vec = 0;
	EXPECT_EQ(::mincore(m.data(), 4096, &vec), 0);
	EXPECT_EQ(vec & 1, 0) << "no page may be present before a grant";
	// It cannot be made executable later either.
	EXPECT_EQ(::mprotect(m.data(), 4096, PROT_READ | PROT_EXEC), -1);
	EXPECT_EQ(errno, EACCES);
	// A forked child does not inherit the mapping (VM_DONTCOPY): its
	// access to the address is SIGSEGV, not the parent's view.
	const pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		(void)*static_cast<volatile const unsigned char *>(m.data());
		::_exit(0);
	}
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << "status " << status;
}

// Touches every page of a fresh MAP_SHARED mapping of |iova_fd| |rounds|
// times; returns how many touches got SIGBUS. Runs in a forked child (the
// mapping is VM_DONTCOPY, so the child maps the fd itself).
sigjmp_buf touch_env;  // NOLINT: a signal handler's only way back

void on_touch_sigbus(int /*sig*/) { siglongjmp(touch_env, 1); }

int sigbus_touches(int iova_fd, std::size_t bytes, int rounds)
{
	void *p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, iova_fd, 0);
	if (p == MAP_FAILED)
		return -1;
	struct sigaction sa{};
	sa.sa_handler = on_touch_sigbus;
	::sigaction(SIGBUS, &sa, nullptr);
	int faults = 0;
	// Nothing changes between sigsetjmp() and the fault but the fault
	// itself, so the counters need not be volatile.
	for (int r = 0; r < rounds; ++r) {
		for (std::size_t off = 0; off < bytes; off += 4096) {
			if (sigsetjmp(touch_env, 1) == 0)
				(void)static_cast<volatile const unsigned char *>(p)[off];
			else
				++faults;
		}
	}
	return faults;
}

// The IOVA domain outlives its device while a device process keeps the fd
// (a hostile one keeps it on purpose). Every refused fault is counted; the
// counters live in the device, so once it is freed a fault must count
// nothing. Under slub_debug=FZPU a write to the freed device is caught as
// "Poison overwritten" when the next devices reuse its memory, and the
// harness fails the case on that splat.
TEST(IovaFd, FaultsAfterRemovalTouchNothingOfTheFreedDevice)
{
	const vlb::KernelNode node;
	constexpr std::size_t kBytes = 1U << 20;
	vlb::UniqueFd iova;
	{
		const vlb::UniqueFd dev(create(node, rng_request("after-removal")));
		ASSERT_TRUE(dev.valid()) << std::generic_category().message(errno);
		iova.reset(::ioctl(dev.get(), VLB_DEV_GET_IOVA_FD));
		ASSERT_TRUE(iova.valid()) << std::generic_category().message(errno);
	}
	std::this_thread::sleep_for(4 * kGracePeriod);
	vlb_reattach r = reattach_request("after-removal");
	ASSERT_EQ(expect_errno(::ioctl(node.fd(), VLB_IOC_REATTACH, &r)), ENOENT) << "the device is not gone";

	constexpr int kRounds = 16;
	const pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		::_exit(sigbus_touches(iova.get(), kBytes, kRounds) == kRounds * 256 ? 0 : 1);
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		<< "every touch of a removed device's IOVA space must be SIGBUS (status " << status << ")";

	// Devices allocated now may take the freed device's memory: SLUB
	// checks its poison then.
	for (int i = 0; i < 8; ++i) {
		const vlb::UniqueFd dev(create(node, rng_request("reuse-" + std::to_string(i))));
		ASSERT_TRUE(dev.valid()) << std::generic_category().message(errno);
	}
}

} // namespace
