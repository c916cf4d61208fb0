// SPDX-License-Identifier: Apache-2.0
// vlb-dev-input and vlb-dev-console driven through UserDriver.
#include <gtest/gtest.h>
#include <endian.h>
#include <linux/input.h>
#include <linux/virtio_console.h>
#include <linux/virtio_input.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <system_error>
#include <thread>

#include "device_process.h"
#include "vlb/vu/driver.h"

namespace vlb::test {
namespace {

using vu::DriverBuffer;
using vu::UserDriver;

std::string write_temp(const std::string &name, const std::string &text)
{
	std::string path = "/tmp/vlb-host-" + std::to_string(::getpid()) + "-" + name;
	std::ofstream(path) << text;
	return path;
}

UserDriver::Options two_queues()
{
	UserDriver::Options o;
	o.queues = 2;
	o.queue_size = 64;
	return o;
}

virtio_input_config read_config(UserDriver &d, std::uint8_t select, std::uint8_t subsel)
{
	const std::uint8_t sel[] = {select, subsel};
	d.frontend().set_config(0, sel);
	const auto raw = d.frontend().get_config(0, sizeof(virtio_input_config));
	virtio_input_config c{};
	std::memcpy(&c, raw.data(), sizeof(c));
	return c;
}

// Posts |n| event buffers on the event queue.
std::vector<DriverBuffer> post_event_buffers(UserDriver &d, int n)
{
	std::vector<DriverBuffer> bufs;
	for (int i = 0; i < n; i++) {
		bufs.push_back(d.alloc(sizeof(virtio_input_event), 8));
		const DriverBuffer w[] = {bufs.back()};
		EXPECT_TRUE(d.submit(0, {}, w));
	}
	return bufs;
}

// Collects event-queue completions until |want| came or about |ms| passed.
std::vector<vu::Completion> wait_events(UserDriver &d, std::size_t want, int ms)
{
	std::vector<vu::Completion> done;
	for (int i = 0; i < ms / 100 && done.size() < want; i++) {
		auto more = d.wait(0, std::chrono::milliseconds(100));
		done.insert(done.end(), more.begin(), more.end());
	}
	return done;
}

virtio_input_event event_of(const UserDriver &d, const std::vector<DriverBuffer> &bufs, const vu::Completion &c)
{
	virtio_input_event ev{};
	std::memcpy(&ev, d.memory(bufs.at(c.head).offset, sizeof(ev)).data(), sizeof(ev));
	return ev;
}

TEST(InputDevice, ScriptedEventsAndConfig)
{
	const auto script = write_temp("input.script",
				       "# a key press and release\n"
				       "EV_KEY KEY_A 1\nEV_SYN SYN_REPORT 0\n"
				       "EV_KEY KEY_A 0\nEV_SYN SYN_REPORT 0\n"
				       "EV_ABS ABS_X 300\nEV_SYN SYN_REPORT 0\n");
	DeviceProcess dev({VLB_DEV_INPUT, "--script", script, "--name", "scripted-kbd"});
	UserDriver d(dev.take_socket(), two_queues());

	auto name = read_config(d, VIRTIO_INPUT_CFG_ID_NAME, 0);
	EXPECT_EQ(std::string(name.u.string, name.size), "scripted-kbd");
	auto keys = read_config(d, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
	ASSERT_GT(keys.size, KEY_A / 8);
	EXPECT_TRUE(keys.u.bitmap[KEY_A / 8] & (1U << (KEY_A % 8)));
	auto rel = read_config(d, VIRTIO_INPUT_CFG_EV_BITS, EV_REL);
	EXPECT_EQ(rel.size, 0);
	auto abs = read_config(d, VIRTIO_INPUT_CFG_ABS_INFO, ABS_X);
	EXPECT_EQ(abs.size, sizeof(virtio_input_absinfo));
	EXPECT_EQ(abs.u.abs.max, 65535U);

	const auto bufs = post_event_buffers(d, 8);
	const auto done = wait_events(d, 6, 5000);
	ASSERT_EQ(done.size(), 6U);
	struct Want {
		std::uint16_t type, code;
		std::int32_t value;
	};
	const std::array<Want, 6> want{{{EV_KEY, KEY_A, 1}, {EV_SYN, SYN_REPORT, 0}, {EV_KEY, KEY_A, 0},
					{EV_SYN, SYN_REPORT, 0}, {EV_ABS, ABS_X, 300}, {EV_SYN, SYN_REPORT, 0}}};
	for (std::size_t i = 0; i < 6; i++) {
		EXPECT_EQ(done[i].len, sizeof(virtio_input_event));
		const auto ev = event_of(d, bufs, done[i]);
		EXPECT_EQ(ev.type, want.at(i).type) << i;
		EXPECT_EQ(ev.code, want.at(i).code) << i;
		EXPECT_EQ(static_cast<std::int32_t>(ev.value), want.at(i).value) << i;
	}
	::unlink(script.c_str());
}

// A looping script that ends with a pause plays again once the pause is up.
TEST(InputDevice, LoopingScriptRepeats)
{
	const auto script = write_temp("repeat.script", "EV_KEY KEY_B 1\nEV_SYN SYN_REPORT 0\nsleep 20\n");
	DeviceProcess dev({VLB_DEV_INPUT, "--script", script, "--loop"});
	UserDriver d(dev.take_socket(), two_queues());
	const auto bufs = post_event_buffers(d, 8);
	const auto done = wait_events(d, 6, 10000);
	ASSERT_GE(done.size(), 6U) << "three rounds of a 2-event script";
	for (std::size_t i = 0; i < 6; i++)
		EXPECT_EQ(event_of(d, bufs, done[i]).type, i % 2 == 0 ? EV_KEY : EV_SYN) << i;
	::unlink(script.c_str());
}

TEST(InputDevice, BadScriptsNameTheLine)
{
	const auto script = write_temp("bad.script", "EV_KEY KEY_A 1\nEV_KEY NOT_A_KEY 1\n");
	const auto log = write_temp("bad.log", "");
	DeviceProcess dev({VLB_DEV_INPUT, "--script", script}, log);
	EXPECT_EQ(dev.wait(), 2);
	EXPECT_NE(read_file(log).find(script + ":2: unknown event code 'NOT_A_KEY'"), std::string::npos)
		<< read_file(log);
	const auto looping = write_temp("loop.script", "EV_KEY KEY_A 1\n");
	DeviceProcess loop({VLB_DEV_INPUT, "--script", looping, "--loop"}, log);
	EXPECT_EQ(loop.wait(), 2);
	::unlink(script.c_str());
	::unlink(looping.c_str());
	::unlink(log.c_str());
}

TEST(ConsoleDevice, BytesFlowBothWays)
{
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	UniqueFd mine(sv[0]);
	UniqueFd theirs(sv[1]);
	DeviceProcess dev({VLB_DEV_CONSOLE, "--port-fd", std::to_string(theirs.get())}, {}, {theirs.get()});
	theirs.reset();
	UserDriver d(dev.take_socket(), two_queues());

	// Host to guest: posted receive buffers fill with what the port sends.
	auto rx = d.alloc(64);
	const DriverBuffer w[] = {rx};
	ASSERT_TRUE(d.submit(0, {}, w));
	ASSERT_EQ(::write(mine.get(), "hello", 5), 5);
	auto got = d.wait(0, std::chrono::seconds(5));
	ASSERT_EQ(got.size(), 1U);
	ASSERT_EQ(got[0].len, 5U);
	EXPECT_EQ(std::memcmp(d.memory(rx.offset, 5).data(), "hello", 5), 0);

	// Guest to host: transmitted bytes come out of the port.
	auto tx = d.alloc(16);
	std::memcpy(d.memory(tx.offset, 6).data(), "world\n", 6);
	const DriverBuffer r[] = {DriverBuffer{tx.offset, 6}};
	ASSERT_TRUE(d.submit(1, r, {}));
	ASSERT_EQ(d.wait(1, std::chrono::seconds(5)).size(), 1U);
	pollfd p{mine.get(), POLLIN, 0};
	ASSERT_EQ(::poll(&p, 1, 5000), 1);
	char out[16] = {};
	ASSERT_EQ(::read(mine.get(), out, sizeof(out)), 6);
	EXPECT_EQ(std::string(out, 6), "world\n");
}

// Both ends of a socketpair for a console port.
std::array<int, 2> port_ends()
{
	std::array<int, 2> sv{};
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv.data()) != 0)
		throw std::system_error(errno, std::generic_category(), "socketpair");
	return sv;
}

UserDriver::Options multiport_options(std::uint64_t memory_bytes)
{
	UserDriver::Options o;
	o.queues = 4;
	o.queue_size = 64;
	o.memory_bytes = memory_bytes;
	o.wanted_features = std::uint64_t{1} << VIRTIO_CONSOLE_F_MULTIPORT;
	return o;
}

// vlb-dev-console whose port 0 is named |name| (MULTIPORT), connected to
// a driver that took MULTIPORT; |port| is the host side of the port.
struct NamedPortConsole {
	explicit NamedPortConsole(const std::string &name, std::uint64_t memory_bytes = 64ULL << 20)
		: NamedPortConsole(name, memory_bytes, port_ends())
	{
	}

