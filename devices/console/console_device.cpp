// SPDX-License-Identifier: Apache-2.0
#include "console_device.h"

#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_console.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "vlb/devices/server.h"
#include "vlb/sys_error.h"

namespace vlb::devices {

namespace {
constexpr std::size_t kInputChunk = 4096;
constexpr std::size_t kOutputLimit = std::size_t{64} * 1024;  // taken from the driver, not yet written
constexpr std::uint32_t kPort = 0;
constexpr std::uint16_t kReceiveQ = 0;
constexpr std::uint16_t kControlInQ = 2;   // device to driver
constexpr std::uint16_t kControlOutQ = 3;  // driver to device
// Control messages waiting for driver buffers. A driver that repeats
// DEVICE_READY or PORT_READY without posting any must not grow this.
constexpr std::size_t kControlBacklog = 16;
} // namespace

std::uint64_t ConsoleDevice::features() const
{
	return port_name_.empty() ? 0 : std::uint64_t{1} << VIRTIO_CONSOLE_F_MULTIPORT;
}

std::vector<std::uint8_t> ConsoleDevice::config() const
{
	virtio_console_config c{};
	if (!port_name_.empty())
		c.max_nr_ports = htole32(1);
	std::vector<std::uint8_t> bytes(sizeof(c));
	std::memcpy(bytes.data(), &c, sizeof(c));
	return bytes;
}

void ConsoleDevice::set_features(std::uint64_t features)
{
	multiport_ = (features & (std::uint64_t{1} << VIRTIO_CONSOLE_F_MULTIPORT)) != 0;
}

// One virtio_console_control from the driver (little-endian, virtio 1.x).
void ConsoleDevice::control_message(const vu::Chain &chain)
{
	std::array<std::uint8_t, sizeof(virtio_console_control)> raw{};
	if (gather(chain.readable, raw) != raw.size()) {
		log_.warn("console: short control message ignored");
		return;
	}
	virtio_console_control m{};
	std::memcpy(&m, raw.data(), sizeof(m));
	const std::uint32_t id = le32toh(m.id);
	const std::uint16_t event = le16toh(m.event);
	const std::uint16_t value = le16toh(m.value);
	switch (event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (value == 1)
			queue_control(VIRTIO_CONSOLE_PORT_ADD, 0);
		else
			log_.warn("console: the driver failed to set the device up");
		return;
	case VIRTIO_CONSOLE_PORT_READY:
		if (id != kPort)
			break;
		if (value != 1) {
			log_.warn("console: the driver could not add port '%s'", port_name_.c_str());
			return;
		}
		port_ready_ = true;
		{
			std::vector<std::uint8_t> name(port_name_.begin(), port_name_.end());
			queue_control(VIRTIO_CONSOLE_PORT_NAME, 0, name);
		}
		if (ends_.out >= 0)
			queue_control(VIRTIO_CONSOLE_PORT_OPEN, 1);
		log_.info("console: port '%s' added", port_name_.c_str());
		return;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (id != kPort)
			break;
		guest_open_ = value != 0;
		log_.info("console: the guest %s port '%s'", guest_open_ ? "opened" : "closed", port_name_.c_str());
		if (!guest_open_)
			input_.clear();  // the driver would discard it
		update_watch();
		return;
	default:
		break;
	}
	log_.debug("console: control event %u for port %u ignored", event, id);
}

void ConsoleDevice::send_control(std::uint16_t event, std::uint16_t value, std::span<const std::uint8_t> extra)
{
	queue_control(event, value, extra);
	flush_control();
}

void ConsoleDevice::queue_control(std::uint16_t event, std::uint16_t value, std::span<const std::uint8_t> extra)
{
	if (control_out_.size() >= kControlBacklog) {
		// Once per full backlog: the driver decides how often this happens.
		if (!control_drops_logged_)
			log_.warn("console: the driver takes no control messages; event %u and "
				  "later ones dropped until it does",
				  event);
		control_drops_logged_ = true;
		return;
	}
	virtio_console_control m{};
	m.id = htole32(kPort);
	m.event = htole16(event);
	m.value = htole16(value);
	std::vector<std::uint8_t> bytes(sizeof(m) + extra.size());
	std::memcpy(bytes.data(), &m, sizeof(m));
	std::copy(extra.begin(), extra.end(), bytes.begin() + sizeof(m));
	control_out_.push_back(std::move(bytes));
}

void ConsoleDevice::flush_control()
{
	if (control_in_ == nullptr || !control_in_->running())
		return;
	vu::Chain chain;
	bool any = false;
	while (!control_out_.empty() && control_in_->pop(chain)) {
		const auto n = scatter(chain.writable, control_out_.front());
		if (n < control_out_.front().size())
			log_.warn("console: control buffer too small, message cut to %zu bytes", n);
		control_in_->complete(chain.head, static_cast<std::uint32_t>(n));
		control_out_.pop_front();
		control_drops_logged_ = false;
		any = true;
	}
	if (any)
		control_in_->notify();
}

void ConsoleDevice::attach(PortEnds ends, std::function<void()> on_eof)
{
	detach();
	ends_ = ends;
	on_eof_ = std::move(on_eof);
	if (multiport_ && port_ready_)
		send_control(VIRTIO_CONSOLE_PORT_OPEN, 1);
	update_watch();
}

void ConsoleDevice::detach()
{
	if (watching_)
		loop_.unwatch(ends_.in);
	if (out_watch_) {
		loop_.unwatch(out_watch_.get());
		out_watch_.reset();
	}
	const bool was_attached = ends_.out >= 0;
	watching_ = false;
	ends_ = {};
	input_.clear();
	output_.clear();
	if (multiport_ && port_ready_ && was_attached)
		send_control(VIRTIO_CONSOLE_PORT_OPEN, 0);
}

void ConsoleDevice::update_watch()
{
	// Read input only while it has somewhere to go.
	const bool want = ends_.in >= 0 && rxq_ != nullptr && rxq_->running() && input_.empty() && guest_reads();
	if (want && !watching_)
		loop_.watch(ends_.in, [this] { read_input(); });
	else if (!want && watching_)
		loop_.unwatch(ends_.in);
	watching_ = want;
}

void ConsoleDevice::read_input()
{
	std::array<std::uint8_t, kInputChunk> buf{};
	const ssize_t n = ::read(ends_.in, buf.data(), buf.size());
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_.warn("console input: %s", errno_string(errno).c_str());
	}
	if (n <= 0) {
		const auto eof = on_eof_;
		detach();
		if (eof)
			eof();
		return;
	}
	input_.assign(buf.begin(), buf.begin() + n);
	deliver();
}

