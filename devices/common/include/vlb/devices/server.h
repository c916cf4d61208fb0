// SPDX-License-Identifier: Apache-2.0
// What every vlb-dev-<type> program shares: QEMU's vhost-user back-end
// program conventions (--socket-path, --fd, --print-capabilities), the
// accept loop, and the request helpers devices use on descriptor chains.
#pragma once

#include <getopt.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vlb/program.h"
#include "vlb/log.h"
#include "vlb/vu/backend.h"

namespace vlb::devices {

using vlb::parse_u64; // the devices' option parsers call it unqualified

struct ServerOptions {
	std::string socket_path;
	int fd = -1;
	bool print_capabilities = false;
	bool help = false;
	bool verbose = false;
	// Signal completions by writing the call eventfd only, never with
	// VLB_IOVA_CALL (vu::Backend::set_kernel_calls).
	bool call_by_eventfd = false;
};

// The option table entries every device accepts; devices append theirs.
std::vector<option> common_options();
// Handles a common option; false if |opt| is not one.
bool handle_common_option(int opt, const char *arg, ServerOptions &so);
// Usage text for the common options.
const char *common_usage();
// The short option letters of common_options().
inline constexpr const char *kCommonShortOptions = "hv";

// Parses argv: the common options into |so|, each of |extra| through
// |handle| (which returns false for an option it does not know). Unknown
// options print |usage| to stderr and return kExitUsage; stray arguments
// throw std::invalid_argument. Returns 0 when main should go on.
int parse_device_options(int argc, char **argv, std::vector<option> extra, const char *usage,
			 ServerOptions &so, const std::function<bool(int opt, const char *arg)> &handle);

// Throws std::invalid_argument naming the problem (e.g. neither or both of
// --socket-path and --fd).
void check_server_options(const ServerOptions &so);

// The standard steps after option parsing: --help (usage and the common
// options), --print-capabilities (|capabilities|, JSON), the --socket-path/
// --fd check, --verbose. Returns an exit status when main should stop now.
std::optional<int> finish_options(const ServerOptions &so, const char *usage, const char *capabilities,
				  Logger &log);

// Serves front-ends one at a time until a connected --fd closes, or, with
// a listening socket, until the loop is stopped by a signal. |on_connect|
// sees each Backend (e.g. to send config-change notifications).
// Returns the exit status.
int serve(vu::Device &dev, vu::EventLoop &loop, const ServerOptions &so, const Logger &log,
	  const std::function<void(vu::Backend *)> &on_connect = {});

// Copies up to out.size() bytes from the start of |segs| (a readable
// chain part); returns bytes copied.
std::size_t gather(std::span<const vu::Segment> segs, std::span<std::uint8_t> out,
		   std::uint64_t skip = 0);
// Copies |in| into |segs| from byte |skip| on; returns bytes copied.
std::size_t scatter(std::span<const vu::Segment> segs, std::span<const std::uint8_t> in,
		    std::uint64_t skip = 0);

// Blocks the termination signals and returns a signalfd for them, watched
// on |loop| to stop it; keeps the process's exit clean under systemd.
UniqueFd watch_termination(vu::EventLoop &loop, const Logger &log);

} // namespace vlb::devices
