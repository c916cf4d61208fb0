// SPDX-License-Identifier: Apache-2.0
// Where vlb-dev-input's events come from: a host evdev node (libevdev,
// which also describes the device), or a scripted stream played on a timer.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "input_device.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/event_loop.h"

struct libevdev;

namespace vlb::devices {

// Reads a host evdev node. The identity (name, ids, bits, axes) comes from it.
class EvdevSource {
public:
	EvdevSource(UniqueFd fd, const Logger &log);
	~EvdevSource();
	EvdevSource(const EvdevSource &) = delete;
	EvdevSource &operator=(const EvdevSource &) = delete;
	EvdevSource(EvdevSource &&) = delete;
	EvdevSource &operator=(EvdevSource &&) = delete;

	[[nodiscard]] InputIdentity identity() const;
	// Watches the node on |loop| and forwards every event to |dev|.
	void start(vu::EventLoop &loop, InputDevice &dev);

private:
	void drain(InputDevice &dev);

	UniqueFd fd_;
	libevdev *evdev_ = nullptr;
	const Logger &log_;
	vu::EventLoop *loop_ = nullptr;
};

// A script: one step per line, '#' comments.
//   TYPE CODE VALUE   an event; names (EV_KEY KEY_A 1) or numbers
//   sleep MS          a pause
// Every event type and code the script uses is advertised; EV_ABS axes get
// the range 0..65535.
class ScriptSource {
public:
	struct Step {
		std::uint16_t type = 0;
		std::uint16_t code = 0;
		std::int32_t value = 0;
		std::chrono::milliseconds pause{0};  // > 0: a sleep step
	};

	// Throws std::invalid_argument naming the file and line of a bad step.
	static std::vector<Step> parse(const std::string &text, const std::string &origin);

	ScriptSource(std::vector<Step> steps, bool loop);
	~ScriptSource();
	ScriptSource(const ScriptSource &) = delete;
	ScriptSource &operator=(const ScriptSource &) = delete;
	ScriptSource(ScriptSource &&) = delete;
	ScriptSource &operator=(ScriptSource &&) = delete;

	void describe(InputIdentity &id) const;
	void start(vu::EventLoop &loop, InputDevice &dev);

private:
	void run(InputDevice &dev);
	void arm(std::chrono::milliseconds after);

	std::vector<Step> steps_;
	bool loop_;
	std::size_t next_ = 0;
	UniqueFd timer_;
	vu::EventLoop *event_loop_ = nullptr;
};

} // namespace vlb::devices