void ConsoleDevice::deliver()
{
	if (rxq_ == nullptr || !rxq_->running() || !guest_reads())
		return;
	vu::Chain chain;
	std::size_t done = 0;
	bool any = false;
	while (done < input_.size() && rxq_->pop(chain)) {
		const auto n = scatter(chain.writable, std::span(input_).subspan(done));
		done += n;
		rxq_->complete(chain.head, static_cast<std::uint32_t>(n));
		any = true;
	}
	input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(done));
	if (any)
		rxq_->notify();
	update_watch();
}

// Takes what the driver transmits, up to kOutputLimit ahead of the sink,
// and writes it; stops taking while the sink is slow.
void ConsoleDevice::pump_output()
{
	// Write what is held first: when the sink had no room, the buffer is
	// full and nothing new was taken, yet the ring may hold more.
	for (;;) {
		if (!write_output())
			return;
		vu::Chain chain;
		bool took = false;
		while (output_.size() < kOutputLimit && txq_ != nullptr && txq_->running() && txq_->pop(chain)) {
			for (const auto &seg : chain.readable)
				output_.insert(output_.end(), seg.data, seg.data + seg.len);
			txq_->complete(chain.head, 0);
			took = true;
		}
		if (!took)
			return;
		txq_->notify();
	}
}

// Writes output_ to the sink; false while the sink has no room (then it
// is watched for room, and pump_output runs again).
bool ConsoleDevice::write_output()
{
	std::size_t off = 0;
	while (off < output_.size() && ends_.out >= 0) {
		const ssize_t n = ::write(ends_.out, output_.data() + off, output_.size() - off);
		if (n > 0) {
			off += static_cast<std::size_t>(n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(off));
			if (!out_watch_) {
				out_watch_.reset(::fcntl(ends_.out, F_DUPFD_CLOEXEC, 0));
				if (!out_watch_)
					throw_errno("dup of the console port");
				loop_.watch_writable(out_watch_.get(), [this] { pump_output(); });
			}
			return false;
		}
		log_.warn("console output: %s; output dropped until reconnected", errno_string(errno).c_str());
		ends_.out = -1;
	}
	if (ends_.out < 0 && !output_.empty())
		log_.debug("console: %zu output bytes dropped, no sink", output_.size());
	output_.clear();
	if (out_watch_) {
		loop_.unwatch(out_watch_.get());
		out_watch_.reset();
	}
	return true;
}

void ConsoleDevice::process(vu::VirtQueue &q)
{
	if (q.index() == kReceiveQ) {
		rxq_ = &q;
		deliver();
		update_watch();
		return;
	}
	if (q.index() == kControlInQ) {
		control_in_ = &q;
		flush_control();
		return;
	}
	if (q.index() != kControlOutQ) {
		txq_ = &q;
		pump_output();
		return;
	}
	// The driver busy-waits for each control message it sends, preemption
	// off, holding its control-send lock. A reply that reached it first
	// would have it send the next message and spin on that lock: with
	// every CPU spinning so (two on a 2-CPU machine), this process never
	// ran again to complete the first. So completions first, replies after.
	vu::Chain chain;
	while (q.pop(chain)) {
		control_message(chain);
		q.complete(chain.head, 0);
	}
	q.notify();
	flush_control();
}

void ConsoleDevice::queue_stopped(vu::VirtQueue &q)
{
	if (&q == control_in_)
		control_in_ = nullptr;
	if (&q == txq_)
		txq_ = nullptr;
	if (&q == rxq_) {
		rxq_ = nullptr;
		update_watch();
	}
}

void ConsoleDevice::reset()
{
	rxq_ = nullptr;
	txq_ = nullptr;
	control_in_ = nullptr;
	control_out_.clear();
	control_drops_logged_ = false;
	port_ready_ = false;
	guest_open_ = false;
	update_watch();
}

} // namespace vlb::devices
