// SPDX-License-Identifier: Apache-2.0
#include "vlb/devices/server.h"

#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "vlb/program.h"
#include "vlb/signals.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace vlb::devices {

enum : int { kOptSocketPath = 0x100, kOptFd, kOptPrintCapabilities, kOptCallByEventfd };

std::vector<option> common_options()
{
	return {
		{"socket-path", required_argument, nullptr, kOptSocketPath},
		{"fd", required_argument, nullptr, kOptFd},
		{"print-capabilities", no_argument, nullptr, kOptPrintCapabilities},
		{"call-by-eventfd", no_argument, nullptr, kOptCallByEventfd},
		{"help", no_argument, nullptr, 'h'},
		{"verbose", no_argument, nullptr, 'v'},
	};
}

const char *common_usage()
{
	return "  --socket-path PATH     listen on the unix socket PATH (created, removed on exit)\n"
	       "  --fd N                 use the inherited socket N (listening or connected)\n"
	       "  --print-capabilities   print the vhost-user capabilities as JSON and exit\n"
	       "  --call-by-eventfd      behind the virtio-loopback transport, signal completions\n"
	       "                         by the call eventfd, whose work item the kernel runs\n"
	       "                         later, instead of having the kernel process them in\n"
	       "                         this thread at once (VLB_IOVA_CALL)\n"
	       "  -v, --verbose          log every vhost-user message\n"
	       "  -h, --help             show this help\n";
}

bool handle_common_option(int opt, const char *arg, ServerOptions &so)
{
	switch (opt) {
	case kOptSocketPath:
		so.socket_path = arg;
		return true;
	case kOptFd: {
		const auto v = parse_u64(arg, "--fd");
		if (v > 65535)
			throw std::invalid_argument("--fd: not a file descriptor number");
		so.fd = static_cast<int>(v);
		return true;
	}
	case kOptPrintCapabilities:
		so.print_capabilities = true;
		return true;
	case kOptCallByEventfd:
		so.call_by_eventfd = true;
		return true;
	case 'h':
		so.help = true;
		return true;
	case 'v':
		so.verbose = true;
		return true;
	default:
		return false;
	}
}

int parse_device_options(int argc, char **argv, std::vector<option> extra, const char *usage,
			 ServerOptions &so, const std::function<bool(int opt, const char *arg)> &handle)
{
	auto opts = common_options();
	opts.insert(opts.end(), extra.begin(), extra.end());
	opts.push_back({nullptr, 0, nullptr, 0});
	int c = 0;
	// getopt_long's global state is fine: main, before any thread.
	while ((c = getopt_long(argc, argv, kCommonShortOptions, opts.data(), nullptr)) != -1) { // NOLINT(concurrency-mt-unsafe)
		if (handle_common_option(c, optarg, so) || handle(c, optarg))
			continue;
		std::fputs(usage, stderr);
		return kExitUsage;
	}
	if (optind != argc)
		throw std::invalid_argument(std::string("unexpected argument: ") + argv[optind]); // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
	return 0;
}

void check_server_options(const ServerOptions &so)
{
	if (so.socket_path.empty() == (so.fd < 0))
		throw std::invalid_argument("exactly one of --socket-path and --fd is required");
}

std::size_t gather(std::span<const vu::Segment> segs, std::span<std::uint8_t> out, std::uint64_t skip)
{
	std::size_t done = 0;
	for (const auto &s : segs) {
		if (done == out.size())
			break;
		if (skip >= s.len) {
			skip -= s.len;
			continue;
		}
		const std::size_t n = std::min<std::size_t>(s.len - skip, out.size() - done);
		std::memcpy(out.data() + done, s.data + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

std::size_t scatter(std::span<const vu::Segment> segs, std::span<const std::uint8_t> in,
		    std::uint64_t skip)
{
	std::size_t done = 0;
	for (const auto &s : segs) {
		if (done == in.size())
			break;
		if (skip >= s.len) {
			skip -= s.len;
			continue;
		}
		const std::size_t n = std::min<std::size_t>(s.len - skip, in.size() - done);
		std::memcpy(s.data + skip, in.data() + done, n);
		done += n;
		skip = 0;
	}
	return done;
}

UniqueFd watch_termination(vu::EventLoop &loop, const Logger &log)
{
	UniqueFd fd = blocked_signalfd({SIGTERM, SIGINT, SIGHUP});
	// A peer that goes away must show up as EPIPE, not kill us.
	struct sigaction ign{};
	ign.sa_handler = SIG_IGN;
	if (::sigaction(SIGPIPE, &ign, nullptr) != 0)
		throw_errno("sigaction SIGPIPE");
	const int raw = fd.get();
	loop.watch(raw, [raw, &loop, &log] {
		signalfd_siginfo si{};
		if (::read(raw, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si)))
			log.info("signal %u: shutting down", si.ssi_signo);
		loop.stop();
	});
	return fd;
}

namespace {

bool is_listening(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0)
		throw_errno("--fd " + std::to_string(fd) + " is not a socket");
	return v != 0;
}

} // namespace

std::optional<int> finish_options(const ServerOptions &so, const char *usage, const char *capabilities,
				  Logger &log)
{
	if (so.help) {
		std::printf("%s%s", usage, common_usage());
		return 0;
	}
	if (so.print_capabilities) {
		std::fputs(capabilities, stdout);
		return 0;
	}
	check_server_options(so);
	if (so.verbose)
		log.set_level(LogLevel::kDebug);
	return std::nullopt;
}

int serve(vu::Device &dev, vu::EventLoop &loop, const ServerOptions &so, const Logger &log,
	  const std::function<void(vu::Backend *)> &on_connect)
{
	UniqueFd listener;
	UniqueFd connected;
	if (!so.socket_path.empty()) {
		listener = listen_unix(so.socket_path);
		log.info("listening on %s", so.socket_path.c_str());
	} else if (is_listening(so.fd)) {
		listener = UniqueFd(so.fd);
	} else {
		connected = UniqueFd(so.fd);
	}

	std::unique_ptr<vu::Backend> backend;
	const auto finish = [&] {
		if (backend && on_connect)
			on_connect(nullptr);
		backend.reset();
	};
	auto attach = [&](UniqueFd conn) {
		finish();
		backend = std::make_unique<vu::Backend>(dev, std::move(conn), loop, log);
		backend->set_kernel_calls(!so.call_by_eventfd);
		if (on_connect)
			on_connect(backend.get());
	};
	if (connected) {
		attach(std::move(connected));
	} else {
		const int lfd = listener.get();
		loop.watch(lfd, [&, lfd] {
			UniqueFd conn(::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
			if (!conn) {
				log.warn("accept: %s", errno_string(errno).c_str());
				return;
			}
			if (backend && !backend->closed()) {
				log.warn("second front-end refused: one connection at a time");
				return;
			}
			log.info("front-end connected");
			attach(std::move(conn));
		});
	}
	int status = 0;
	while (!loop.stopped()) {
		loop.run_once(std::chrono::milliseconds(-1));
		if (backend && backend->closed()) {
			if (!backend->close_reason().empty())
				status = 1;
			finish();
			if (!listener) // a connected --fd ends with its connection
				break;
		}
	}
	finish();
	if (listener)
		loop.unwatch(listener.get());
	if (!so.socket_path.empty())
		::unlink(so.socket_path.c_str());
	return status;
}

} // namespace vlb::devices
