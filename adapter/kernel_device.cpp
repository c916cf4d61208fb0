// SPDX-License-Identifier: Apache-2.0
#include "kernel_device.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "vlb/sys_error.h"

namespace vlb::adapter {

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
	d.attach_eventfds(p.num_queues);
	return d;
}

KernelDevice KernelDevice::reattach(int control_fd, const std::string &name)
{
	if (name.empty() || name.size() >= VLB_NAME_MAX)
		throw std::invalid_argument("device name empty or too long");
	vlb_reattach r{};
	std::memcpy(r.name, name.c_str(), name.size() + 1);
	KernelDevice d;
	d.dev_.reset(::ioctl(control_fd, VLB_IOC_REATTACH, &r));
	if (!d.dev_)
		throw_errno("VLB_IOC_REATTACH of '" + name + "'");
	const vlb_dev_state st = d.state();
	d.iova_size_ = st.params.iova_size;
	d.offered_ = st.params.device_features;
	// The old adapter's eventfds died with it; the kernel swaps in ours.
	d.attach_eventfds(st.params.num_queues);
	return d;
}

void KernelDevice::attach_eventfds(std::uint32_t num_queues)
{
	for (std::uint32_t i = 0; i < num_queues; i++) {
		kicks_.emplace_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		calls_.emplace_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		if (!kicks_.back() || !calls_.back())
			throw_errno("eventfd");
		vlb_vq_eventfd e{.index = i, .fd = kicks_.back().get(), .reserved = 0};
		if (::ioctl(dev_.get(), VLB_DEV_SET_VQ_KICK, &e) != 0)
			throw_errno("VLB_DEV_SET_VQ_KICK");
		e.fd = calls_.back().get();
		if (::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e) != 0)
			throw_errno("VLB_DEV_SET_VQ_CALL");
	}
}

vlb_dev_state KernelDevice::state() const
{
	vlb_dev_state st{};
	if (::ioctl(dev_.get(), VLB_DEV_GET_STATE, &st) != 0)
		throw_errno("VLB_DEV_GET_STATE (a module older than ABI 0.2 cannot be reattached)");
	return st;
}

vlb_stats KernelDevice::stats() const
{
	vlb_stats s{};
	if (::ioctl(dev_.get(), VLB_DEV_GET_STATS, &s) != 0)
		throw_errno("VLB_DEV_GET_STATS");
	return s;
}

std::optional<QueueState> KernelDevice::queue_state(std::uint16_t q) const
{
	// 4 KiB: on the heap, not the stack.
	auto vs = std::make_unique<vlb_vq_state>();
	vs->index = q;
	if (::ioctl(dev_.get(), VLB_DEV_GET_VQ_STATE, vs.get()) != 0)
		throw_errno("VLB_DEV_GET_VQ_STATE of queue " + std::to_string(q));
	if (!(vs->flags & VLB_VQ_STATE_F_READY))
		return std::nullopt;
	if (vs->inflight_num > vs->num || vs->num > VLB_QUEUE_SIZE_MAX ||
	    static_cast<std::uint16_t>(vs->last_avail - vs->used_idx) != vs->inflight_num)
		throw std::runtime_error("VLB_DEV_GET_VQ_STATE of queue " + std::to_string(q) +
					 ": inconsistent state (" + std::to_string(vs->inflight_num) +
					 " in flight, avail " + std::to_string(vs->last_avail) + ", used " +
					 std::to_string(vs->used_idx) + ")");
	QueueState s{vs->num, vs->desc, vs->avail, vs->used, vs->last_avail, vs->used_idx, {}};
	std::vector<vlb_vq_inflight> in(vs->inflight, vs->inflight + vs->inflight_num);
	// Oldest first: the furthest back from last_avail (mod 2^16).
	std::stable_sort(in.begin(), in.end(), [&](const vlb_vq_inflight &a, const vlb_vq_inflight &b) {
		return static_cast<std::uint16_t>(s.last_avail - a.avail_pos) >
		       static_cast<std::uint16_t>(s.last_avail - b.avail_pos);
	});
	for (const auto &r : in) {
		if (r.head >= s.num)
			throw std::runtime_error("VLB_DEV_GET_VQ_STATE: head out of the ring");
		s.inflight.push_back(r.head);
	}
	return s;
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
		if (errno == ENODEV)
			throw std::runtime_error("the kernel removed the device (it broke, or the module is "
						 "going away); a restarted adapter creates it again");
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

int KernelDevice::update_config(std::uint32_t offset, std::span<const std::uint8_t> bytes) const
{
	vlb_config_update u{};
	if (bytes.size() > sizeof(u.data))
		throw std::invalid_argument("config update too large");
	u.offset = offset;
	u.len = static_cast<__u32>(bytes.size());
	std::copy(bytes.begin(), bytes.end(), std::begin(u.data));
	if (::ioctl(dev_.get(), VLB_DEV_CONFIG_UPDATE, &u) == 0)
		return 0;
	if (errno == EINVAL || errno == EBUSY || errno == EAGAIN)
		return errno;
	throw_errno("VLB_DEV_CONFIG_UPDATE");
}

} // namespace vlb::adapter
