// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "vlb/sys_error.h"

namespace vlb::vu {

EventLoop::EventLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC))
{
	if (!epoll_)
		throw_errno("epoll_create1");
}

void EventLoop::add(int fd, Interest interest, Handler handler)
{
	epoll_event ev{};
	ev.events = interest == kInput ? EPOLLIN : EPOLLOUT;
	ev.data.fd = fd;
	const bool known = handlers_.contains(fd);
	if (::epoll_ctl(epoll_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
		throw_errno("epoll_ctl add fd " + std::to_string(fd));
	handlers_[fd] = std::make_shared<Handler>(std::move(handler));
}

void EventLoop::unwatch(int fd)
{
	if (handlers_.erase(fd) != 0)
		::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::run()
{
	stopped_ = false;
	while (!stopped_ && !handlers_.empty())
		run_once(std::chrono::milliseconds(-1));
}

void EventLoop::run_once(std::chrono::milliseconds timeout)
{
	std::array<epoll_event, 16> events{};
	turn_++;
	const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
				   static_cast<int>(timeout.count()));
	if (n < 0) {
		if (errno == EINTR)
			return;
		throw_errno("epoll_wait");
	}
	for (int i = 0; i < n && !stopped_; i++) {
		const auto it = handlers_.find(events[static_cast<std::size_t>(i)].data.fd);
		if (it == handlers_.end())
			continue; // unwatched by an earlier handler of this batch
		const auto handler = it->second;
		(*handler)();
	}
}

bool drain_eventfd(int fd)
{
	eventfd_t v = 0;
	return ::eventfd_read(fd, &v) == 0;
}

void signal_eventfd(int fd)
{
	if (::eventfd_write(fd, 1) != 0 && errno != EAGAIN)
		throw_errno("eventfd write");
}

} // namespace vlb::vu