	UniqueFd port;
	UniqueFd device_end;  // closed here once the device has it
	DeviceProcess dev;
	UserDriver driver;

private:
	NamedPortConsole(const std::string &name, std::uint64_t memory_bytes, std::array<int, 2> ends)
		: port(ends[0]), device_end(ends[1]),
		  dev({VLB_DEV_CONSOLE, "--port-fd", std::to_string(ends[1]), "--port-name", name}, {}, {ends[1]}),
		  driver(dev.take_socket(), multiport_options(memory_bytes))
	{
		device_end.reset();
	}
};

// The control message the device put in the driver-bound control buffer.
struct Control {
	std::uint32_t id;
	std::uint16_t event, value;
	std::string extra; // cppcheck-suppress unusedStructMember ; read by the EXPECTs
};

// Posts |n| driver-bound control buffers and returns the |n| messages the
// device put in them, in the order it completed them.
std::vector<Control> controls(UserDriver &d, int n)
{
	std::map<std::uint16_t, DriverBuffer> by_head;
	for (int i = 0; i < n; i++) {
		const auto buf = d.alloc(256, 8);
		const DriverBuffer w[] = {buf};
		const auto head = d.submit(2, {}, w);
		EXPECT_TRUE(head.has_value());
		if (head)
			by_head[*head] = buf;
	}
	std::vector<Control> out;
	for (int tries = 0; static_cast<int>(out.size()) < n && tries < 50; tries++) {
		for (const auto &c : d.wait(2, std::chrono::milliseconds(100))) {
			const auto &buf = by_head.at(c.head);
			virtio_console_control m{};
			if (c.len < sizeof(m))
				continue;
			std::memcpy(&m, d.memory(buf.offset, sizeof(m)).data(), sizeof(m));
			const auto extra = d.memory(buf.offset + sizeof(m), c.len - sizeof(m));
			out.push_back({le32toh(m.id), le16toh(m.event), le16toh(m.value),
				       std::string(extra.begin(), extra.end())});
		}
	}
	return out;
}

// Puts a device-bound control message on the control queue.
void submit_control(UserDriver &d, std::uint16_t event, std::uint16_t value)
{
	const virtio_console_control m{htole32(0), htole16(event), htole16(value)};
	const auto buf = d.alloc(sizeof(m), 8);
	std::memcpy(d.memory(buf.offset, sizeof(m)).data(), &m, sizeof(m));
	const DriverBuffer r[] = {buf};
	ASSERT_TRUE(d.submit(3, r, {}));
}

void send_control(UserDriver &d, std::uint16_t event, std::uint16_t value)
{
	submit_control(d, event, value);
	ASSERT_EQ(d.wait(3, std::chrono::seconds(5)).size(), 1U);
}

// --port-name: MULTIPORT, and the virtio-console control handshake that
// makes port 0 a named generic port; input waits until the guest opens it.
TEST(ConsoleDevice, NamedPortIsAnnouncedOverTheControlQueues)
{
	NamedPortConsole console("org.vlb.test0");
	UniqueFd &mine = console.port;
	UserDriver &d = console.driver;
	ASSERT_NE(d.features() & (std::uint64_t{1} << VIRTIO_CONSOLE_F_MULTIPORT), 0U);
	const auto raw = d.frontend().get_config(0, sizeof(virtio_console_config));
	virtio_console_config cfg{};
	std::memcpy(&cfg, raw.data(), sizeof(cfg));
	EXPECT_EQ(le32toh(cfg.max_nr_ports), 1U);

	// Input for a port the guest has not opened is held, not lost.
	auto rx = d.alloc(64);
	const DriverBuffer w[] = {rx};
	ASSERT_TRUE(d.submit(0, {}, w));
	ASSERT_EQ(::write(mine.get(), "early", 5), 5);

	send_control(d, VIRTIO_CONSOLE_DEVICE_READY, 1);
	auto c = controls(d, 1);
	ASSERT_EQ(c.size(), 1U);
	EXPECT_EQ(c[0].event, VIRTIO_CONSOLE_PORT_ADD);
	EXPECT_EQ(c[0].id, 0U);

	send_control(d, VIRTIO_CONSOLE_PORT_READY, 1);
	c = controls(d, 2);
	ASSERT_EQ(c.size(), 2U);
	EXPECT_EQ(c[0].event, VIRTIO_CONSOLE_PORT_NAME);
	EXPECT_EQ(c[0].extra, "org.vlb.test0");
	EXPECT_EQ(c[1].event, VIRTIO_CONSOLE_PORT_OPEN) << "the host side is connected";
	EXPECT_EQ(c[1].value, 1U);
	EXPECT_TRUE(d.poll(0).empty()) << "input delivered to a port the guest has not opened";

	send_control(d, VIRTIO_CONSOLE_PORT_OPEN, 1);
	const auto got = d.wait(0, std::chrono::seconds(5));
	ASSERT_EQ(got.size(), 1U);
	ASSERT_EQ(got[0].len, 5U);
	EXPECT_EQ(std::memcmp(d.memory(rx.offset, 5).data(), "early", 5), 0);

	// The host side leaving is announced.
	mine.reset();
	c = controls(d, 1);
	ASSERT_EQ(c.size(), 1U);
	EXPECT_EQ(c[0].event, VIRTIO_CONSOLE_PORT_OPEN);
	EXPECT_EQ(c[0].value, 0U);
}

// The guest's driver busy-waits for each control message it sends,
// preemption off, holding its control-send lock. A reply that reached it
// before the message was completed made it send the next message and spin
// on that lock: with both CPUs of a 2-CPU guest spinning, the device
// process never ran again (a lockup in the console's probe). So the
// device's completion of a message is in the used ring by the time its
// reply is. Polled in a busy loop, as the driver does; a device that
// replies first is caught in the window between its two publications.
TEST(ConsoleDevice, ControlMessagesCompleteBeforeTheirReplies)
{
	NamedPortConsole console("org.vlb.test0");
	UserDriver &d = console.driver;

	// DEVICE_READY is answered by PORT_ADD, PORT_READY by PORT_NAME and
	// PORT_OPEN.
	const std::pair<std::uint16_t, std::size_t> steps[] = {{VIRTIO_CONSOLE_DEVICE_READY, 1},
								{VIRTIO_CONSOLE_PORT_READY, 2}};
	for (const auto &[event, replies] : steps) {
		for (std::size_t i = 0; i < replies; i++) {
			const DriverBuffer w[] = {d.alloc(256, 8)};
			ASSERT_TRUE(d.submit(2, {}, w));
		}
		submit_control(d, event, 1);
		const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
		std::size_t got = 0;
		while (got < replies && std::chrono::steady_clock::now() < deadline) {
			const std::size_t seen = d.poll(2).size();
			if (seen == 0)
				continue;
			if (got == 0) {
				ASSERT_EQ(d.poll(3).size(), 1U) << "event " << event << ": a reply reached the driver "
								   "before the message was completed";
			}
			got += seen;
		}
		ASSERT_EQ(got, replies) << "event " << event;
	}
}

// A port peer that does not read holds the guest's output (its transmit
// buffers wait), never the device: control messages are still answered at
// once, which matters because the guest's driver spins until they are.
// Once the peer reads, every byte arrives, in order.
TEST(ConsoleDevice, SlowPortPeerHoldsOutputNotTheDevice)
{
	NamedPortConsole console("org.vlb.slow", 16ULL << 20);
	UniqueFd &mine = console.port;
	UserDriver &d = console.driver;
	int small = 4096;
	ASSERT_EQ(::setsockopt(mine.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);

	// 48 transmit buffers of 8 KiB, more than the socket (about 200 KiB)
	// and the device's buffer (64 KiB) hold together.
	std::string sent;
	int submitted = 0;
	for (int i = 0; i < 48; i++) {
		const auto buf = d.alloc(8192);
		auto m = d.memory(buf.offset, 8192);
		for (std::size_t k = 0; k < m.size(); k++)
			m[k] = static_cast<std::uint8_t>('a' + (i + static_cast<int>(k / 1000)) % 26);
		sent.append(m.begin(), m.end());
		const DriverBuffer r[] = {buf};
		ASSERT_TRUE(d.submit(1, r, {}).has_value());
		submitted++;
	}
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	std::size_t done = d.poll(1).size();
	EXPECT_LT(done, static_cast<std::size_t>(submitted)) << "the device took all output with nobody reading";

	const auto before = std::chrono::steady_clock::now();
	send_control(d, VIRTIO_CONSOLE_DEVICE_READY, 1);
	EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1))
		<< "a control message waited for the port's peer";
	ASSERT_EQ(controls(d, 1).size(), 1U) << "no PORT_ADD while output was held";

