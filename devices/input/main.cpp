// SPDX-License-Identifier: Apache-2.0
// vlb-dev-input: virtio-input over vhost-user, fed by a host evdev node or
// a scripted event stream.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <sstream>

#include "event_sources.h"
#include "input_device.h"
#include "vlb/devices/server.h"
#include "vlb/program.h"
#include "vlb/sys_error.h"

namespace {

const char *const kUsage =
	"Usage: vlb-dev-input (--socket-path PATH | --fd N) (--evdev DEV | --evdev-fd N | --script FILE) [OPTIONS]\n"
	"virtio-input vhost-user back-end.\n\n"
	"  --evdev DEV            forward a host evdev node (e.g. /dev/input/event3)\n"
	"  --evdev-fd N           the same, from an inherited fd\n"
	"  --script FILE          play 'TYPE CODE VALUE' / 'sleep MS' lines (see the README)\n"
	"  --loop                 replay the script forever (it needs a sleep step)\n"
	"  --name STR             device name for --script (default vlb-input)\n"
	"  --serial STR           device serial for --script\n";

const char *const kCapabilities = "{\n  \"type\": \"input\",\n  \"features\": [\n    \"evdev-path\"\n  ]\n}\n";

enum : int { kOptEvdev = 0x200, kOptEvdevFd, kOptScript, kOptLoop, kOptName, kOptSerial };

struct InputOptions {
	std::string evdev;
	long evdev_fd = -1;
	std::string script;
	bool loop = false;
	std::string name = "vlb-input";
	std::string serial;
};

int parse_options(int argc, char **argv, vlb::devices::ServerOptions &so, InputOptions &io)
{
	using namespace vlb::devices;
	return parse_device_options(argc, argv, {
		{"evdev", required_argument, nullptr, kOptEvdev},
		{"evdev-fd", required_argument, nullptr, kOptEvdevFd},
		{"script", required_argument, nullptr, kOptScript},
		{"loop", no_argument, nullptr, kOptLoop},
		{"name", required_argument, nullptr, kOptName},
		{"serial", required_argument, nullptr, kOptSerial},
	}, kUsage, so, [&](int c, const char *arg) {
		switch (c) {
		case kOptEvdev: io.evdev = arg; return true;
		case kOptEvdevFd: io.evdev_fd = static_cast<long>(parse_u64(arg, "--evdev-fd")); return true;
		case kOptScript: io.script = arg; return true;
		case kOptLoop: io.loop = true; return true;
		case kOptName: io.name = arg; return true;
		case kOptSerial: io.serial = arg; return true;
		default:
			return false;
		}
	});
}

} // namespace

int main(int argc, char **argv)
{
	using namespace vlb;
	using namespace vlb::devices;
	Logger log("vlb-dev-input");
	return run_program(log, [&] {
		ServerOptions so;
		InputOptions io;
		if (const int rc = parse_options(argc, argv, so, io); rc != 0)
			return rc;
		if (const auto rc = finish_options(so, kUsage, kCapabilities, log))
			return *rc;
		const int sources = (io.evdev.empty() ? 0 : 1) + (io.evdev_fd >= 0 ? 1 : 0) + (io.script.empty() ? 0 : 1);
		if (sources != 1)
			throw std::invalid_argument("exactly one of --evdev, --evdev-fd and --script is required");

		vu::EventLoop loop;
		const auto sig = watch_termination(loop, log);
		std::unique_ptr<EvdevSource> evdev;
		std::unique_ptr<ScriptSource> script;
		InputIdentity id;
		if (!io.script.empty()) {
			std::ifstream in(io.script);
			if (!in)
				throw std::invalid_argument("cannot read --script " + io.script);
			std::stringstream text;
			text << in.rdbuf();
			auto steps = ScriptSource::parse(text.str(), io.script);
			if (io.loop && std::none_of(steps.begin(), steps.end(),
						    [](const ScriptSource::Step &s) { return s.pause.count() > 0; }))
				throw std::invalid_argument("--loop needs a 'sleep' step in the script");
			script = std::make_unique<ScriptSource>(std::move(steps), io.loop);
			id.name = io.name;
			id.serial = io.serial;
			id.ids.bustype = 0x06;  // BUS_VIRTUAL
			script->describe(id);
		} else {
			UniqueFd fd(io.evdev_fd >= 0 ? static_cast<int>(io.evdev_fd)
						     : ::open(io.evdev.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
			if (!fd)
				throw_errno("open " + io.evdev);
			evdev = std::make_unique<EvdevSource>(std::move(fd), log);
			id = evdev->identity();
		}
		log.info("device '%s'", id.name.c_str());
		InputDevice dev(std::move(id), log);
		if (script)
			script->start(loop, dev);
		if (evdev)
			evdev->start(loop, dev);
		return serve(dev, loop, so, log);
	}, vlb::ExecAfterStart::kForbidden);
}
