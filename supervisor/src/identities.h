// SPDX-License-Identifier: Apache-2.0
// Each device's own uid and gid. Processes of one identity can signal each
// other (kill checks only the uids) and, when dumpable, ptrace each other
// and take each other's fds (pidfd_getfd); a shared identity (every
// sandbox as nobody, as before) let any device, and any host process
// running as nobody, do that to every device. A device's adapter and
// back-end share its identity: each sits in a pid namespace of its own, so
// neither can name the other's pid, both give up being dumpable
// (vlb/undumpable.h), and a back-end reached by socket path must be
// connectable by its adapter under the unit's UMask=0077.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "vlb/policy/policy.h"

namespace vlb::supervisor {

// The host ids the supervisor hands out, one per loaded device. The default
// lies in the block systemd documents as unused (1879048192…2147483647,
// UIDS-GIDS.md), clear of subuid ranges (useradd hands those out from
// 100000), of systemd-nspawn's container ranges (524288…1879048191) and of
// newer systemd's foreign range (0x7ffe0000…).
struct IdRange {
	std::uint32_t first = 0x70000000;
	std::uint32_t count = 65536;
};

// "FIRST:COUNT", decimal or 0x-prefixed; throws std::invalid_argument
// naming what is wrong. Refuses 0, ids past 2^31-1 (systemd: "hic sunt
// leones") and the 16-bit -1.
IdRange parse_id_range(const std::string &text);

// Where the host's own ids are written down: its users and groups, and
// the subordinate ranges handed to users for their user namespaces.
struct HostIdFiles {
	std::string passwd = "/etc/passwd";
	std::string group = "/etc/group";
	std::string subuid = "/etc/subuid";
	std::string subgid = "/etc/subgid";
};

// Throws std::invalid_argument when an id of |range| is already the host's:
// a user's or group's in |files|' passwd and group, or inside a subuid or
// subgid range (a user's namespaced processes run as those), or when one
// of the files exists but cannot be read. A device process with such an id
// could signal, and a dumpable one could be traced by, processes of that
// user, and the other way round. A file that does
// not exist has no ids; ids from other NSS sources (LDAP, sssd) are not
// seen.
void check_id_range_is_unused(const IdRange &range, const HostIdFiles &files = {});

class Identities {
public:
	// |control_group| (0: none) may drive the supervisor through its
	// control socket; no device is ever given it.
	explicit Identities(IdRange range, gid_t control_group = 0) : range_(range), control_group_(control_group)
	{
	}

	// Sets the ids |p|'s processes run as: the device's own where the
	// policy names none. The same for a name from one load to the next,
	// unless another device took its slot in between (the name's hash
	// picks the slot; a taken slot moves it to the next free one).
	// Throws std::runtime_error when the range is full, or when an id
	// the policy names lies in the range, is another loaded device's or
	// is the control group (a gid only: a uid that equals it grants
	// nothing).
	void assign(policy::Policy &p);
	// |device| is unloaded: its ids are free again.
	void release(const std::string &device);
	[[nodiscard]] const IdRange &range() const { return range_; }

private:
	[[nodiscard]] bool in_range(std::uint32_t id) const { return id - range_.first < range_.count; }
	void claim(const std::string &device, std::uint32_t id, const char *what);

	IdRange range_;
	gid_t control_group_;
	std::map<std::uint32_t, std::string> owner_; // every id in use → its device
};

} // namespace vlb::supervisor
