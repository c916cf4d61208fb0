// SPDX-License-Identifier: Apache-2.0
#include "event_sources.h"

#include <libevdev/libevdev.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <sstream>

#include "vlb/devices/server.h"
#include "vlb/sys_error.h"

namespace vlb::devices {

// ---- evdev ----

EvdevSource::EvdevSource(UniqueFd fd, const Logger &log) : fd_(std::move(fd)), log_(log)
{
	if (const int r = libevdev_new_from_fd(fd_.get(), &evdev_); r < 0)
		throw std::system_error(-r, std::generic_category(), "libevdev on the evdev fd");
}

EvdevSource::~EvdevSource()
{
	if (loop_ != nullptr)
		loop_->unwatch(fd_.get());
	libevdev_free(evdev_);
}

InputIdentity EvdevSource::identity() const
{
	InputIdentity id;
	if (const char *name = libevdev_get_name(evdev_))
		id.name = name;
	if (const char *uniq = libevdev_get_uniq(evdev_))
		id.serial = uniq;
	id.ids.bustype = static_cast<std::uint16_t>(libevdev_get_id_bustype(evdev_));
	id.ids.vendor = static_cast<std::uint16_t>(libevdev_get_id_vendor(evdev_));
	id.ids.product = static_cast<std::uint16_t>(libevdev_get_id_product(evdev_));
	id.ids.version = static_cast<std::uint16_t>(libevdev_get_id_version(evdev_));
	for (unsigned p = 0; p < 128 * 8; p++)
		if (libevdev_has_property(evdev_, p) == 1)
			id.props.at(p / 8) |= static_cast<std::uint8_t>(1U << (p % 8));
	for (unsigned type = 1; type < EV_CNT; type++) {
		if (libevdev_has_event_type(evdev_, type) != 1)
			continue;
		const int max = libevdev_event_type_get_max(type);
		for (int code = 0; code <= max && code < 128 * 8; code++)
			if (libevdev_has_event_code(evdev_, type, static_cast<unsigned>(code)) == 1)
				id.set_event(static_cast<std::uint16_t>(type), static_cast<std::uint16_t>(code));
	}
	for (unsigned axis = 0; axis < ABS_CNT; axis++) {
		const input_absinfo *a = libevdev_get_abs_info(evdev_, axis);
		if (a == nullptr || libevdev_has_event_code(evdev_, EV_ABS, axis) != 1)
			continue;
		id.abs[static_cast<std::uint8_t>(axis)] = {static_cast<std::uint32_t>(a->minimum),
							    static_cast<std::uint32_t>(a->maximum),
							    static_cast<std::uint32_t>(a->fuzz),
							    static_cast<std::uint32_t>(a->flat),
							    static_cast<std::uint32_t>(a->resolution)};
	}
	return id;
}

void EvdevSource::start(vu::EventLoop &loop, InputDevice &dev)
{
	loop_ = &loop;
	loop.watch(fd_.get(), [this, &dev] { drain(dev); });
}

void EvdevSource::drain(InputDevice &dev)
{
	input_event ev{};
	unsigned flags = LIBEVDEV_READ_FLAG_NORMAL;
	for (;;) {
		const int r = libevdev_next_event(evdev_, flags, &ev);
		if (r == LIBEVDEV_READ_STATUS_SYNC) {
			// The kernel dropped events: replay the device state.
			flags = LIBEVDEV_READ_FLAG_SYNC;
			dev.push(ev.type, ev.code, ev.value);
			continue;
		}
		if (r == -EAGAIN) {
			if (flags == LIBEVDEV_READ_FLAG_SYNC) {
				flags = LIBEVDEV_READ_FLAG_NORMAL;
				continue;
			}
			return;
		}
		if (r < 0) {
			log_.error("evdev read: %s; no more events from it", errno_string(-r).c_str());
			loop_->unwatch(fd_.get());
			loop_ = nullptr;
			return;
		}
		dev.push(ev.type, ev.code, ev.value);
	}
}

// ---- script ----

namespace {

int lookup(const std::string &word, int type, const std::string &where)
{
	if (!word.empty() && (std::isdigit(static_cast<unsigned char>(word[0])) != 0))
		return static_cast<int>(parse_u64(word.c_str(), where.c_str()));
	const int v = type < 0 ? libevdev_event_type_from_name(word.c_str())
			       : libevdev_event_code_from_name(static_cast<unsigned>(type), word.c_str());
	if (v < 0)
		throw std::invalid_argument(where + ": unknown " + (type < 0 ? "event type '" : "event code '") +
					    word + "'");
	return v;
}

} // namespace

std::vector<ScriptSource::Step> ScriptSource::parse(const std::string &text, const std::string &origin)
{
	std::vector<Step> steps;
	std::istringstream in(text);
	std::string line;
	for (int lineno = 1; std::getline(in, line); lineno++) {
		if (const auto hash = line.find('#'); hash != std::string::npos)
			line.erase(hash);
		std::istringstream words(line);
		std::vector<std::string> w;
		for (std::string s; words >> s;)
			w.push_back(s);
		if (w.empty())
			continue;
		const std::string where = origin + ":" + std::to_string(lineno);
		Step st;
		if (w[0] == "sleep" && w.size() == 2) {
			st.pause = std::chrono::milliseconds(parse_u64(w[1].c_str(), where.c_str()));
			if (st.pause.count() == 0 || st.pause.count() > 3600000)
				throw std::invalid_argument(where + ": sleep must be 1..3600000 ms");
		} else if (w.size() == 3) {
			const int type = lookup(w[0], -1, where);
			const int code = lookup(w[1], type, where);
			if (type > EV_MAX || code > KEY_MAX)
				throw std::invalid_argument(where + ": type or code out of range");
			st.type = static_cast<std::uint16_t>(type);
			st.code = static_cast<std::uint16_t>(code);
			try {
				st.value = static_cast<std::int32_t>(std::stol(w[2]));
			} catch (const std::exception &) {
				throw std::invalid_argument(where + ": value '" + w[2] + "' is not a number");
			}
		} else {
			throw std::invalid_argument(where + ": expected 'TYPE CODE VALUE' or 'sleep MS'");
		}
		steps.push_back(st);
	}
	if (steps.empty())
		throw std::invalid_argument(origin + ": no events");
	return steps;
}

ScriptSource::ScriptSource(std::vector<Step> steps, bool loop)
	: steps_(std::move(steps)), loop_(loop),
	  timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK))
{
	if (!timer_)
		throw_errno("timerfd_create");
}

