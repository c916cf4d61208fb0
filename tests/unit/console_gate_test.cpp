// SPDX-License-Identifier: Apache-2.0
// The kernel's virtio_console receive gate (kmod/vlb_console_gate.c), built
// for user space: the message sequences a device and the stock driver can
// produce, and whether a port's receive completions may go at each point.
#include "vlb_console_gate.h"

#include <array>
#include <cstdint>

#include <gtest/gtest.h>

namespace {

constexpr std::uint16_t kPortAdd = 1;
constexpr std::uint16_t kPortRemove = 2;
constexpr std::uint16_t kPortReady = 3;
constexpr std::uint16_t kPortOpen = 6;

// struct virtio_console_control, little endian.
std::array<std::uint8_t, VLB_CONSOLE_CONTROL_LEN> msg(std::uint32_t id, std::uint16_t event,
							std::uint16_t value = 0)
{
	return {static_cast<std::uint8_t>(id),	    static_cast<std::uint8_t>(id >> 8),
		static_cast<std::uint8_t>(id >> 16),  static_cast<std::uint8_t>(id >> 24),
		static_cast<std::uint8_t>(event),     static_cast<std::uint8_t>(event >> 8),
		static_cast<std::uint8_t>(value),     static_cast<std::uint8_t>(value >> 8)};
}

class ConsoleGate : public ::testing::Test {
protected:
	void SetUp() override { vlb_console_gate_init(&g_, true, 4); }

	int device(std::uint32_t id, std::uint16_t event) { return vlb_console_gate_device_msg(&g_, msg(id, event).data()); }
	int driver(std::uint32_t id, std::uint16_t event, std::uint16_t value)
	{
		return vlb_console_gate_driver_msg(&g_, msg(id, event, value).data());
	}
	bool held(std::uint32_t port) { return vlb_console_gate_holds(&g_, vlb_console_gate_rx_queue(port)); }

	vlb_console_gate g_{};
};

TEST_F(ConsoleGate, QueuesOfAMultiportConsole)
{
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, 0), 0);
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, 1), -1);  // port 0's transmit queue
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, VLB_CONSOLE_CONTROL_RX), -1);
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, VLB_CONSOLE_CONTROL_TX), -1);
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, 4), 1);
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, 5), -1);
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, 8), 3);
	EXPECT_EQ(vlb_console_gate_rx_port(&g_, 10), -1);  // beyond max_nr_ports
	EXPECT_EQ(vlb_console_gate_rx_queue(3), 8u);
	EXPECT_FALSE(vlb_console_gate_holds(&g_, 1));	    // transmit queues never wait
	EXPECT_FALSE(vlb_console_gate_holds(&g_, VLB_CONSOLE_CONTROL_RX));
}

TEST_F(ConsoleGate, APortOpensWithTheDriversAnswerToItsAdd)
{
	EXPECT_TRUE(held(0));
	EXPECT_EQ(device(0, kPortAdd), -1);
	EXPECT_TRUE(held(0));  // add_port() fills the queue before listing the port
	EXPECT_EQ(driver(0, kPortReady, 1), 0);
	EXPECT_FALSE(held(0));
	EXPECT_TRUE(held(1));  // other ports stay closed
}

TEST_F(ConsoleGate, AFailedAddLeavesThePortClosed)
{
	device(2, kPortAdd);
	EXPECT_EQ(driver(2, kPortReady, 0), -1);
	EXPECT_TRUE(held(2));
}

TEST_F(ConsoleGate, RemoveClosesBeforeTheDriverUnlists)
{
	device(1, kPortAdd);
	driver(1, kPortReady, 1);
	EXPECT_EQ(device(1, kPortRemove), 1);
	EXPECT_TRUE(held(1));
	EXPECT_EQ(device(1, kPortRemove), -1);	// closed already: nothing to wait for
}

// A repeated PORT_ADD, answered PORT_READY(1) while a PORT_REMOVE that the
// device sent after it still waits for the driver: that answer must not
// open the port, which the driver is about to unlist.
TEST_F(ConsoleGate, AnAnswerFromBeforeARemoveDoesNotReopen)
{
	device(0, kPortAdd);
	driver(0, kPortReady, 1);
	device(0, kPortAdd);	 // repeated
	device(0, kPortRemove);	 // closes
	device(0, kPortAdd);	 // the re-add, after the remove
	EXPECT_EQ(driver(0, kPortReady, 1), -1);  // answers the repeated add
	EXPECT_TRUE(held(0));
	EXPECT_EQ(driver(0, kPortReady, 1), 0);	  // answers the re-add: listed again
	EXPECT_FALSE(held(0));
}

