// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/backend.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "vlb/sys_error.h"

#include <linux/virtio_loopback.h>

namespace vlb::vu {
namespace {

std::span<const std::uint8_t> bytes_of(const auto &v)
{
	return {reinterpret_cast<const std::uint8_t *>(&v), sizeof(v)};
}

constexpr std::uint32_t kMaxMemSlots = kMaxMemRegions;

std::string hex(std::uint64_t v)
{
	char b[24];
	std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
	return b;
}

} // namespace

// ---- VirtQueue: the device's data path ----

bool VirtQueue::take_budget()
{
	if (loop_->turn() != budget_turn_) {
		budget_turn_ = loop_->turn();
		budget_ = num_;
		desc_budget_ = kDescriptorsPerTurn;
		yielded_ = false;
	}
	if (budget_ > 0 && desc_budget_ > 0)
		return true;
	if (!yielded_ && (resubmit_next_ < resubmit_.size() || ring_->has_pending())) {
		yielded_ = true;
		counters_.yields++;
		// Our own kick: the loop comes back to this queue after the
		// other fds that are ready. Not signal_eventfd(): a failure here
		// must not throw out of the device's processing.
		if (!kick_ || (::eventfd_write(kick_.get(), 1) != 0 && errno != EAGAIN))
			log_->warn("queue %u: chain budget spent and no kick fd to resume by", index_);
	}
	return false;
}

bool VirtQueue::pop(Chain &out)
{
	if (!running() || !take_budget())
		return false;
	std::optional<std::uint16_t> head;
	if (resubmit_next_ < resubmit_.size()) {
		head = resubmit_[resubmit_next_++];
	} else {
		bool bad_idx = false;
		head = ring_->pop(bad_idx);
		if (bad_idx) {
			log_->error("queue %u: avail index moved past the ring size; queue stopped",
				    index_);
			broken_ = true;
			return false;
		}
		if (!head)
			return false;
		inflight_.begin(*head);
	}
	budget_--;
	const ChainError err = ring_->walk(*head, *mem_, out);
	desc_budget_ -= std::min(desc_budget_, out.descriptors);
	if (err != ChainError::kNone) {
		log_->error("queue %u: descriptor chain at head %u: %s; queue stopped", index_,
			    *head, std::string(chain_error_name(err)).c_str());
		counters_.refused_chains++;
		if (err == ChainError::kOverlapsRing)
			counters_.refused_ring_overlap++;
		broken_ = true;
		return false;
	}
	counters_.chains++;
	return true;
}

void VirtQueue::complete(std::uint16_t head, std::uint32_t written)
{
	if (!ring_ || broken_)
		return;
	inflight_.before_used(head);
	ring_->push_used(head, written);
	inflight_.after_used(head, ring_->used_idx());
	pending_notify_ = true;
}

void VirtQueue::notify()
{
	if (!ring_ || !pending_notify_)
		return;
	pending_notify_ = false;
	// Not signal_eventfd(): a call fd the front-end made unwritable must
	// not throw out of the device's processing.
	if (call_ && ring_->should_notify() && !call_through_kernel() &&
	    ::eventfd_write(call_.get(), 1) != 0 && errno != EAGAIN)
		log_->warn("queue %u: call fd: %s", index_, errno_string(errno).c_str());
}

bool VirtQueue::call_through_kernel()
{
	if (!kernel_calls_ || mem_ == nullptr)
		return false;
	if (call_generation_ != mem_->generation()) {
		call_generation_ = mem_->generation();
		kernel_call_fd_ = -1;
		const auto fd = mem_->sole_fd();
		if (fd && iova_fd_knows(*fd, VLB_IOVA_CALL))
			kernel_call_fd_ = *fd;
	}
	if (kernel_call_fd_ < 0)
		return false;
	vlb_iova_call c{};
	c.fd = call_.get();
	if (::ioctl(kernel_call_fd_, VLB_IOVA_CALL, &c) == 0)
		return true;
	// ENOENT: not this device's call eventfd; ENODEV: the device is
	// gone. The eventfd then, and for the rest of this memory table.
	log_->warn("queue %u: VLB_IOVA_CALL: %s; signalling the call eventfd from now on", index_,
		   errno_string(errno).c_str());
	kernel_call_fd_ = -1;
	return false;
}

void VirtQueue::stop()
{
	ring_.reset();
	budget_turn_ = UINT64_MAX;  // a restarted ring gets a whole allowance
	resubmit_.clear();
	resubmit_next_ = 0;
	pending_notify_ = false;
}

void VirtQueue::reset()
{
	stop();
	num_ = 0;
	addr_.reset();
	base_ = 0;
	kick_.reset();
	call_.reset();
	err_.reset();
	enabled_ = false;
	broken_ = false;
	inflight_ = InflightTracker();
}

// ---- Backend: the control plane ----

void Backend::set_kernel_calls(bool on)
{
	for (auto &q : queues_)
		q.kernel_calls_ = on;
}

Backend::Backend(Device &dev, UniqueFd conn, EventLoop &loop, const Logger &log)
	: dev_(dev), loop_(loop), log_(log), chan_(std::move(conn))
{
	const std::uint16_t n = dev_.num_queues();
	queues_.reserve(n);
	for (std::uint16_t i = 0; i < n; i++) {
		queues_.emplace_back(i);
		queues_.back().mem_ = &mem_;
		queues_.back().log_ = &log_;
		queues_.back().loop_ = &loop_;
	}
	if (chan_.valid())
		loop_.watch(chan_.fd(), [this] { on_readable(); });
}

Backend::~Backend()
{
	for (auto &q : queues_)
		if (q.kick_)
			loop_.unwatch(q.kick_.get());
	if (chan_.valid())
		loop_.unwatch(chan_.fd());
}

std::uint64_t Backend::offered_features() const
{
	return dev_.features() | bit(kFVersion1) | bit(kFProtocolFeatures) |
	       bit(kFRingIndirectDesc) | bit(kFRingEventIdx);
}

std::uint64_t Backend::offered_protocol_features()
{
	return bit(pf::kMq) | bit(pf::kReplyAck) | bit(pf::kConfig) | bit(pf::kBackendReq) |
	       bit(pf::kInflightShmfd) | bit(pf::kResetDevice) | bit(pf::kConfigureMemSlots) |
	       bit(pf::kStatus);
}

bool Backend::negotiated(unsigned protocol_feature) const
{
	return (protocol_features_ & bit(protocol_feature)) != 0;
}

void Backend::close(const std::string &reason)
{
	if (!reason.empty())
		log_.error("closing vhost-user connection: %s", reason.c_str());
	else
		log_.info("front-end disconnected");
	close_reason_ = reason;
	for (auto &q : queues_)
		stop_queue(q);
	if (chan_.valid())
		loop_.unwatch(chan_.fd());
	chan_.close();
	backend_req_.close();
}

void Backend::on_readable()
{
	try {
		auto msg = chan_.receive();
		if (!msg) {
			close("");
			return;
		}
		handle(*msg);
	} catch (const ProtocolError &e) {
		close(e.what());
	} catch (const std::system_error &e) {
		close(e.what());
	}
}

void Backend::reply(const Message &msg, std::span<const std::uint8_t> payload,
		    std::span<const int> fds)
{
	chan_.send(msg.code(), kFlagReply, payload, fds);
}

void Backend::reply_u64(const Message &msg, std::uint64_t v) { reply(msg, bytes_of(v)); }

VirtQueue &Backend::queue_for(std::uint64_t index)
{
	if (index >= queues_.size())
		throw ProtocolError("queue index " + std::to_string(index) + " out of range (" +
				    std::to_string(queues_.size()) + " queues)");
	return queues_[index];
}

void Backend::handle(Message &msg)
{
	const auto shape = request_shape(msg.code());
	if (!shape) {
		// Unsupported but well framed: refuse it per REPLY_ACK, go on.
		log_.warn("unsupported request %u (%s) refused", msg.code(),
			  std::string(request_name(msg.code())).c_str());
		if (msg.needs_reply() && negotiated(pf::kReplyAck))
			reply_u64(msg, 1);
		return;
	}
	check_request(msg);
	log_.debug("%s", std::string(request_name(msg.code())).c_str());

	switch (static_cast<Request>(msg.code())) {
	case Request::GetFeatures:
		reply_u64(msg, offered_features());
		return;
	case Request::SetFeatures: {
		const auto f = msg.as_u64();
		if (f & ~offered_features())
			throw ProtocolError("SET_FEATURES with bits never offered: " +
					    hex(f & ~offered_features()));
		features_ = f;
		features_set_ = true;
		dev_.set_features(f & ~bit(kFProtocolFeatures));
		// Without PROTOCOL_FEATURES rings start enabled (spec).
		if (!(f & bit(kFProtocolFeatures)))
			for (auto &q : queues_)
				q.enabled_ = true;
		break;
	}
	case Request::GetProtocolFeatures:
		reply_u64(msg, offered_protocol_features());
		return;
	case Request::SetProtocolFeatures: {
		const auto f = msg.as_u64();
		if (f & ~offered_protocol_features())
			throw ProtocolError("SET_PROTOCOL_FEATURES with bits never offered");
		protocol_features_ = f;
		break;
	}
	case Request::GetQueueNum:
		reply_u64(msg, queues_.size());
		return;
	case Request::GetMaxMemSlots:
		reply_u64(msg, kMaxMemSlots);
		return;
	case Request::SetOwner:
		break;
	case Request::ResetOwner:
	case Request::ResetDevice:
		reset_device();
		break;
	case Request::GetStatus:
		reply_u64(msg, status_);
		return;
	case Request::SetStatus: {
		const auto s = msg.as_u64();
		if (s > 0xff)
			throw ProtocolError("SET_STATUS value out of range");
		status_ = static_cast<std::uint8_t>(s);
		if (status_ == 0)
			reset_device();
		break;
	}
	case Request::SetMemTable:
	case Request::AddMemReg:
	case Request::RemMemReg:
		handle_memory(msg);
		break;
	case Request::SetVringNum:
	case Request::SetVringAddr:
	case Request::SetVringBase:
	case Request::GetVringBase:
	case Request::SetVringKick:
	case Request::SetVringCall:
	case Request::SetVringErr:
	case Request::SetVringEnable:
		if (handle_vring(msg))
			return;
		break;
	case Request::SetBackendReqFd:
		backend_req_ = Channel(msg.take_fd());
		break;
	case Request::GetConfig: {
		const auto h = msg.as<ConfigHeader>();
		const auto cfg = dev_.config();
		if (h.offset > cfg.size() || h.size > cfg.size() - h.offset)
			throw ProtocolError("GET_CONFIG beyond the " + std::to_string(cfg.size()) +
					    "-byte config space");
		std::vector<std::uint8_t> out(sizeof(ConfigHeader) + h.size);
		std::memcpy(out.data(), &h, sizeof(h));
		std::memcpy(out.data() + sizeof(h), cfg.data() + h.offset, h.size);
		reply(msg, out);
		return;
	}
	case Request::SetConfig: {
		const auto h = msg.as<ConfigHeader>();
		const bool ok = dev_.write_config(
			h.offset, std::span<const std::uint8_t>(msg.payload).subspan(sizeof(h)));
		if (!ok)
			log_.warn("config write of %u bytes at %u refused", h.size, h.offset);
		if (msg.needs_reply() && negotiated(pf::kReplyAck))
			reply_u64(msg, ok ? 0 : 1);
		return;
	}
	case Request::GetInflightFd:
		get_inflight_fd(msg);
		return;
	case Request::SetInflightFd:
		set_inflight_fd(msg);
		break;
	default:
		throw ProtocolError("request shape known but not handled");
	}
	if (msg.needs_reply() && negotiated(pf::kReplyAck))
		reply_u64(msg, 0);
}

// SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG.
void Backend::handle_memory(Message &msg)
{
	switch (static_cast<Request>(msg.code())) {
	case Request::SetMemTable:
		set_mem_table(msg);
		break;
	case Request::AddMemReg: {
		const auto r = msg.as<SingleMemRegion>();
		mem_.add(r.region, msg.take_fd());
		break;
	}
	case Request::RemMemReg: {
		const auto r = msg.as<SingleMemRegion>();
		refuse_while_rings_up("REM_MEM_REG");
		mem_.remove(r.region);
		break;
	}
	default:
		break;
	}
}

// The per-queue requests; true if a reply was sent already.
bool Backend::handle_vring(Message &msg)
{
	switch (static_cast<Request>(msg.code())) {
	case Request::SetVringNum: {
		const auto s = msg.as<VringState>();
		auto &q = queue_for(s.index);
		if (!valid_queue_size(s.num) || s.num > dev_.max_queue_size())
			throw ProtocolError("SET_VRING_NUM " + std::to_string(s.num) +
					    ": not a power of two up to " +
					    std::to_string(dev_.max_queue_size()));
		if (q.ring_)
			throw ProtocolError("SET_VRING_NUM on a running queue");
		q.num_ = s.num;
		break;
	}
	case Request::SetVringAddr: {
		const auto a = msg.as<VringAddr>();
		auto &q = queue_for(a.index);
		if (a.flags != 0)
			throw ProtocolError("SET_VRING_ADDR: logging flags not supported");
		if (q.ring_)
			throw ProtocolError("SET_VRING_ADDR on a running queue");
		q.addr_ = a;
		break;
	}
	case Request::SetVringBase: {
		const auto s = msg.as<VringState>();
		auto &q = queue_for(s.index);
		if (s.num > 0xffff)
			throw ProtocolError("SET_VRING_BASE beyond 16 bits");
		if (q.ring_)
			throw ProtocolError("SET_VRING_BASE on a running queue");
		q.base_ = static_cast<std::uint16_t>(s.num);
		break;
	}
	case Request::GetVringBase: {
		const auto s = msg.as<VringState>();
		auto &q = queue_for(s.index);
		std::uint16_t base = q.base_;
		if (q.ring_)
			base = q.ring_->last_avail();
		stop_queue(q);
		q.base_ = base;
		reply(msg, bytes_of(VringState{s.index, base}));
		return true;
	}
	case Request::SetVringKick:
	case Request::SetVringCall:
	case Request::SetVringErr:
		set_vring_fd(msg);
		break;
	case Request::SetVringEnable: {
		const auto s = msg.as<VringState>();
		auto &q = queue_for(s.index);
		if (s.num > 1)
			throw ProtocolError("SET_VRING_ENABLE with state " + std::to_string(s.num));
		q.enabled_ = s.num == 1;
		if (q.running())
			kick(q);
		break;
	}
	default:
		break;
	}
	return false;
}

void Backend::set_mem_table(Message &msg)
{
	const auto h = msg.as<MemTableHeader>();
	// Map the whole new table before touching the old one: a refused
	// region must leave the running rings on memory that is still mapped,
	// since closing the connection stops them through it.
	MemoryTable next;
	for (std::uint32_t i = 0; i < h.nregions; i++) {
		MemRegion r{};
		std::memcpy(&r, msg.payload.data() + sizeof(h) + i * sizeof(MemRegion), sizeof(r));
		next.add(r, msg.take_fd(i));
	}
	// Rings and the device's in-flight buffers point into the old table:
	// let the device finish with them, then detach every ring before any
	// restarts, so that one ring the new table does not cover cannot leave
	// another pointing at the old mappings.
	std::vector<std::optional<std::uint16_t>> resume(queues_.size());
	for (auto &q : queues_) {
		if (!q.ring_)
			continue;
		dev_.queue_stopped(q);
		q.notify();
		// Same ring, new mapping: keep its position and the inflight
		// record (re-reading it would resubmit requests still being served).
		resume[q.index_] = q.ring_->last_avail();
		q.ring_.reset();
	}
	std::swap(mem_, next);
	for (auto &q : queues_)
		if (resume[q.index_])
			start_queue(q, *resume[q.index_]);
}

void Backend::set_vring_fd(Message &msg)
{
	const auto v = msg.as_u64();
	auto &q = queue_for(v & kVringIndexMask);
	UniqueFd fd = (v & kVringNoFd) ? UniqueFd() : msg.take_fd();
	// The loop reads and writes these: a blocking one would hang it.
	if (fd) {
		const int fl = ::fcntl(fd.get(), F_GETFL);
		if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) != 0)
			throw ProtocolError(std::string(request_name(msg.code())) + ": fd refuses O_NONBLOCK");
	}
	switch (static_cast<Request>(msg.code())) {
	case Request::SetVringKick:
		if (q.kick_)
			loop_.unwatch(q.kick_.get());
		stop_queue(q);
		q.kick_ = std::move(fd);
		// Starting a ring is tied to receiving its kick fd (spec).
		start_queue(q);
		break;
	case Request::SetVringCall:
		q.call_ = std::move(fd);
		q.call_generation_ = UINT64_MAX;  // probe again for the new eventfd
		break;
	default:
		q.err_ = std::move(fd);
		break;
	}
}