ScriptSource::~ScriptSource()
{
	if (event_loop_ != nullptr)
		event_loop_->unwatch(timer_.get());
}

void ScriptSource::describe(InputIdentity &id) const
{
	id.set_event(EV_SYN, SYN_REPORT);
	for (const auto &s : steps_) {
		if (s.pause.count() != 0)
			continue;
		id.set_event(s.type, s.code);
		if (s.type == EV_ABS)
			id.abs[static_cast<std::uint8_t>(s.code)] = {0, 65535, 0, 0, 0};
	}
}

void ScriptSource::start(vu::EventLoop &loop, InputDevice &dev)
{
	event_loop_ = &loop;
	loop.watch(timer_.get(), [this, &dev] {
		std::uint64_t ticks = 0;
		if (::read(timer_.get(), &ticks, sizeof(ticks)) < 0)
			return;
		run(dev);
	});
	arm(std::chrono::milliseconds(1));
}

void ScriptSource::run(InputDevice &dev)
{
	for (;;) {
		// Wrap here, not after the last push: a script that ends with a
		// pause must start over when that pause is up.
		if (next_ == steps_.size()) {
			if (!loop_)
				return;
			next_ = 0;
		}
		const Step &s = steps_[next_++];
		if (s.pause.count() != 0) {
			arm(s.pause);
			return;
		}
		dev.push(s.type, s.code, s.value);
	}
}

void ScriptSource::arm(std::chrono::milliseconds after)
{
	itimerspec its{};
	its.it_value.tv_sec = static_cast<time_t>(after.count() / 1000);
	its.it_value.tv_nsec = static_cast<long>((after.count() % 1000) * 1000000);
	if (::timerfd_settime(timer_.get(), 0, &its, nullptr) != 0)
		throw_errno("timerfd_settime");
}

} // namespace vlb::devices
