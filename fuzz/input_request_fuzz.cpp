// SPDX-License-Identifier: Apache-2.0
// Fuzzes vlb-dev-input over hostile rings: the status queue's buffers are
// parsed as events from the driver, and queued events are written into the
// event queue's buffers, whatever their sizes and directions. Nothing may
// be written outside a writable buffer, and the pending queue stays bounded.
#include <linux/input.h>

#include <cstdint>

#include "fuzzed_rings.h"
#include "input_device.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	using namespace vlb;
	Logger log("fuzz", LogLevel::kError);
	log.set_level(static_cast<LogLevel>(0));
	vu::EventLoop loop;
	devices::InputIdentity id;
	id.set_event(EV_KEY, KEY_A);
	devices::InputDevice dev(id, log);
	// Some events wait before the driver's buffers are seen, more arrive
	// after: both delivery paths run.
	dev.push(EV_KEY, KEY_A, 1);
	dev.push(EV_SYN, SYN_REPORT, 0);
	fuzz::run_device_over(dev, loop, log, {data, size}, 0, 2, [&dev] {
		for (int i = 0; i < 40; i++)
			dev.push(EV_KEY, KEY_A, i % 2);
	});
	return 0;
}