TEST_F(ConsoleGate, MessagesTheDriverDropsChangeNothing)
{
	EXPECT_EQ(device(4, kPortAdd), -1);  // id >= max_nr_ports: dropped unanswered
	EXPECT_EQ(device(0xffffffff, kPortRemove), -1);
	EXPECT_EQ(driver(4, kPortReady, 1), -1);
	device(0, kPortAdd);
	EXPECT_EQ(driver(0, kPortOpen, 1), -1);	 // not an answer
	EXPECT_TRUE(held(0));
	EXPECT_EQ(driver(0, kPortReady, 1), 0);
}

// virtcons_restore() refills the queues of the ports it still lists, then
// says PORT_READY(1) for each, answering no PORT_ADD; the gate was set up
// again with the queues.
TEST_F(ConsoleGate, AResumedPortOpensAgain)
{
	EXPECT_EQ(driver(1, kPortReady, 1), 1);
	EXPECT_FALSE(held(1));
	EXPECT_EQ(driver(1, kPortReady, 0), -1);
	EXPECT_TRUE(held(1));
}

// During a resume the device sends PORT_REMOVE for a port the driver still
// lists: the driver's restore answer for that port (READY(1), answering no
// add) must not reopen it, or the port stays open once the driver has
// unlisted it. A later PORT_ADD and its answer open it as usual.
TEST_F(ConsoleGate, AResumeAnswerDoesNotReopenARemovedPort)
{
	EXPECT_EQ(device(1, kPortRemove), -1);	// closed already (fresh gate)
	EXPECT_EQ(driver(1, kPortReady, 1), -1);
	EXPECT_TRUE(held(1));
	device(1, kPortAdd);
	EXPECT_EQ(driver(1, kPortReady, 1), 1);
	EXPECT_FALSE(held(1));
}

// virtio_console fills port 0's queue, allocates the hvc, then lists the
// port, without a word to the device: only the driver core's "bound"
// after the probe returned says the port is listed. Filling the ring
// opened it before (a completion could still meet the unlisted port).
TEST(ConsoleGateSinglePort, Port0OpensOnlyOnceTheDriverIsBound)
{
	vlb_console_gate g{};
	vlb_console_gate_init(&g, false, 0);
	EXPECT_TRUE(vlb_console_gate_holds(&g, 0));
	EXPECT_EQ(vlb_console_gate_rx_port(&g, 4), -1);
	// Control messages mean nothing without multiport.
	EXPECT_EQ(vlb_console_gate_device_msg(&g, msg(0, kPortAdd).data()), -1);
	EXPECT_EQ(vlb_console_gate_driver_msg(&g, msg(0, kPortReady, 1).data()), -1);
	EXPECT_TRUE(vlb_console_gate_holds(&g, 0));
	EXPECT_EQ(vlb_console_gate_driver_bound(&g), 0);
	EXPECT_FALSE(vlb_console_gate_holds(&g, 0));
	EXPECT_EQ(vlb_console_gate_driver_bound(&g), -1);
}

TEST(ConsoleGateSinglePort, BindingMeansNothingWithMultiport)
{
	vlb_console_gate g{};
	vlb_console_gate_init(&g, true, 2);
	EXPECT_EQ(vlb_console_gate_driver_bound(&g), -1);
	EXPECT_TRUE(vlb_console_gate_holds(&g, 0));
}

TEST(ConsoleGateLimits, PortsBeyondTheQueuesAreClamped)
{
	vlb_console_gate g{};
	vlb_console_gate_init(&g, true, 0x8000);
	EXPECT_EQ(g.nports, static_cast<std::uint32_t>(VLB_CONSOLE_GATE_PORTS));
	EXPECT_EQ(vlb_console_gate_rx_port(&g, vlb_console_gate_rx_queue(VLB_CONSOLE_GATE_PORTS - 1)),
		  VLB_CONSOLE_GATE_PORTS - 1);
}

}  // namespace
