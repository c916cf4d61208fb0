// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/driver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "vlb/sys_error.h"
#include "vlb/unix_socket.h"
#include "vlb/vu/event_loop.h"

namespace vlb::vu {
namespace {

constexpr std::uint64_t kPage = 4096;

std::uint64_t page_round(std::uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

UniqueFd make_eventfd()
{
	UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!fd)
		throw_errno("eventfd");
	return fd;
}

} // namespace

UniqueFd UserDriver::connect(const std::string &path) { return connect_unix(path); }

UserDriver::UserDriver(UniqueFd sock, const Options &opt) : opt_(opt), fe_(std::move(sock), opt.timeout)
{
	if (!valid_queue_size(opt_.queue_size) || opt_.queues == 0)
		throw std::invalid_argument("queue size must be a power of two, queues >= 1");
	mem_fd_ = UniqueFd(::memfd_create("vlb-driver-memory", MFD_CLOEXEC));
	if (!mem_fd_)
		throw_errno("memfd_create");
	if (::ftruncate(mem_fd_.get(), static_cast<off_t>(opt_.memory_bytes)) != 0)
		throw_errno("ftruncate driver memory");
	mem_ = Mapping::map(opt_.memory_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd_.get(), 0,
			    "driver memory");
	std::uint64_t off = 0;
	queues_.resize(opt_.queues);
	for (auto &q : queues_) {
		q.desc_off = off;
		off += page_round(desc_table_bytes(opt_.queue_size));
		q.avail_off = off;
		off += page_round(avail_ring_bytes(opt_.queue_size));
		q.used_off = off;
		off += page_round(used_ring_bytes(opt_.queue_size));
		q.kick = make_eventfd();
		q.call = make_eventfd();
		q.chains.assign(opt_.queue_size, {});
		for (std::uint16_t i = 0; i < opt_.queue_size; i++)
			q.free.push_back(static_cast<std::uint16_t>(opt_.queue_size - 1 - i));
	}
	if (off >= opt_.memory_bytes)
		throw std::invalid_argument("driver memory too small for the rings");
	data_start_ = next_free_ = off;
	negotiate();
	for (std::uint16_t i = 0; i < opt_.queues; i++)
		setup_queue(i);
}

void UserDriver::negotiate()
{
	const std::uint64_t offered = fe_.get_features();
	const std::uint64_t need = bit(32) | bit(kFProtocolFeatures);
	if ((offered & need) != need)
		throw ProtocolError("back-end lacks VERSION_1 or PROTOCOL_FEATURES");
	const std::uint64_t acked = offered & (need | opt_.wanted_features);
	if (features_ != 0 && acked != features_)
		throw ProtocolError("back-end came back with different features");
	features_ = acked;

	std::uint64_t want_pf = bit(pf::kMq) | bit(pf::kReplyAck) | bit(pf::kConfig);
	if (opt_.inflight)
		want_pf |= bit(pf::kInflightShmfd);
	protocol_features_ = fe_.get_protocol_features() & want_pf;
	fe_.set_protocol_features(protocol_features_);
	if (protocol_features_ & bit(pf::kMq)) {
		if (fe_.get_queue_num() < opt_.queues)
			throw ProtocolError("back-end has fewer queues than requested");
	} else if (opt_.queues > 1) {
		throw ProtocolError("back-end has no MQ support");
	}
	fe_.set_owner();
	fe_.set_features(features_);

	if (protocol_features_ & bit(pf::kInflightShmfd)) {
		if (!inflight_.fd)
			inflight_ = fe_.get_inflight_fd(opt_.queues, opt_.queue_size);
		fe_.set_inflight_fd(inflight_);
	}
	send_memory_table();
}

void UserDriver::send_memory_table()
{
	const MemRegion region{0, opt_.memory_bytes, reinterpret_cast<std::uint64_t>(mem_.data()), 0};
	const int fds[] = {mem_fd_.get()};
	fe_.set_mem_table(std::span(&region, 1), fds);
}

void UserDriver::setup_queue(std::uint16_t i)
{
	auto &q = queues_[i];
	const auto base = reinterpret_cast<std::uint64_t>(mem_.data());
	std::uint16_t used_idx = 0;
	std::memcpy(&used_idx, at(q.used_off + 2), sizeof(used_idx));
	fe_.set_vring_num(i, opt_.queue_size);
	fe_.set_vring_base(i, used_idx);
	fe_.set_vring_addr(VringAddr{i, 0, base + q.desc_off, base + q.used_off, base + q.avail_off, 0});
	fe_.set_vring_kick(i, q.kick.get());
	fe_.set_vring_call(i, q.call.get());
	fe_.set_vring_enable(i, true);
}

void UserDriver::reconnect(UniqueFd sock)
{
	fe_ = Frontend(std::move(sock), opt_.timeout);
	negotiate();
	for (std::uint16_t i = 0; i < opt_.queues; i++)
		setup_queue(i);
}

std::uint8_t *UserDriver::at(std::uint64_t off) const { return static_cast<std::uint8_t *>(mem_.data()) + off; }

std::span<std::uint8_t> UserDriver::memory(std::uint64_t offset, std::uint64_t len) const
{
	if (!range_inside(offset, len, 0, opt_.memory_bytes))
		throw std::out_of_range("driver memory range");
	return {at(offset), len};
}

DriverBuffer UserDriver::alloc(std::uint32_t len, std::uint32_t align)
{
	const std::uint64_t start = (next_free_ + align - 1) / align * align;
	if (start + len > opt_.memory_bytes)
		throw std::length_error("driver memory exhausted");
	next_free_ = start + len;
	return {start, len};
}

std::uint16_t UserDriver::in_flight(std::uint16_t queue) const { return queues_.at(queue).outstanding; }

std::optional<std::uint16_t> UserDriver::submit(std::uint16_t queue, std::span<const DriverBuffer> readable,
						 std::span<const DriverBuffer> writable)
{
	auto &q = queues_.at(queue);
	const std::size_t n = readable.size() + writable.size();
	if (n == 0 || n > q.free.size())
		return std::nullopt;
	std::vector<std::uint16_t> idx(n);
	for (auto &d : idx) {
		d = q.free.back();
		q.free.pop_back();
	}
	for (std::size_t k = 0; k < n; k++) {
		const bool w = k >= readable.size();
		const DriverBuffer &b = w ? writable[k - readable.size()] : readable[k];
		VringDesc d{b.offset, b.len,
			    static_cast<std::uint16_t>((w ? kDescFWrite : 0) | (k + 1 < n ? kDescFNext : 0)),
			    k + 1 < n ? idx[k + 1] : std::uint16_t{0}};
		std::memcpy(at(q.desc_off + 16 * std::uint64_t{idx[k]}), &d, sizeof(d));
	}
	const std::uint16_t head = idx[0];
	q.chains[head] = std::move(idx);
	auto *ring = reinterpret_cast<std::uint16_t *>(at(q.avail_off + 4));
	ring[q.avail_idx % opt_.queue_size] = head;
	q.avail_idx++;
	__atomic_store_n(reinterpret_cast<std::uint16_t *>(at(q.avail_off + 2)), q.avail_idx,
			 __ATOMIC_RELEASE);
	q.outstanding++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	const std::uint16_t used_flags = __atomic_load_n(reinterpret_cast<std::uint16_t *>(at(q.used_off)),
							 __ATOMIC_RELAXED);
	if (!q.hold_kicks && !(used_flags & kUsedFNoNotify))
		signal_eventfd(q.kick.get());
	return head;
}

void UserDriver::kick(std::uint16_t queue)
{
	signal_eventfd(queues_.at(queue).kick.get());
}

std::uint64_t UserDriver::take_calls(std::uint16_t queue)
{
	eventfd_t n = 0;
	if (::eventfd_read(queues_.at(queue).call.get(), &n) != 0 && errno != EAGAIN)
		throw_errno("read call eventfd");
	return n;
}

std::vector<Completion> UserDriver::poll(std::uint16_t queue)
{
	auto &q = queues_.at(queue);
	std::vector<Completion> out;
	const std::uint16_t used =
		__atomic_load_n(reinterpret_cast<std::uint16_t *>(at(q.used_off + 2)), __ATOMIC_ACQUIRE);
	while (q.last_used != used) {
		std::uint32_t elem[2];
		std::memcpy(elem, at(q.used_off + 4 + 8 * std::uint64_t{static_cast<std::uint16_t>(
								  q.last_used % opt_.queue_size)}),
			    sizeof(elem));
		q.last_used++;
		if (elem[0] >= opt_.queue_size || q.chains[elem[0]].empty())
			throw ProtocolError("device completed head " + std::to_string(elem[0]) +
					    ", which is not in flight");
		// The chain's descriptors go back to the free list, from the
		// driver's own record: the device may have scribbled on the table.
		for (const auto d : q.chains[elem[0]])
			q.free.push_back(d);
		q.chains[elem[0]].clear();
		q.outstanding--;
		out.push_back({static_cast<std::uint16_t>(elem[0]), elem[1]});
	}
	return out;
}

std::vector<Completion> UserDriver::wait(std::uint16_t queue, std::chrono::milliseconds timeout)
{
	auto &q = queues_.at(queue);
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		auto done = poll(queue);
		if (!done.empty())
			return done;
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return done;
		pollfd p{q.call.get(), POLLIN, 0};
		const int r = ::poll(&p, 1, static_cast<int>(left.count()));
		if (r < 0 && errno != EINTR)
			throw_errno("poll call eventfd");
		drain_eventfd(q.call.get());
	}
}

} // namespace vlb::vu
