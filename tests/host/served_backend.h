// SPDX-License-Identifier: Apache-2.0
// A vhost-user back-end serving one end of a socketpair on its own thread,
// for host tests that drive it through UserDriver from the test thread.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>
#include <utility>

#include "vlb/vu/backend.h"

namespace vlb::vu {

class ServedBackend {
public:
	ServedBackend(Device &dev, UniqueFd sock)
		: log_("backend", LogLevel::kWarning), backend_(dev, std::move(sock), loop_, log_)
	{
		thread_ = std::thread([this] {
			while (!stop_)
				loop_.run_once(std::chrono::milliseconds(20));
		});
	}
	~ServedBackend() { stop(); }
	ServedBackend(const ServedBackend &) = delete;
	ServedBackend &operator=(const ServedBackend &) = delete;
	ServedBackend(ServedBackend &&) = delete;
	ServedBackend &operator=(ServedBackend &&) = delete;

	// Joins the serving thread; afterwards backend() may be inspected.
	void stop()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
	}
	[[nodiscard]] const Backend &backend() const { return backend_; }

private:
	Logger log_;
	EventLoop loop_;
	Backend backend_;
	std::atomic<bool> stop_{false};
	std::thread thread_;
};

inline std::pair<UniqueFd, UniqueFd> socket_pair()
{
	int sv[2];
	EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

} // namespace vlb::vu
