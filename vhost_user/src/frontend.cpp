// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/frontend.h"

#include <cstring>
#include <string>

namespace vlb::vu {
namespace {

template <typename T> std::span<const std::uint8_t> bytes_of(const T &v)
{
	return {reinterpret_cast<const std::uint8_t *>(&v), sizeof(v)};
}

std::uint32_t code_of(Request r) { return static_cast<std::uint32_t>(r); }

} // namespace

Frontend::Frontend(UniqueFd sock, std::chrono::milliseconds timeout) : chan_(std::move(sock))
{
	if (timeout.count() > 0)
		chan_.set_timeout(timeout);
}

Message Frontend::call(Request req, std::span<const std::uint8_t> payload,
		       std::span<const int> fds)
{
	chan_.send(code_of(req), 0, payload, fds);
	auto reply = chan_.receive();
	if (!reply)
		throw ProtocolError("back-end closed the connection; waiting for the reply to " +
				    std::string(request_name(code_of(req))));
	check_reply(*reply, code_of(req));
	return std::move(*reply);
}

void Frontend::post(Request req, std::span<const std::uint8_t> payload,
		    std::span<const int> fds)
{
	if (!reply_ack_) {
		chan_.send(code_of(req), 0, payload, fds);
		return;
	}
	chan_.send(code_of(req), kFlagNeedReply, payload, fds);
	auto reply = chan_.receive();
	if (!reply)
		throw ProtocolError("back-end closed the connection; waiting for the ack of " +
				    std::string(request_name(code_of(req))));
	check_reply(*reply, code_of(req));
	if (const auto status = reply->as_u64(); status != 0)
		throw ProtocolError(std::string(request_name(code_of(req))) +
				    " refused by the back-end (status " + std::to_string(status) + ")");
}

std::uint64_t Frontend::get_features() { return call(Request::GetFeatures, {}).as_u64(); }

void Frontend::set_features(std::uint64_t features) { post(Request::SetFeatures, bytes_of(features)); }

std::uint64_t Frontend::get_protocol_features()
{
	return call(Request::GetProtocolFeatures, {}).as_u64();
}

void Frontend::set_protocol_features(std::uint64_t features)
{
	post(Request::SetProtocolFeatures, bytes_of(features));
	reply_ack_ = (features & bit(pf::kReplyAck)) != 0;
}

std::uint64_t Frontend::get_queue_num() { return call(Request::GetQueueNum, {}).as_u64(); }

void Frontend::set_owner() { post(Request::SetOwner, {}); }

void Frontend::reset_device() { post(Request::ResetDevice, {}); }

void Frontend::set_mem_table(std::span<const MemRegion> regions, std::span<const int> fds)
{
	if (regions.empty() || regions.size() > kMaxMemRegions || regions.size() != fds.size())
		throw ProtocolError("SET_MEM_TABLE: 1.." + std::to_string(kMaxMemRegions) +
				    " regions, one fd each");
	std::vector<std::uint8_t> buf(sizeof(MemTableHeader) + regions.size_bytes());
	const MemTableHeader h{static_cast<std::uint32_t>(regions.size()), 0};
	std::memcpy(buf.data(), &h, sizeof(h));
	std::memcpy(buf.data() + sizeof(h), regions.data(), regions.size_bytes());
	post(Request::SetMemTable, buf, fds);
}

void Frontend::set_vring_num(std::uint32_t index, std::uint32_t num)
{
	post(Request::SetVringNum, bytes_of(VringState{index, num}));
}

void Frontend::set_vring_addr(const VringAddr &addr) { post(Request::SetVringAddr, bytes_of(addr)); }

void Frontend::set_vring_base(std::uint32_t index, std::uint16_t base)
{
	post(Request::SetVringBase, bytes_of(VringState{index, base}));
}

std::uint16_t Frontend::get_vring_base(std::uint32_t index)
{
	const auto s = call(Request::GetVringBase, bytes_of(VringState{index, 0})).as<VringState>();
	if (s.index != index || s.num > 0xffff)
		throw ProtocolError("GET_VRING_BASE reply for queue " + std::to_string(s.index) +
				    " with base " + std::to_string(s.num));
	return static_cast<std::uint16_t>(s.num);
}

void Frontend::set_vring_fd(Request req, std::uint32_t index, int fd)
{
	std::uint64_t v = index & kVringIndexMask;
	if (fd < 0) {
		v |= kVringNoFd;
		post(req, bytes_of(v));
		return;
	}
	const int fds[] = {fd};
	post(req, bytes_of(v), fds);
}

void Frontend::set_vring_kick(std::uint32_t index, int fd) { set_vring_fd(Request::SetVringKick, index, fd); }

void Frontend::set_vring_call(std::uint32_t index, int fd) { set_vring_fd(Request::SetVringCall, index, fd); }

void Frontend::set_vring_enable(std::uint32_t index, bool enable)
{
	post(Request::SetVringEnable, bytes_of(VringState{index, enable ? 1U : 0U}));
}

std::vector<std::uint8_t> Frontend::get_config(std::uint32_t offset, std::uint32_t size)
{
	if (size > kMaxConfigSize)
		throw ProtocolError("GET_CONFIG of more than " + std::to_string(kMaxConfigSize) +
				    " bytes");
	std::vector<std::uint8_t> buf(sizeof(ConfigHeader) + size);
	const ConfigHeader h{offset, size, 0};
	std::memcpy(buf.data(), &h, sizeof(h));
	const auto reply = call(Request::GetConfig, buf);
	const auto rh = reply.as<ConfigHeader>();
	if (rh.offset != offset || rh.size != size)
		throw ProtocolError("GET_CONFIG reply for a different range");
	return {reply.payload.begin() + sizeof(ConfigHeader), reply.payload.end()};
}

void Frontend::set_config(std::uint32_t offset, std::span<const std::uint8_t> data)
{
	if (data.size() > kMaxConfigSize)
		throw ProtocolError("SET_CONFIG of more than " + std::to_string(kMaxConfigSize) +
				    " bytes");
	std::vector<std::uint8_t> buf(sizeof(ConfigHeader) + data.size());
	const ConfigHeader h{offset, static_cast<std::uint32_t>(data.size()), 0};
	std::memcpy(buf.data(), &h, sizeof(h));
	std::memcpy(buf.data() + sizeof(h), data.data(), data.size());
	post(Request::SetConfig, buf);
}

Frontend::Inflight Frontend::get_inflight_fd(std::uint16_t num_queues, std::uint16_t queue_size)
{
	InflightInfo info{};
	info.num_queues = num_queues;
	info.queue_size = queue_size;
	auto reply = call(Request::GetInflightFd, bytes_of(info));
	const auto r = reply.as<InflightInfo>();
	if (r.num_queues != num_queues || r.queue_size != queue_size || r.mmap_size == 0)
		throw ProtocolError("GET_INFLIGHT_FD reply for a different geometry");
	Inflight out;
	out.fd = reply.take_fd();
	check_fd_covers(out.fd.get(), r.mmap_offset, r.mmap_size, "GET_INFLIGHT_FD");
	out.mmap_size = r.mmap_size;
	out.mmap_offset = r.mmap_offset;
	out.num_queues = r.num_queues;
	out.queue_size = r.queue_size;
	return out;
}

void Frontend::set_inflight_fd(const Inflight &inflight)
{
	InflightInfo info{};
	info.mmap_size = inflight.mmap_size;
	info.mmap_offset = inflight.mmap_offset;
	info.num_queues = inflight.num_queues;
	info.queue_size = inflight.queue_size;
	const int fds[] = {inflight.fd.get()};
	post(Request::SetInflightFd, bytes_of(info), fds);
}

void Frontend::set_backend_req_fd(int fd)
{
	const int fds[] = {fd};
	post(Request::SetBackendReqFd, {}, fds);
}

} // namespace vlb::vu
