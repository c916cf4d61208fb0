// SPDX-License-Identifier: Apache-2.0
#include "input_device.h"

#include <linux/input.h>

#include <algorithm>
#include <cstring>

#include "vlb/devices/server.h"

namespace vlb::devices {

void InputIdentity::set_event(std::uint16_t type, std::uint16_t code)
{
	if (type > 0xff || code >= 128 * 8)
		return;
	auto &bits = ev_bits[static_cast<std::uint8_t>(type)];
	bits.at(code / 8) |= static_cast<std::uint8_t>(1U << (code % 8));
}

std::vector<std::uint8_t> InputDevice::config() const
{
	virtio_input_config c{};
	c.select = select_;
	c.subsel = subsel_;
	const auto put = [&c](const void *p, std::size_t n) {
		n = std::min(n, sizeof(c.u));
		std::memcpy(&c.u, p, n);
		c.size = static_cast<std::uint8_t>(n);
	};
	// Bitmaps are reported up to their last non-zero byte.
	const auto put_bitmap = [&put](const std::array<std::uint8_t, 128> &b) {
		const auto last = std::find_if(b.rbegin(), b.rend(), [](std::uint8_t v) { return v != 0; });
		put(b.data(), static_cast<std::size_t>(b.rend() - last));
	};
	switch (select_) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		if (subsel_ == 0)
			put(id_.name.data(), id_.name.size());
		break;
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		if (subsel_ == 0)
			put(id_.serial.data(), id_.serial.size());
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (subsel_ == 0)
			put(&id_.ids, sizeof(id_.ids));
		break;
	case VIRTIO_INPUT_CFG_PROP_BITS:
		if (subsel_ == 0)
			put_bitmap(id_.props);
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (const auto it = id_.ev_bits.find(subsel_); it != id_.ev_bits.end())
			put_bitmap(it->second);
		break;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (const auto it = id_.abs.find(subsel_); it != id_.abs.end())
			put(&it->second, sizeof(it->second));
		break;
	default:
		break;
	}
	std::vector<std::uint8_t> out(sizeof(c));
	std::memcpy(out.data(), &c, sizeof(c));
	return out;
}

bool InputDevice::write_config(std::uint32_t offset, std::span<const std::uint8_t> data)
{
	// Only select (byte 0) and subsel (byte 1) are writable.
	if (offset > 1 || data.empty() || data.size() > 2 - offset)
		return false;
	for (std::size_t i = 0; i < data.size(); i++)
		(offset + i == 0 ? select_ : subsel_) = data[i];
	return true;
}

void InputDevice::process(vu::VirtQueue &q)
{
	if (q.index() == 0) {
		eventq_ = &q;
		deliver();
		return;
	}
	// Status queue: LED and similar feedback from the driver.
	vu::Chain chain;
	while (q.pop(chain)) {
		virtio_input_event ev{};
		if (gather(chain.readable, {reinterpret_cast<std::uint8_t *>(&ev), sizeof(ev)}) == sizeof(ev))
			log_.debug("status event type %u code %u value %d", ev.type, ev.code,
				   static_cast<std::int32_t>(ev.value));
		q.complete(chain.head, 0);
	}
}

void InputDevice::push(std::uint16_t type, std::uint16_t code, std::int32_t value)
{
	if (pending_.size() >= kMaxPending) {
		// Drop the oldest frame whole (through its SYN_REPORT), so the
		// driver never sees half a frame.
		while (!pending_.empty()) {
			const auto ev = pending_.front();
			pending_.pop_front();
			dropped_++;
			if (ev.type == EV_SYN && ev.code == SYN_REPORT)
				break;
		}
		log_.warn("driver not reading events: %llu dropped so far",
			  static_cast<unsigned long long>(dropped_));
	}
	pending_.push_back({type, code, static_cast<std::uint32_t>(value)});
	deliver();
}

void InputDevice::deliver()
{
	if (eventq_ == nullptr || !eventq_->running())
		return;
	vu::Chain chain;
	bool any = false;
	while (!pending_.empty() && eventq_->pop(chain)) {
		const auto ev = pending_.front();
		const auto n = scatter(chain.writable, {reinterpret_cast<const std::uint8_t *>(&ev), sizeof(ev)});
		if (n == sizeof(ev))
			pending_.pop_front();
		else
			log_.warn("event buffer of %llu bytes is too small",
				  static_cast<unsigned long long>(chain.writable_bytes));
		eventq_->complete(chain.head, static_cast<std::uint32_t>(n));
		any = true;
	}
	if (any)
		eventq_->notify();
}

void InputDevice::queue_stopped(vu::VirtQueue &q)
{
	if (&q == eventq_)
		eventq_ = nullptr;
}

void InputDevice::reset()
{
	eventq_ = nullptr;
	select_ = subsel_ = 0;
}

} // namespace vlb::devices
