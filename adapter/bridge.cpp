// SPDX-License-Identifier: Apache-2.0
#include "bridge.h"

#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <sys/socket.h>

#include <endian.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"
#include "vlb/vu/split_ring.h"

namespace vlb::adapter {
namespace {

constexpr unsigned kFAccessPlatform = 33;

constexpr unsigned kBlkFSegMax = 2;
constexpr std::size_t kBlkSegMaxOffset = 12;  // struct virtio_blk_config

// A back-end's request (CONFIG_CHANGE_MSG) arrives whole within this, as
// the front-end's replies do (vu::Frontend's default).
constexpr std::chrono::milliseconds kBackendRequestTimeout{5000};

std::string hex(std::uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
	return buf;
}

} // namespace

std::string Bridge::counters() const
{
	if (!dev_)
		return {};
	try {
		const vlb_stats s = dev_->stats();
		const auto u = [](__u64 v) { return static_cast<unsigned long long>(v); };
		char line[512];
		std::snprintf(line, sizeof line,
			      "grants %llu, bounces %llu, revocations %llu, faults refused %llu, map failures %llu, "
			      "used entries rejected %llu, broken %llu, kicks %llu, "
			      "calls %llu (%llu on the signalling CPU, %llu in the device), "
			      "message timeouts %llu, request timeouts %llu, kernel copies %llu (%llu bytes)",
			      u(s.grants), u(s.bounces), u(s.revocations), u(s.faults_refused), u(s.map_failures),
			      u(s.used_rejected), u(s.broken), u(s.kicks), u(s.calls), u(s.calls_on_signalling_cpu),
			      u(s.calls_in_device),
			      u(s.msg_timeouts), u(s.request_timeouts), u(s.copies), u(s.copied_bytes));
		return line;
	} catch (const std::system_error &e) {
		return std::string("unreadable: ") + e.what();
	}
}

DeviceType device_type(const std::string &name)
{
	// Config sizes: the virtio structs the stock drivers read.
	if (name == "blk")
		return {VIRTIO_ID_BLOCK, 60};
	if (name == "rng")
		return {VIRTIO_ID_RNG, 0};
	if (name == "input")
		return {VIRTIO_ID_INPUT, 136};
	if (name == "console")
		return {VIRTIO_ID_CONSOLE, 12};
	throw std::invalid_argument("--type: unknown device type '" + name + "' (blk, rng, input, console)");
}

// Stage 1 starts in the initialisers: what the back-end is.
Bridge::Bridge(BridgeOptions opt, UniqueFd backend, vu::EventLoop &loop, const Logger &log)
	: opt_(std::move(opt)), loop_(loop), log_(log), backend_fd_(backend.get()),
	  fe_(std::make_unique<vu::Frontend>(verified(std::move(backend), opt_, log_))),
	  backend_features_(fe_->get_features())
{
	const DeviceType type = device_type(opt_.type);
	if (!(backend_features_ & vu::bit(vu::kFProtocolFeatures)))
		throw vu::ProtocolError("back-end does not speak vhost-user protocol features");
	negotiate_protocol();
	if (protocol_features_ & vu::bit(vu::pf::kMq))
		queues_ = static_cast<std::uint16_t>(std::min<std::uint64_t>(fe_->get_queue_num(), VLB_MAX_QUEUES));
	if (queues_ == 0)
		throw vu::ProtocolError("back-end reports no queues");
	std::vector<std::uint8_t> config;
	if (type.config_size != 0) {
		if (!(protocol_features_ & vu::bit(vu::pf::kConfig)))
			throw vu::ProtocolError("back-end does not serve config space");
	}
	config_size_ = type.config_size;
	if (config_size_ != 0)
		config = backend_config();
	log_.info("back-end: features 0x%llx, protocol features 0x%llx, %u queue(s), %u config bytes",
		  static_cast<unsigned long long>(backend_features_),
		  static_cast<unsigned long long>(protocol_features_), queues_, type.config_size);

	// Stage 2: the kernel device, offered exactly that. ACCESS_PLATFORM is
	// the kernel's business and PROTOCOL_FEATURES is vhost-user's.
	CreateParams p;
	p.device_id = type.id;
	p.features = backend_features_ & ~vu::bit(vu::kFProtocolFeatures) & ~vu::bit(kFAccessPlatform);
	p.num_queues = queues_;
	p.queue_size_max = opt_.queue_size;
	p.config = std::move(config);
	p.max_granted_pages = opt_.max_granted_pages;
	p.bounce_threshold = opt_.bounce_threshold;
	p.iova_size = opt_.iova_size;
	p.name = opt_.name;
	dev_ = std::make_unique<KernelDevice>(open_kernel_device(p));
	if (reattached_) {
		take_over(p);
	} else {
		running_.assign(queues_, std::nullopt);
		log_.info("kernel device '%s' created: features 0x%llx offered to the driver", opt_.name.c_str(),
			  static_cast<unsigned long long>(dev_->offered_features()));
	}
	loop_.watch(dev_->fd(), [this] { on_kernel_message(); });
	watch_backend();
}

// CREATE; or, when a previous adapter left a device of this name in its
// grace period, REATTACH to it. A device that cannot be taken over yet
// (still attached, or broken and waiting for removal) is waited for as long
// as a back-end reconnect would be.
KernelDevice Bridge::open_kernel_device(const CreateParams &p)
{
	UniqueFd own;
	int ctl = opt_.control_fd;
	if (ctl < 0) {
		own.reset(retry_eintr([&] { return ::open(opt_.control_node.c_str(), O_RDWR | O_CLOEXEC); }));
		if (!own)
			throw_errno("open " + opt_.control_node);
		ctl = own.get();
	}
	const auto deadline = std::chrono::steady_clock::now() + opt_.reconnect_timeout;
	for (int logged = 0;;) {
		try {
			return KernelDevice::create(ctl, p);
		} catch (const std::system_error &e) {
			if (e.code().value() != EEXIST)
				throw;
		}
		try {
			KernelDevice d = KernelDevice::reattach(ctl, p.name);
			reattached_ = true;
			return d;
		} catch (const std::system_error &e) {
			const int err = e.code().value();
			// ENOENT: removed between the two calls; CREATE again.
			if ((err != EBUSY && err != EIO && err != ENOENT) || std::chrono::steady_clock::now() >= deadline)
				throw;
			if (err != ENOENT && logged != err) {
				log_.warn(err == EBUSY ? "kernel device '%s' is held by another adapter; waiting up to %lld ms"
						       : "kernel device '%s' is broken and cannot be taken over; waiting up "
							 "to %lld ms for the kernel to remove it",
					  p.name.c_str(), static_cast<long long>(opt_.reconnect_timeout.count()));
				logged = err;
			}
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
}

// Reattached: the kernel device, its driver and its rings outlived the
// previous adapter and back-end. Bring this back-end to where they were,
// from the kernel's record: the driver's features, the memory table, each
// running queue at its avail index, and the requests in flight handed over
// in a rebuilt inflight region, so they complete exactly once.
void Bridge::take_over(const CreateParams &p)
{
	const vlb_dev_state st = dev_->state();
	const auto &was = st.params;
	if (was.device_id != p.device_id)
		throw vu::ProtocolError("kernel device '" + opt_.name + "' is virtio type " +
					std::to_string(was.device_id) + ", not " + opt_.type);
	if ((was.device_features & ~p.features) != 0)
		throw vu::ProtocolError("the back-end lacks features 0x" +
					hex(was.device_features & ~p.features) + " the device offered its driver");
	if (was.num_queues > queues_)
		throw vu::ProtocolError("the device has " + std::to_string(was.num_queues) +
					" queues, the back-end only " + std::to_string(queues_));
	// A device keeps what it was created with; a changed policy's limits
	// apply once it is created afresh. Zero asks for the kernel's default.
	const auto differs = [](std::uint64_t asked, std::uint64_t has) { return asked != 0 && asked != has; };
	if (was.num_queues != queues_ || was.queue_size_max != p.queue_size_max ||
	    differs(p.iova_size, was.iova_size) || differs(p.max_granted_pages, was.max_granted_pages) ||
	    differs(p.bounce_threshold, was.bounce_threshold))
		log_.warn("kernel device '%s' keeps the parameters it was created with (%u queue(s) of %u, IOVA "
			  "%llu bytes, %u granted pages, bounce below %u bytes), not the ones asked for now",
			  opt_.name.c_str(), was.num_queues, was.queue_size_max,
			  static_cast<unsigned long long>(was.iova_size), was.max_granted_pages, was.bounce_threshold);
	queues_ = was.num_queues;
	ring_size_ = was.queue_size_max;  // what later config refreshes must fit
	running_.assign(queues_, std::nullopt);
	if (st.status & VIRTIO_CONFIG_S_FEATURES_OK) {
		acked_ = (st.driver_features & backend_features_) | vu::bit(vu::kFProtocolFeatures);
		fe_->set_features(*acked_);
	}
	std::vector<std::optional<QueueState>> queues;
	std::size_t in_flight = 0;
	for (std::uint16_t q = 0; q < queues_; q++) {
		queues.push_back(dev_->queue_state(q));
		if (queues.back())
			in_flight += queues.back()->inflight.size();
	}
	const auto first = std::find_if(queues.begin(), queues.end(), [](const auto &q) { return q.has_value(); });
	if (first != queues.end()) {
		if (protocol_features_ & vu::bit(vu::pf::kInflightShmfd)) {
			hand_over_inflight(queues, static_cast<std::uint16_t>((*first)->num));
		} else if (in_flight != 0) {
			throw vu::ProtocolError("the back-end has no INFLIGHT_SHMFD to take over " +
						std::to_string(in_flight) + " request(s) in flight");
		}
		send_memory();
		memory_sent_ = true;
		for (std::uint16_t q = 0; q < queues_; q++) {
			if (!queues[q])
				continue;
			const QueueSetup setup{queues[q]->num, queues[q]->desc, queues[q]->avail, queues[q]->used};
			send_queue(q, setup, queues[q]->last_avail);
			running_[q] = setup;
		}
	}
	log_.info("kernel device '%s' reattached: driver status 0x%x, %zu queue(s) running, %zu request(s) in "
		  "flight handed to the back-end",
		  opt_.name.c_str(), st.status,
		  static_cast<std::size_t>(std::count_if(queues.begin(), queues.end(),
							 [](const auto &q) { return q.has_value(); })),
		  in_flight);
}

// The back-end's own inflight region, filled with what the kernel has in
// flight (the previous back-end's record died with the previous adapter).
void Bridge::hand_over_inflight(const std::vector<std::optional<QueueState>> &queues, std::uint16_t size)
{
	inflight_ = fe_->get_inflight_fd(queues_, size);
	const std::uint64_t per_queue = vu::inflight_queue_bytes(size);
	// The reply parser checked the fd holds mmap_size bytes at the offset.
	if (inflight_->mmap_size < per_queue * queues_)
		throw vu::ProtocolError("GET_INFLIGHT_FD: region too small for the queues");
	for (std::uint16_t q = 0; q < queues_; q++) {
		if (!queues[q])
			continue;
		if (queues[q]->num != size)
			throw std::runtime_error("queues of different sizes cannot share one inflight region");
		vu::store_inflight_queue(inflight_->fd.get(), inflight_->mmap_offset + per_queue * q, size,
					 queues[q]->used_idx, queues[q]->inflight);
	}
	fe_->set_inflight_fd(*inflight_);
}

UniqueFd Bridge::verified(UniqueFd sock, const BridgeOptions &opt, const Logger &log)
{
	ucred peer{};
	socklen_t len = sizeof(peer);
	if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0)
		throw_errno("SO_PEERCRED of the back-end socket");
	log.info("back-end peer: pid %d, uid %u, gid %u", peer.pid, peer.uid, peer.gid);
	if (opt.verify_peer)
		opt.verify_peer(peer);
	return sock;
}

// Protocol features, owner and the back-end's request channel: the part of
// stage 1 a reconnect repeats.
void Bridge::negotiate_protocol()
{
	const std::uint64_t want = vu::bit(vu::pf::kMq) | vu::bit(vu::pf::kReplyAck) |
				   vu::bit(vu::pf::kConfig) | vu::bit(vu::pf::kBackendReq) |
				   vu::bit(vu::pf::kResetDevice) | vu::bit(vu::pf::kInflightShmfd);
	protocol_features_ = fe_->get_protocol_features() & want;
	fe_->set_protocol_features(protocol_features_);
	fe_->set_owner();
	if (backend_req_.valid()) {
		loop_.unwatch(backend_req_.fd());
		backend_req_.close();
	}
	if (protocol_features_ & vu::bit(vu::pf::kBackendReq)) {
		auto [ours, theirs] = stream_socketpair();
		backend_req_ = vu::Channel(std::move(ours));
		// The loop reads it when readable; a message begun and never
		// finished must not hold the loop (and every queue) for good.
		backend_req_.set_timeout(kBackendRequestTimeout);
		fe_->set_backend_req_fd(theirs.get());
		loop_.watch(backend_req_.fd(), [this] { on_backend_request(); });
	}
}

// The back-end's end of |fd| is closed (or reset).
bool Bridge::peer_hung_up(int fd)
{
	pollfd pfd{fd, POLLRDHUP, 0};
	return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

// A back-end that goes away shows up as readable (EOF) on its socket;
// nothing else is ever sent unasked on it.
void Bridge::watch_backend()
{
	loop_.watch(backend_fd_, [this] { on_backend_gone(); });
}

void Bridge::on_backend_gone()
{
	loop_.unwatch(backend_fd_);
	if ((opt_.backend_path.empty() && !opt_.next_backend) || opt_.reconnect_timeout.count() == 0) {
		fail("back-end closed the connection");
		return;
	}
	log_.warn("back-end closed the connection; waiting for %s",
		  opt_.backend_path.empty() ? "the supervisor to restart it" : opt_.backend_path.c_str());
	const auto deadline = std::chrono::steady_clock::now() + opt_.reconnect_timeout;
	for (;;) {
		UniqueFd sock;
		try {
			sock = verified(next_connection(deadline), opt_, log_);
		} catch (const std::exception &e) {
			fail(std::string("reconnecting to the back-end: ") + e.what());
			return;
		}
		try {
			replay(std::move(sock));
			return;
		} catch (const std::exception &e) {
			// A successor that dies during the set-up is one more crash to
			// wait out, not a reason to give the device up; one that stays
			// and misbehaves is. Only a connection that was made and let
			// in counts: failing to get one, or a refused peer, ends the
			// wait, so this cannot spin.
			if (!peer_hung_up(backend_fd_) || std::chrono::steady_clock::now() >= deadline) {
				fail(std::string("reconnecting to the back-end: ") + e.what());
				return;
			}
			log_.warn("the new back-end went away during the set-up (%s); waiting for the next", e.what());
		}
	}
}

// The restarted back-end's connection: from the supervisor, or by
// connecting to the socket path again until |deadline|.
UniqueFd Bridge::next_connection(std::chrono::steady_clock::time_point deadline) const
{
	UniqueFd sock;
	if (opt_.next_backend) {
		sock = opt_.next_backend(deadline);
		if (!sock)
			throw std::runtime_error("no new back-end from the supervisor in time");
		return sock;
	}
	try {
		return connect_unix_until(opt_.backend_path, deadline);
	} catch (const std::system_error &e) {
		throw std::runtime_error(std::string("the back-end did not come back in time: ") + e.what());
	}
}

// The back-end restarted: bring it to where the old one was. With the
// inflight region it resumes the requests the old one had taken and not
// completed; none is lost or completed twice.
void Bridge::replay(UniqueFd sock)
{
	backend_fd_ = sock.get();
	fe_ = std::make_unique<vu::Frontend>(std::move(sock));
	const std::uint64_t features = fe_->get_features();
	if ((features & backend_features_) != backend_features_)
		throw vu::ProtocolError("the restarted back-end offers fewer features");
	negotiate_protocol();
	if (acked_)
		fe_->set_features(*acked_);
	if (inflight_ && (protocol_features_ & vu::bit(vu::pf::kInflightShmfd)))
		fe_->set_inflight_fd(*inflight_);
	if (memory_sent_)
		send_memory();
	for (std::uint32_t q = 0; q < running_.size(); q++)
		if (running_[q])
			send_queue(q, *running_[q]);
	// Completions the old back-end wrote but never signalled: make the
	// kernel look at the used rings once.
	for (std::uint16_t q = 0; q < queues_; q++)
		vu::signal_eventfd(dev_->call(q));
	watch_backend();
	reconnects_++;
	log_.info("back-end reconnected (%u so far), %s", reconnects_,
		  inflight_ ? "in-flight requests resumed from the inflight region"
			    : "without an inflight region: requests it held are lost");
}

Bridge::~Bridge()
{
	if (dev_)
		loop_.unwatch(dev_->fd());
	if (backend_req_.valid())
		loop_.unwatch(backend_req_.fd());
	loop_.unwatch(backend_fd_);
}

void Bridge::fail(const std::string &why)
{
	if (!failure_.empty())
		return;
	failure_ = why;
	log_.error("%s", why.c_str());
	loop_.stop();
}

void Bridge::on_kernel_message()
{
	std::optional<vlb_msg> msg;
	try {
		msg = dev_->read_message();
	} catch (const std::exception &e) {
		fail(std::string("kernel device: ") + e.what());
		return;
	}
	if (!msg)
		return;
	int result = 0;
	try {
		result = handle(*msg);
	} catch (const vu::ProtocolError &e) {
		// The back-end broke the protocol: fail the driver's operation
		// (the kernel breaks the device) and stop.
		result = -EIO;
		fail(std::string("back-end: ") + e.what());
	} catch (const std::system_error &e) {
		result = -EIO;
		fail(e.what());
	}
	try {
		dev_->reply(*msg, result);
	} catch (const std::exception &e) {
		fail(std::string("kernel device: ") + e.what());
	}
}

int Bridge::handle(const vlb_msg &msg)
{
	switch (msg.type) {
	case VLB_MSG_SET_FEATURES: {
		const std::uint64_t f = (msg.u.features.features & backend_features_ &
					 ~vu::bit(kFAccessPlatform)) |
					vu::bit(vu::kFProtocolFeatures);
		log_.info("driver accepted features 0x%llx", static_cast<unsigned long long>(msg.u.features.features));
		fe_->set_features(f);
		acked_ = f;
		return 0;
	}
	case VLB_MSG_SET_STATUS:
		log_.debug("driver status 0x%x", msg.u.status.status);
		return 0;
	case VLB_MSG_VQ_ENABLE:
		start_queue(msg);
		return 0;
	case VLB_MSG_VQ_DISABLE:
		if (msg.u.vq.index < queues_ && running_.at(msg.u.vq.index)) {
			const auto base = fe_->get_vring_base(msg.u.vq.index);
			running_.at(msg.u.vq.index).reset();
			log_.info("queue %u stopped at %u", msg.u.vq.index, base);
		}
		return 0;
	case VLB_MSG_RESET:
		log_.info("driver reset the device");
		if (protocol_features_ & vu::bit(vu::pf::kResetDevice)) {
			fe_->reset_device();
		} else {
			for (std::uint16_t q = 0; q < queues_; q++)
				if (running_.at(q))
					(void)fe_->get_vring_base(q);
		}
		std::fill(running_.begin(), running_.end(), std::nullopt);
		inflight_.reset();
		memory_sent_ = false;
		return 0;
	case VLB_MSG_CONFIG_WRITE: {
		const auto len = std::min<std::uint32_t>(msg.u.config.len, VLB_MSG_CONFIG_CHUNK);
		fe_->set_config(msg.u.config.offset, std::span(msg.u.config.data, len));
		// A write may change what the device shows (virtio-input's
		// select/subsel window): refresh the kernel's cache before the
		// driver, still waiting for this reply, reads it.
		if (config_size_ != 0)
			push_config("after a driver's config write");
		return 0;
	}
	default:
		log_.warn("unknown kernel message type %u refused", msg.type);
		return -EOPNOTSUPP;
	}
}

// Hands the back-end's config to the kernel; false (logged) if the kernel
// refused it, and the driver keeps what it has.
bool Bridge::push_config(const char *when)
{
	const int err = dev_->update_config(0, backend_config());
	if (err != 0)
		log_.warn("the kernel refused the back-end's config %s: %s", when, errno_string(err).c_str());
	return err == 0;
}

// The back-end's config space as the driver must see it. A virtio-blk
// request must fit the ring: the transport offers no indirect descriptors,
// and the driver waits forever for room for a chain longer than the ring,
// so seg_max is clamped to the queue size less header and status (QEMU
// adjusts it the same way).
std::vector<std::uint8_t> Bridge::backend_config() const
{
	auto config = fe_->get_config(0, config_size_);
	if (opt_.type != "blk" || !(backend_features_ & vu::bit(kBlkFSegMax)) ||
	    config.size() < kBlkSegMaxOffset + sizeof(std::uint32_t))
		return config;
	std::uint32_t seg_max = 0;
	std::memcpy(&seg_max, config.data() + kBlkSegMaxOffset, sizeof(seg_max));
	const std::uint32_t fits = std::max(ring_size_, std::uint16_t{3}) - 2U;
	if (le32toh(seg_max) > fits) {
		seg_max = htole32(fits);
		std::memcpy(config.data() + kBlkSegMaxOffset, &seg_max, sizeof(seg_max));
	}
	return config;
}

void Bridge::start_queue(const vlb_msg &msg)
{
	const auto &vq = msg.u.vq;
	if (vq.index >= queues_)
		throw std::system_error(EINVAL, std::generic_category(), "VQ_ENABLE for an unknown queue");
	if (!inflight_ && (protocol_features_ & vu::bit(vu::pf::kInflightShmfd))) {
		// The back-end keeps its in-flight record here; the adapter keeps
		// the fd across back-end restarts.
		inflight_ = fe_->get_inflight_fd(queues_, static_cast<std::uint16_t>(vq.num));
		fe_->set_inflight_fd(*inflight_);
	}
	if (!memory_sent_) {
		send_memory();
		memory_sent_ = true;
	}
	const QueueSetup setup{vq.num, vq.desc, vq.avail, vq.used};
	send_queue(vq.index, setup);
	running_.at(vq.index) = setup;
	log_.info("queue %u running: %u entries", vq.index, vq.num);
}

// One region: the device's IOVA space, guest and user address both the
// IOVA, so every address the driver writes is valid as it is.
void Bridge::send_memory()
{
	const UniqueFd iova = dev_->iova_fd();
	const vu::MemRegion region{0, dev_->iova_size(), 0, 0};
	const int fds[] = {iova.get()};
	fe_->set_mem_table(std::span(&region, 1), fds);
}

void Bridge::send_queue(std::uint32_t index, const QueueSetup &q, std::uint16_t base)
{
	fe_->set_vring_num(index, q.num);
	// The base only matters without an inflight region; with one the
	// back-end derives it from the used ring and its record.
	fe_->set_vring_base(index, base);
	fe_->set_vring_addr(vu::VringAddr{index, 0, q.desc, q.used, q.avail, 0});
	fe_->set_vring_call(index, dev_->call(static_cast<std::uint16_t>(index)));
	fe_->set_vring_kick(index, dev_->kick(static_cast<std::uint16_t>(index)));
	fe_->set_vring_enable(index, true);
}

void Bridge::on_backend_request()
{
	try {
		auto msg = backend_req_.receive();
		if (!msg) {
			loop_.unwatch(backend_req_.fd());
			backend_req_.close();
			return;
		}
		vu::check_backend_request(*msg);
		// CONFIG_CHANGE_MSG: re-read the whole config and push it.
		if (push_config("on its config change"))
			log_.info("back-end config change forwarded");
		if (msg->needs_reply())
			backend_req_.send_value(msg->code(), vu::kFlagReply, std::uint64_t{0});
	} catch (const std::exception &e) {
		fail(std::string("back-end request channel: ") + e.what());
	}
}

} // namespace vlb::adapter