void Backend::start_queue(VirtQueue &q, std::optional<std::uint16_t> resume_at)
{
	if (!q.addr_ || q.num_ == 0)
		throw ProtocolError("queue " + std::to_string(q.index_) +
				    " started before SET_VRING_NUM/ADDR");
	const auto &a = *q.addr_;
	RingAddresses ra{mem_.user_to_host(a.desc_user_addr, desc_table_bytes(q.num_)),
			 mem_.user_to_host(a.avail_user_addr, avail_ring_bytes(q.num_)),
			 mem_.user_to_host(a.used_user_addr, used_ring_bytes(q.num_))};
	if (!ra.desc || !ra.avail || !ra.used)
		throw ProtocolError("queue " + std::to_string(q.index_) +
				    ": ring addresses outside the memory table");
	if ((a.desc_user_addr % 16) || (a.avail_user_addr % 2) || (a.used_user_addr % 4))
		throw ProtocolError("queue " + std::to_string(q.index_) + ": misaligned ring");
	if (ring_parts_overlap(ra, static_cast<std::uint16_t>(q.num_)))
		throw ProtocolError("queue " + std::to_string(q.index_) +
				    ": descriptor table, avail and used rings overlap");
	q.ring_.emplace(ra, static_cast<std::uint16_t>(q.num_), features_);
	q.ring_->sync_used_idx();
	if (resume_at) {
		q.ring_->set_last_avail(*resume_at);
	} else {
		q.ring_->set_last_avail(q.base_);
		q.broken_ = false;
		attach_inflight(q);
	}
	if (q.kick_)
		loop_.watch(q.kick_.get(), [this, &q] { kick(q); });
	log_.info("queue %u started: size %u, base %u%s", q.index_, q.num_, q.ring_->last_avail(),
		  q.resubmit_.empty()
			  ? ""
			  : (", resubmitting " + std::to_string(q.resubmit_.size()) + " in flight")
				    .c_str());
	if (q.running())
		kick(q);
}