	std::string got;
	std::array<char, 65536> chunk{};
	for (int tries = 0; got.size() < sent.size() && tries < 500; tries++) {
		done += d.poll(1).size();
		pollfd p{mine.get(), POLLIN, 0};
		if (::poll(&p, 1, 10) == 1) {
			const ssize_t n = ::read(mine.get(), chunk.data(), chunk.size());
			ASSERT_GT(n, 0);
			got.append(chunk.data(), static_cast<std::size_t>(n));
		}
	}
	for (int tries = 0; done < static_cast<std::size_t>(submitted) && tries < 100; tries++)
		done += d.wait(1, std::chrono::milliseconds(20)).size();
	EXPECT_EQ(done, static_cast<std::size_t>(submitted));
	EXPECT_EQ(got.size(), sent.size());
	EXPECT_TRUE(got == sent) << "output reordered or corrupted";
}

// A driver that repeats DEVICE_READY without posting control buffers gets
// a bounded backlog of answers, not an ever-growing one.
TEST(ConsoleDevice, ControlBacklogIsBounded)
{
	const auto log = write_temp("console-backlog.log", "");
	DeviceProcess dev({VLB_DEV_CONSOLE, "--stdio", "--port-name", "org.vlb.backlog"}, log);
	UserDriver::Options o;
	o.queues = 4;
	o.queue_size = 64;
	o.wanted_features = std::uint64_t{1} << VIRTIO_CONSOLE_F_MULTIPORT;
	UserDriver d(dev.take_socket(), o);
	for (int i = 0; i < 40; i++)
		send_control(d, VIRTIO_CONSOLE_DEVICE_READY, 1);
	const auto c = controls(d, 20);
	EXPECT_EQ(c.size(), 16U) << "answers kept for a driver that posted no buffers";
	for (const auto &m : c)
		EXPECT_EQ(m.event, VIRTIO_CONSOLE_PORT_ADD);
	// The driver chose how many were dropped (24): the log says so once.
	const std::string text = read_file(log);
	std::size_t drops = 0;
	for (auto at = text.find("dropped"); at != std::string::npos; at = text.find("dropped", at + 1))
		drops++;
	EXPECT_EQ(drops, 1U) << text;
	::unlink(log.c_str());
}

TEST(ConsoleDevice, PortNameIsChecked)
{
	const std::string log = write_temp("console-name.log", "");
	DeviceProcess bad({VLB_DEV_CONSOLE, "--stdio", "--port-name", "bad name/"}, log);
	EXPECT_EQ(bad.wait(), 2);
	::unlink(log.c_str());
}

} // namespace
} // namespace vlb::test
