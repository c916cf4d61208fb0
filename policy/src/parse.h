// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <toml++/toml.h>

#include "reader.h"
#include "vlb/policy/policy.h"

namespace vlb::policy::detail {

// Reads the document into a Policy (types and defaults only).
Policy parse(const toml::table &doc, const std::string &file, Locations &where);

// Consistency and privilege checks; throws PolicyError at the key.
void validate(const Policy &p, const Locations &where);

} // namespace vlb::policy::detail
