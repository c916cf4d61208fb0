// SPDX-License-Identifier: Apache-2.0
// One hostile device process of a campaign: it creates a device with
// random (often invalid) parameters and config, then for a random
// lifetime answers control messages correctly, wrongly, late or never,
// serves, garbles or ignores requests, and does at random everything else
// a holder of a device fd can: eventfds set and cleared, VLB_IOVA_CALL,
// VLB_DEV_VQ_INTERRUPT, VLB_IOVA_COPY with random segments and files,
// config updates, REATTACH of other devices, IOVA pages touched, fds held
// by forked children, its device fd closed early. Everything it chooses
// comes from its seed, so a campaign's seed replays it.
#pragma once

#include <cstdint>
#include <string>

#include "counters.h"

namespace vlb::hostile {

struct ActorConfig {
	std::uint64_t seed = 0;
	unsigned slot = 0;        // which of the campaign's concurrent processes
	unsigned generation = 0;  // how many ran in this slot before
	unsigned slots = 1;       // for the names of the others
	Counters *counters = nullptr;
	std::string control_node = "/dev/virtio-loopback";
};

// The device name of |slot|'s process number |generation|.
std::string actor_name(unsigned slot, unsigned generation);

// Runs in a forked process; returns its exit status.
int run_actor(const ActorConfig &cfg);

} // namespace vlb::hostile
