// SPDX-License-Identifier: Apache-2.0
// EventLoop: epoll over a set of fds, each with a handler called when it
// is readable. Single-threaded by design: a back-end's queues, control
// socket and I/O completions all run here, so device state needs no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "vlb/unique_fd.h"

namespace vlb::vu {

class EventLoop {
public:
	using Handler = std::function<void()>;

	EventLoop();

	// Watches |fd| (not owned) for input; replaces an existing handler.
	void watch(int fd, Handler handler) { add(fd, kInput, std::move(handler)); }
	// Watches |fd| for room to write, level-triggered. One fd has one
	// handler: watch a dup() to wait for input and output apart.
	void watch_writable(int fd, Handler handler) { add(fd, kOutput, std::move(handler)); }
	void unwatch(int fd);
	// Runs handlers until stop() or until nothing is watched.
	void run();
	// Waits at most |timeout| for events and runs their handlers once.
	void run_once(std::chrono::milliseconds timeout);
	void stop() { stopped_ = true; }
	[[nodiscard]] bool stopped() const { return stopped_; }
	// Counts the rounds of run_once(): work bounded "per turn" (a queue's
	// chains, see VirtQueue::pop) starts a new allowance when it changes.
	[[nodiscard]] std::uint64_t turn() const { return turn_; }

private:
	enum Interest : unsigned { kInput, kOutput };
	void add(int fd, Interest interest, Handler handler);

	UniqueFd epoll_;
	// Handlers are shared so one can unwatch itself (or others) safely
	// while it runs.
	std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
	bool stopped_ = false;
	std::uint64_t turn_ = 0;
};

// Reads and discards an eventfd's counter; true if it was signalled.
bool drain_eventfd(int fd);
// Signals an eventfd; errors other than EAGAIN are reported by exception.
void signal_eventfd(int fd);

} // namespace vlb::vu