void Backend::attach_inflight(VirtQueue &q)
{
	q.inflight_ = InflightTracker();
	q.resubmit_.clear();
	q.resubmit_next_ = 0;
	if (!inflight_map_.valid() || q.index_ >= inflight_num_queues_ ||
	    inflight_queue_size_ != q.num_)
		return;
	auto *region = static_cast<std::uint8_t *>(inflight_map_.data()) +
		       inflight_queue_bytes(inflight_queue_size_) * q.index_;
	q.inflight_ = InflightTracker(region, inflight_queue_size_);
	q.resubmit_ = q.inflight_.recover(q.ring_->used_idx());
	// The ring's own bookkeeping decides where to continue: everything
	// between used->idx and the in-flight requests was consumed already.
	q.ring_->set_last_avail(
		static_cast<std::uint16_t>(q.ring_->used_idx() + q.resubmit_.size()));
}

void Backend::stop_queue(VirtQueue &q)
{
	if (q.kick_)
		loop_.unwatch(q.kick_.get());
	if (q.ring_) {
		dev_.queue_stopped(q);
		q.notify();
	}
	q.stop();
}

void Backend::kick(VirtQueue &q)
{
	if (q.kick_)
		drain_eventfd(q.kick_.get());
	if (!q.running())
		return;
	dev_.process(q);
	q.notify();
}

