// SPDX-License-Identifier: Apache-2.0
// The smallest CREATE request the module takes: an rng of one 64-entry
// queue in a 1 MiB IOVA space. Tests that need a device, any device, and
// change the one field they are about.
#pragma once

#include <linux/virtio_loopback.h>

#include <cstring>
#include <string>

namespace vlb::test {

inline vlb_create rng_create_request(const std::string &name)
{
	vlb_create c{};
	c.device_id = 4; // VIRTIO_ID_RNG
	c.device_features = 1ULL << 32; // VIRTIO_F_VERSION_1
	c.num_queues = 1;
	c.queue_size_max = 64;
	c.iova_size = 1ULL << 20;
	c.max_granted_pages = 64;
	c.bounce_pool_pages = 8;
	std::strncpy(c.name, name.c_str(), sizeof(c.name) - 1);
	return c;
}

} // namespace vlb::test
