// SPDX-License-Identifier: Apache-2.0
#include "console_device.h"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "vlb/devices/server.h"
#include "vlb/sys_error.h"

namespace vlb::devices {

namespace {
constexpr std::size_t kInputChunk = 4096;
} // namespace

void ConsoleDevice::attach(PortEnds ends, std::function<void()> on_eof)
{
	detach();
	ends_ = ends;
	on_eof_ = std::move(on_eof);
	update_watch();
}

void ConsoleDevice::detach()
{
	if (watching_)
		loop_.unwatch(ends_.in);
	watching_ = false;
	ends_ = {};
	input_.clear();
}

void ConsoleDevice::update_watch()
{
	// Read input only while it has somewhere to go.
	const bool want = ends_.in >= 0 && rxq_ != nullptr && rxq_->running() && input_.empty();
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
	if (rxq_ == nullptr || !rxq_->running())
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

void ConsoleDevice::write_output(const vu::Chain &chain)
{
	for (const auto &seg : chain.readable) {
		std::size_t off = 0;
		while (off < seg.len && ends_.out >= 0) {
			const ssize_t n = ::write(ends_.out, seg.data + off, seg.len - off);
			if (n < 0 && errno == EAGAIN) {
				// A slow reader: wait for it (back-pressure, no loss).
				pollfd p{ends_.out, POLLOUT, 0};
				::poll(&p, 1, 1000);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				log_.warn("console output: %s; output dropped until reconnected",
					  errno_string(errno).c_str());
				ends_.out = -1;
				break;
			}
			off += static_cast<std::size_t>(n);
		}
	}
}

void ConsoleDevice::process(vu::VirtQueue &q)
{
	if (q.index() == 0) {
		rxq_ = &q;
		deliver();
		update_watch();
		return;
	}
	vu::Chain chain;
	while (q.pop(chain)) {
		write_output(chain);
		q.complete(chain.head, 0);
	}
}

void ConsoleDevice::queue_stopped(vu::VirtQueue &q)
{
	if (&q == rxq_) {
		rxq_ = nullptr;
		update_watch();
	}
}

void ConsoleDevice::reset()
{
	rxq_ = nullptr;
	update_watch();
}

} // namespace vlb::devices