void Backend::reset_device()
{
	for (auto &q : queues_) {
		stop_queue(q);
		q.reset();
	}
	dev_.reset();
	features_set_ = false;
	status_ = 0;
}

// Rings and their inflight trackers point into the memory table and the
// inflight region; requests that would unmap them wait for the rings to stop.
void Backend::refuse_while_rings_up(const char *request) const
{
	if (std::any_of(queues_.begin(), queues_.end(),
			[](const VirtQueue &q) { return q.ring_.has_value(); }))
		throw ProtocolError(std::string(request) + " while a queue runs");
}

void Backend::get_inflight_fd(Message &msg)
{
	auto info = msg.as<InflightInfo>();
	refuse_while_rings_up("GET_INFLIGHT_FD");
	if (info.num_queues == 0 || info.num_queues > queues_.size() ||
	    !valid_queue_size(info.queue_size) || info.queue_size > dev_.max_queue_size())
		throw ProtocolError("GET_INFLIGHT_FD for " + std::to_string(info.num_queues) +
				    " queues of " + std::to_string(info.queue_size));
	const std::uint64_t size = inflight_queue_bytes(info.queue_size) * info.num_queues;
	UniqueFd fd(::memfd_create("vlb-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (!fd)
		throw_errno("memfd_create inflight");
	if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
		throw_errno("ftruncate inflight");
	inflight_map_ = Mapping::map(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0,
				     "inflight region");
	inflight_num_queues_ = info.num_queues;
	inflight_queue_size_ = info.queue_size;
	info.mmap_size = size;
	info.mmap_offset = 0;
	const int fds[] = {fd.get()};
	reply(msg, bytes_of(info), fds);
}

void Backend::set_inflight_fd(Message &msg)
{
	const auto info = msg.as<InflightInfo>();
	UniqueFd fd = msg.take_fd();
	refuse_while_rings_up("SET_INFLIGHT_FD");
	if (info.num_queues == 0 || info.num_queues > queues_.size() ||
	    !valid_queue_size(info.queue_size) || info.queue_size > dev_.max_queue_size())
		throw ProtocolError("SET_INFLIGHT_FD for " + std::to_string(info.num_queues) +
				    " queues of " + std::to_string(info.queue_size));
	const std::uint64_t need = inflight_queue_bytes(info.queue_size) * info.num_queues;
	if (info.mmap_size < need || info.mmap_offset % 4096 != 0 ||
	    info.mmap_offset > (std::uint64_t{1} << 40))
		throw ProtocolError("SET_INFLIGHT_FD region too small or misplaced");
	check_fd_covers(fd.get(), info.mmap_offset, need, "SET_INFLIGHT_FD");
	inflight_map_ = Mapping::map(need, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(),
				     static_cast<off_t>(info.mmap_offset), "inflight region");
	inflight_num_queues_ = info.num_queues;
	inflight_queue_size_ = info.queue_size;
}

void Backend::notify_config_change()
{
	if (!backend_req_.valid() || !negotiated(pf::kBackendReq) || !negotiated(pf::kConfig)) {
		log_.warn("config changed but the front-end gave no back-end channel");
		return;
	}
	try {
		backend_req_.send(static_cast<std::uint32_t>(BackendRequest::ConfigChangeMsg), 0, {});
	} catch (const std::exception &e) {
		log_.error("config change notification failed: %s", e.what());
	}
}

} // namespace vlb::vu
