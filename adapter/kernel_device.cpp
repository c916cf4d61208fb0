// SPDX-License-Identifier: Apache-2.0
#include "kernel_device.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "vlb/sys_error.h"

namespace vlb::adapter {

KernelDevice KernelDevice::create(const std::string &control_node, const CreateParams &p)
{
	const UniqueFd ctl(retry_eintr([&] { return ::open(control_node.c_str(), O_RDWR | O_CLOEXEC); }));
	if (!ctl)
		throw_errno("open " + control_node);
	return create(ctl.get(), p);
}

KernelDevice KernelDevice::create(int control_fd, const CreateParams &p)
{
	if (p.config.size() > VLB_CONFIG_MAX || p.name.empty() || p.name.size() >= VLB_NAME_MAX)
		throw std::invalid_argument("device config or name too large");
	vlb_create c{};
	c.device_id = p.device_id;
	c.device_features = p.features;
	c.num_queues = p.num_queues;
	c.queue_size_max = p.queue_size_max;
	c.config_size = static_cast<__u16>(p.config.size());
	c.max_granted_pages = p.max_granted_pages;
	c.bounce_threshold = p.bounce_threshold;
	c.iova_size = p.iova_size;
	std::memcpy(c.name, p.name.c_str(), p.name.size() + 1);
	std::copy(p.config.begin(), p.config.end(), std::begin(c.config));

	KernelDevice d;
	d.dev_.reset(::ioctl(control_fd, VLB_IOC_CREATE, &c));
	if (!d.dev_)
		throw_errno("VLB_IOC_CREATE of '" + p.name + "'");
	d.iova_size_ = c.iova_size != 0 ? c.iova_size : VLB_IOVA_SIZE_DEFAULT;
	d.offered_ = c.device_features;
	for (std::uint32_t i = 0; i < p.num_queues; i++) {
		d.kicks_.emplace_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		d.calls_.emplace_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		if (!d.kicks_.back() || !d.calls_.back())
			throw_errno("eventfd");
		vlb_vq_eventfd e{.index = i, .fd = d.kicks_.back().get(), .reserved = 0};
		if (::ioctl(d.dev_.get(), VLB_DEV_SET_VQ_KICK, &e) != 0)
			throw_errno("VLB_DEV_SET_VQ_KICK");
		e.fd = d.calls_.back().get();
		if (::ioctl(d.dev_.get(), VLB_DEV_SET_VQ_CALL, &e) != 0)
			throw_errno("VLB_DEV_SET_VQ_CALL");
	}
	return d;
}

UniqueFd KernelDevice::iova_fd() const
{
	UniqueFd iova(::ioctl(dev_.get(), VLB_DEV_GET_IOVA_FD));
	if (!iova)
		throw_errno("VLB_DEV_GET_IOVA_FD");
	return iova;
}

std::optional<vlb_msg> KernelDevice::read_message() const
{
	vlb_msg msg{};
	const ssize_t n = retry_eintr([&] { return ::read(dev_.get(), &msg, sizeof(msg)); });
	if (n < 0) {
		if (errno == EAGAIN)
			return std::nullopt;
		throw_errno("read control message");
	}
	if (n != static_cast<ssize_t>(sizeof(msg)))
		throw std::runtime_error("short control message from the kernel");
	return msg;
}

void KernelDevice::reply(const vlb_msg &msg, int result) const
{
	const vlb_reply r{.seq = msg.seq, .result = result, .reserved = {0, 0}};
	if (retry_eintr([&] { return ::write(dev_.get(), &r, sizeof(r)); }) != static_cast<ssize_t>(sizeof(r)))
		throw_errno("write control reply");
}

void KernelDevice::update_config(std::uint32_t offset, std::span<const std::uint8_t> bytes) const
{
	vlb_config_update u{};
	if (bytes.size() > sizeof(u.data))
		throw std::invalid_argument("config update too large");
	u.offset = offset;
	u.len = static_cast<__u32>(bytes.size());
	std::copy(bytes.begin(), bytes.end(), std::begin(u.data));
	if (::ioctl(dev_.get(), VLB_DEV_CONFIG_UPDATE, &u) != 0)
		throw_errno("VLB_DEV_CONFIG_UPDATE");
}

} // namespace vlb::adapter
