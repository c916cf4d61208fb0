// SPDX-License-Identifier: Apache-2.0
// Identity and capabilities with libcap-ng: supplementary groups dropped,
// gid and uid set (real, effective, saved), and only the Spec's capabilities
// kept, in the permitted, effective, inheritable, ambient and bounding sets
// alike, so they survive exec as a non-root user and nothing else can come
// back. The result is read back and checked, not assumed.
#include <cap-ng.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "steps.h"
#include "vlb/sys_error.h"

namespace vlb::sandbox::detail {
namespace {

// Reads the sets back from the kernel; names what is left beyond the
// |kept| capabilities the Spec asked for (empty when all is as asked).
std::string capabilities_left(std::size_t kept)
{
	__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2]{};
	if (::syscall(SYS_capget, &hdr, data) != 0)
		throw_errno("capget");
	std::size_t permitted = 0;
	std::size_t bounding = 0;
	std::size_t ambient = 0;
	for (unsigned cap = 0; cap <= CAP_LAST_CAP; ++cap) {
		const auto &d = data[cap / 32];
		const unsigned bit = 1U << (cap % 32);
		permitted += (d.permitted & bit) != 0U ? 1 : 0;
		bounding += ::prctl(PR_CAPBSET_READ, cap) == 1 ? 1 : 0;
		ambient += ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1 ? 1 : 0;
	}
	std::string left;
	if (permitted > kept)
		left += std::to_string(permitted) + " permitted ";
	if (bounding > kept)
		left += std::to_string(bounding) + " bounding ";
	if (ambient > kept)
		left += std::to_string(ambient) + " ambient";
	return left;
}

} // namespace

std::string apply_identity_and_capabilities(const Spec &spec)
{
	if (spec.uid == 0 || spec.gid == 0)
		throw std::runtime_error("identity: refusing to run as uid or gid 0");
	capng_clear(CAPNG_SELECT_ALL);
	std::string kept;
	for (const auto &name : spec.capabilities) {
		const int cap = capng_name_to_capability(name.c_str());
		if (cap < 0)
			throw std::runtime_error("capabilities: unknown capability " + name);
		const auto sets = static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE |
							    CAPNG_BOUNDING_SET | CAPNG_AMBIENT);
		if (capng_update(CAPNG_ADD, sets, static_cast<unsigned>(cap)) != 0)
			throw std::runtime_error("capabilities: cannot keep " + name);
		kept += (kept.empty() ? "" : ",") + name;
	}
	// Drops supplementary groups, sets gid then uid, applies the sets above
	// and clears the bounding set down to them.
	const int rc = capng_change_id(static_cast<int>(spec.uid), static_cast<int>(spec.gid),
				       static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
	if (rc != 0)
		throw std::runtime_error("identity: capng_change_id to " + std::to_string(spec.uid) + ":" +
					 std::to_string(spec.gid) + " failed (" + std::to_string(rc) + ")");
	if (capng_apply(CAPNG_SELECT_ALL) != 0)
		throw std::runtime_error("capabilities: applying the ambient and bounding sets failed");

	// Check what the kernel now says.
	uid_t r = 0;
	uid_t e = 0;
	uid_t s = 0;
	gid_t rg = 0;
	gid_t eg = 0;
	gid_t sg = 0;
	if (::getresuid(&r, &e, &s) != 0 || ::getresgid(&rg, &eg, &sg) != 0)
		throw_errno("identity: read back ids");
	if (r != spec.uid || e != spec.uid || s != spec.uid || rg != spec.gid || eg != spec.gid || sg != spec.gid)
		throw std::runtime_error("identity: ids did not change as asked");
	if (::getgroups(0, nullptr) != 0)
		throw std::runtime_error("identity: supplementary groups remain");
	const std::string left = capabilities_left(spec.capabilities.size());
	if (!left.empty())
		throw std::runtime_error("capabilities: left after the drop: " + left);
	return "identity: uid " + std::to_string(spec.uid) + ", gid " + std::to_string(spec.gid) +
	       ", no supplementary groups; capabilities: " + (kept.empty() ? "none" : kept) +
	       " (bounding and ambient sets match)";
}

} // namespace vlb::sandbox::detail
