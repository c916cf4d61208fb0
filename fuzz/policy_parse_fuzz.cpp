// SPDX-License-Identifier: Apache-2.0
// Policy files are operator input, but also whatever lands in the policy
// directory: any bytes must end in a Policy or a PolicyError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vlb/policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string_view text(reinterpret_cast<const char *>(data), size); // NOLINT
	try {
		const auto p = vlb::policy::parse_policy(text, "fuzz.toml");
		// A policy that parsed must be usable as it stands.
		if (p.name.empty() || p.digest.size() != 71)
			__builtin_trap();
	} catch (const vlb::policy::PolicyError &) {
	}
	return 0;
}
