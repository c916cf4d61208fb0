// SPDX-License-Identifier: Apache-2.0
// Fuzzes the parser of vlb-dev-input's --script files: any text ends in a
// list of steps or an std::invalid_argument naming the line, nothing else.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "event_sources.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string text(reinterpret_cast<const char *>(data), size);
	try {
		const auto steps = vlb::devices::ScriptSource::parse(text, "fuzz");
		if (steps.empty())
			__builtin_trap(); // parse() promises at least one step
	} catch (const std::invalid_argument &) {
	}
	return 0;
}
