// SPDX-License-Identifier: Apache-2.0
// Where the dynamic loader and the shared libraries live: read access for
// every sandboxed program, whatever its policy says.
#include <sys/stat.h>

#include <stdexcept>

#include "steps.h"

namespace vlb::sandbox::detail {

std::vector<std::string> system_read_paths()
{
	std::vector<std::string> out;
	for (const char *p : {"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache"}) {
		struct stat st{};
		if (::stat(p, &st) == 0)
			out.emplace_back(p);
	}
	return out;
}

std::string dynamic_loader_path()
{
#if defined(__x86_64__)
	return "/lib64/ld-linux-x86-64.so.2";
#elif defined(__aarch64__)
	return "/lib/ld-linux-aarch64.so.1";
#else
	throw std::runtime_error("sandbox: no dynamic loader path known for this architecture");
#endif
}

} // namespace vlb::sandbox::detail
