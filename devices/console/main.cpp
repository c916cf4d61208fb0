// SPDX-License-Identifier: Apache-2.0
// vlb-dev-console: virtio-console over vhost-user; the port is connected
// to stdio, a new pty, or clients of a unix socket.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "console_device.h"
#include "vlb/devices/server.h"
#include "vlb/program.h"
#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"

namespace {

const char *const kUsage =
	"Usage: vlb-dev-console (--socket-path PATH | --fd N) (--stdio | --pty | --port-socket PATH | --port-fd N) [OPTIONS]\n"
	"virtio-console vhost-user back-end with one port: the guest's /dev/hvc0, or\n"
	"with --port-name a named generic port (/dev/vportNp0, /dev/virtio-ports/NAME).\n\n"
	"  --stdio                the port is this program's stdin and stdout\n"
	"  --pty                  create a pseudo-terminal and log its path\n"
	"  --port-socket PATH     listen on PATH; one client at a time is the port\n"
	"  --port-fd N            an inherited socket: listening (clients) or connected\n"
	"  --port-name NAME       offer MULTIPORT and make the port a generic port called\n"
	"                         NAME ([A-Za-z0-9._-], up to 64): guest writes sleep instead\n"
	"                         of spinning with interrupts off as hvc writes do\n";

const char *const kCapabilities = "{\n  \"type\": \"console\"\n}\n";

enum : int { kOptStdio = 0x200, kOptPty, kOptPortSocket, kOptPortFd, kOptPortName };

struct PortOptions {
	bool stdio = false;
	bool pty = false;
	std::string socket;
	long fd = -1;
	std::string name;
};

std::string checked_port_name(const char *arg)
{
	std::string name(arg);
	const bool ok = !name.empty() && name.size() <= 64 &&
			std::all_of(name.begin(), name.end(), [](char c) {
				return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
			});
	if (!ok)
		throw std::invalid_argument("--port-name: 1 to 64 of [A-Za-z0-9._-], got '" + name + "'");
	return name;
}

int parse_options(int argc, char **argv, vlb::devices::ServerOptions &so, PortOptions &po)
{
	using namespace vlb::devices;
	return parse_device_options(argc, argv, {
		{"stdio", no_argument, nullptr, kOptStdio},
		{"pty", no_argument, nullptr, kOptPty},
		{"port-socket", required_argument, nullptr, kOptPortSocket},
		{"port-fd", required_argument, nullptr, kOptPortFd},
		{"port-name", required_argument, nullptr, kOptPortName},
	}, kUsage, so, [&](int c, const char *arg) {
		switch (c) {
		case kOptStdio: po.stdio = true; return true;
		case kOptPty: po.pty = true; return true;
		case kOptPortSocket: po.socket = arg; return true;
		case kOptPortFd: po.fd = static_cast<long>(parse_u64(arg, "--port-fd")); return true;
		case kOptPortName: po.name = checked_port_name(arg); return true;
		default:
			return false;
		}
	});
}

// The port's host side. Sockets accept one client at a time; when it
// leaves, the next one is accepted.
class Port {
public:
	Port(vlb::vu::EventLoop &loop, vlb::devices::ConsoleDevice &dev, const vlb::Logger &log)
		: loop_(loop), dev_(dev), log_(log)
	{
	}
	~Port()
	{
		if (listener_)
			loop_.unwatch(listener_.get());
	}
	Port(const Port &) = delete;
	Port &operator=(const Port &) = delete;
	Port(Port &&) = delete;
	Port &operator=(Port &&) = delete;

	void use_stdio() { dev_.attach({STDIN_FILENO, STDOUT_FILENO}, [this] { log_.info("stdin closed"); }); }

	void use_pty()
	{
		conn_ = vlb::UniqueFd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
		if (!conn_ || ::grantpt(conn_.get()) != 0 || ::unlockpt(conn_.get()) != 0)
			vlb::throw_errno("posix_openpt");
		std::array<char, 128> name{};
		if (::ptsname_r(conn_.get(), name.data(), name.size()) != 0)
			vlb::throw_errno("ptsname_r");
		log_.info("console port on %s", name.data());
		dev_.attach({conn_.get(), conn_.get()}, [this] { log_.info("pty closed"); });
	}

	void use_socket(vlb::UniqueFd sock)
	{
		int listening = 0;
		socklen_t len = sizeof(listening);
		if (::getsockopt(sock.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
			vlb::throw_errno("--port-fd is not a socket");
		if (!listening) {
			// A slow peer must hold the port's output, not the device.
			const int fl = ::fcntl(sock.get(), F_GETFL);
			if (fl < 0 || ::fcntl(sock.get(), F_SETFL, fl | O_NONBLOCK) != 0)
				vlb::throw_errno("O_NONBLOCK on --port-fd");
			conn_ = std::move(sock);
			dev_.attach({conn_.get(), conn_.get()}, [this] { log_.info("port peer closed"); });
			return;
		}
		listener_ = std::move(sock);
		loop_.watch(listener_.get(), [this] { accept_client(); });
	}

private:
	void accept_client()
	{
		vlb::UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (!c)
			return;
		if (conn_) {
			log_.warn("console port busy: second client refused");
			return;
		}
		conn_ = std::move(c);
		log_.info("console client connected");
		dev_.attach({conn_.get(), conn_.get()}, [this] {
			log_.info("console client left");
			conn_.reset();
		});
	}

	vlb::vu::EventLoop &loop_;
	vlb::devices::ConsoleDevice &dev_;
	const vlb::Logger &log_;
	vlb::UniqueFd listener_;
	vlb::UniqueFd conn_;
};

} // namespace

int main(int argc, char **argv)
{
	using namespace vlb;
	using namespace vlb::devices;
	Logger log("vlb-dev-console");
	return run_program(log, [&] {
		ServerOptions so;
		PortOptions po;
		if (const int rc = parse_options(argc, argv, so, po); rc != 0)
			return rc;
		if (const auto rc = finish_options(so, kUsage, kCapabilities, log))
			return *rc;
		const int ports = (po.stdio ? 1 : 0) + (po.pty ? 1 : 0) + (po.socket.empty() ? 0 : 1) + (po.fd >= 0 ? 1 : 0);
		if (ports != 1)
			throw std::invalid_argument("exactly one of --stdio, --pty, --port-socket and --port-fd is required");
		vu::EventLoop loop;
		const auto sig = watch_termination(loop, log);
		ConsoleDevice dev(loop, log, po.name);
		Port port(loop, dev, log);
		if (po.stdio)
			port.use_stdio();
		else if (po.pty)
			port.use_pty();
		else if (!po.socket.empty())
			port.use_socket(vlb::listen_unix(po.socket));
		else
			port.use_socket(UniqueFd(static_cast<int>(po.fd)));
		const int status = serve(dev, loop, so, log);
		dev.detach();
		return status;
	}, vlb::ExecAfterStart::kForbidden);
}
