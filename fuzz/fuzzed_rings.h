// SPDX-License-Identifier: Apache-2.0
// The device fuzzers' common harness: the fuzz input is the driver's
// memory, a fixed and valid vhost-user set-up hands it to a real Backend
// serving the device under test, and every queue is kicked.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "vlb/log.h"
#include "vlb/vu/backend.h"

namespace vlb::fuzz {

// Where the rings live in the fuzzed memory: queue q has its descriptor
// table at q * kQueueStride, its avail ring 0x100 further and its used
// ring 0x200 further; buffers start at kBuffers. Guest addresses are
// offsets. fuzz/make-vu-seeds.py writes seeds with the same layout.
constexpr std::uint64_t kQueueStride = 0x400;
constexpr std::uint64_t kBuffers = 0x1000;
constexpr std::uint64_t kMemory = 1 << 16;
constexpr std::uint32_t kQueueSize = 16;

// Runs |dev| over |memory| with |queues| queues and the virtio |features|;
// |then|, if given, runs once the queues were served (e.g. to make the
// device produce output into the fuzzed buffers), followed by another
// round of the event loop. Inputs larger than kMemory are ignored.
void run_device_over(vu::Device &dev, vu::EventLoop &loop, const Logger &log,
		     std::span<const std::uint8_t> memory, std::uint64_t features, unsigned queues,
		     const std::function<void()> &then = {});

} // namespace vlb::fuzz
