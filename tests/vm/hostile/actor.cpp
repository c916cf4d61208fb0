// SPDX-License-Identifier: Apache-2.0
#include "actor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include <linux/virtio_loopback.h>

#include "vlb/unique_fd.h"

namespace vlb::hostile {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint32_t kBlk = 2, kConsole = 3, kRng = 4, kInput = 18;
constexpr std::uint64_t kVersion1 = 1ULL << 32;
constexpr std::uint16_t kDescNext = 1, kDescWrite = 2;
constexpr std::uint8_t kDriverOk = 4;
constexpr std::ptrdiff_t kConsoleControlRx = 2;

struct Queue {
	bool enabled = false;
	std::uint32_t num = 0;
	std::uint64_t desc = 0, avail = 0, used = 0;
	std::uint16_t last_avail = 0, used_idx = 0;
	UniqueFd kick, call;
};

struct LateReply {
	Clock::time_point due;
	vlb_reply reply;
};

// How this process treats its driver, for its whole life.
enum class Manner { good, sloppy, mute, garbage };

class Actor {
public:
	explicit Actor(const ActorConfig &cfg) : cfg_(cfg), rng_(cfg.seed) {}
	int run();

private:
	// Randomness, all from the seed.
	bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
	std::uint64_t below(std::uint64_t n) { return n ? std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_) : 0; }
	std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
	void count(Count c, std::uint64_t n = 1) const { cfg_.counters->add(c, n); }

	vlb_create random_create();
	void random_config(vlb_create &c);
	bool create();
	void map_iova();
	void set_eventfd(std::uint32_t index, bool call, bool clear);
	void on_message();
	void reply(const vlb_msg &msg);
	void flush_late_replies();
	void on_kick(Queue &q);
	void serve(Queue &q, std::uint16_t head);
	void push_used(Queue &q, std::uint32_t id, std::uint32_t len);
	void signal(Queue &q);
	void garble(Queue &q);
	void port_message(std::uint64_t addr);
	void hold(Queue &q, std::uint16_t head);
	void random_action();
	void random_copy();
	void random_config_update();
	void reattach_another();
	void touch_in_child();
	void fork_holder();

	// The IOVA space as this process maps it; an access the kernel refuses
	// is SIGBUS, and this process dies of it (a campaign counts that).
	template <typename T> T load(std::uint64_t iova)
	{
		T v{};
		if (iova_map_ != nullptr && iova <= iova_size_ - sizeof(T))
			std::memcpy(&v, iova_map_ + iova, sizeof(T)); // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
		return v;
	}
	template <typename T> void store(std::uint64_t iova, const T &v)
	{
		if (iova_map_ != nullptr && iova <= iova_size_ - sizeof(T))
			std::memcpy(iova_map_ + iova, &v, sizeof(T)); // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
	}

	ActorConfig cfg_;
	std::mt19937_64 rng_;
	Manner manner_ = Manner::good;
	vlb_create params_{};
	UniqueFd ctl_, dev_, iova_;
	std::uint8_t *iova_map_ = nullptr;
	std::uint64_t iova_size_ = 0;
	std::vector<Queue> queues_;
	std::vector<LateReply> late_;
	std::vector<UniqueFd> others_;  // fds of other devices won by REATTACH
	std::vector<UniqueFd> files_;   // what copies are pointed at
	std::vector<vlb_iova_seg> held_;  // buffers of requests kept in flight
};

std::string type_name(std::uint32_t t)
{
	switch (t) {
	case kBlk: return "blk";
	case kConsole: return "console";
	case kRng: return "rng";
	case kInput: return "input";
	default: return "type-" + std::to_string(t);
	}
}

template <typename T> void put(vlb_create &c, std::size_t off, T v)
{
	std::memcpy(std::span(c.config).subspan(off, sizeof(v)).data(), &v, sizeof(v));
}

template <typename T> T get(const vlb_create &c, std::size_t off)
{
	T v{};
	std::memcpy(&v, std::span(c.config).subspan(off, sizeof(v)).data(), sizeof(v));
	return v;
}

} // namespace

std::string actor_name(unsigned slot, unsigned generation)
{
	return "h" + std::to_string(slot) + "-" + std::to_string(generation);
}

namespace {

// Mostly plausible devices, so that drivers probe and applications use
// them; now and then anything at all, which CREATE must refuse.
vlb_create Actor::random_create()
{
	vlb_create c{};
	static constexpr std::array<std::uint32_t, 4> kTypes = {kBlk, kConsole, kRng, kInput};
	c.device_id = chance(0.05) ? static_cast<std::uint32_t>(below(64)) : kTypes.at(below(kTypes.size()));
	c.device_features = kVersion1 | (chance(0.5) ? below(1ULL << 24) : 0);
	if (chance(0.03))
		c.device_features = below(~0ULL);
	c.num_queues = static_cast<std::uint16_t>(c.device_id == kBlk ? between(1, 4) : c.device_id == kRng ? 1 : 2);
	c.queue_size_max = static_cast<std::uint16_t>(1U << between(c.device_id == kConsole ? 8 : 1, 10));
	if (chance(0.05))
		c.num_queues = static_cast<std::uint16_t>(below(80));
	if (chance(0.05))
		c.queue_size_max = static_cast<std::uint16_t>(below(3000));
	static constexpr std::array<std::uint64_t, 4> kIova = {1ULL << 20, 1ULL << 22, 1ULL << 24, 1ULL << 26};
	c.iova_size = kIova.at(below(kIova.size()));
	c.max_granted_pages = chance(0.5) ? 0 : static_cast<std::uint32_t>(between(1, c.iova_size / 4096));
	static constexpr std::array<std::uint32_t, 5> kBounce = {0, 512, 4096, 65536, VLB_BOUNCE_ALL};
	c.bounce_threshold = kBounce.at(below(kBounce.size()));
	c.bounce_pool_pages = static_cast<std::uint32_t>(below(64));
	// Short deadlines: the guest's hung-task detector speaks after 30 s.
	if (c.device_id == kBlk)
		c.request_timeout_ms = static_cast<std::uint32_t>(between(500, 12000));
	else if (c.device_id == kConsole || c.device_id == kRng)
		c.request_timeout_ms = static_cast<std::uint32_t>(between(0, 8000));
	if (chance(0.03))
		c.request_timeout_ms = static_cast<std::uint32_t>(below(200000));
	// Now and then another process's name: it is in use, or gone.
	const std::string name = chance(0.1) ? actor_name(static_cast<unsigned>(below(cfg_.slots)),
							  static_cast<unsigned>(below(cfg_.generation + 1)))
					     : actor_name(cfg_.slot, cfg_.generation);
	std::strncpy(c.name, name.c_str(), sizeof(c.name) - 1);
	random_config(c);
	return c;
}

void Actor::random_config(vlb_create &c)
{
	if (chance(0.05)) {  // garbage
		c.config_size = static_cast<std::uint16_t>(below(VLB_CONFIG_MAX + 1));
		for (auto &b : std::span(c.config).first(c.config_size))
			b = static_cast<std::uint8_t>(below(256));
		return;
	}
	switch (c.device_id) {
	case kBlk:
		c.config_size = 72;
		c.device_features |= 1ULL << 2 | 1ULL << 6 | (chance(0.5) ? 1ULL << 9 : 0);  // SEG_MAX, BLK_SIZE, FLUSH
		c.device_features &= ~(1ULL << 17);
		put<std::uint64_t>(c, 0, between(8, 131072));  // capacity
		put<std::uint32_t>(c, 12, static_cast<std::uint32_t>(chance(0.9) ? between(1, c.queue_size_max) : below(100000)));
		put<std::uint32_t>(c, 20, chance(0.9) ? 512U : static_cast<std::uint32_t>(below(10000)));
		put<std::uint32_t>(c, 48, static_cast<std::uint32_t>(between(1, 1U << 20)));
		put<std::uint16_t>(c, 34, static_cast<std::uint16_t>(between(1, c.num_queues)));
		put<std::uint8_t>(c, 32, static_cast<std::uint8_t>(below(chance(0.9) ? 2 : 256)));  // wce
		break;
	case kConsole:
		c.config_size = 12;
		if (chance(0.5)) {
			c.device_features |= 1ULL << 1;  // MULTIPORT
			c.num_queues = static_cast<std::uint16_t>(2 * between(2, 5));
			put<std::uint32_t>(c, 4, static_cast<std::uint32_t>(chance(0.9) ? c.num_queues / 2 - 1 : below(100)));
		}
		break;
	case kInput:
		c.config_size = 136;
		for (auto &b : std::span(c.config).subspan(2, 134))
			b = chance(0.1) ? static_cast<std::uint8_t>(below(256)) : 0;
		break;
	default:
		break;
	}
}

bool Actor::create()
{
	ctl_.reset(::open(cfg_.control_node.c_str(), O_RDWR | O_CLOEXEC));
	if (!ctl_)
		return false;
	for (int tries = 0; tries < 3; ++tries) {
		vlb_create c = random_create();
		const int fd = ::ioctl(ctl_.get(), VLB_IOC_CREATE, &c);
		if (fd < 0) {
			count(Count::creates_refused);
			continue;
		}
		dev_.reset(fd);
		params_ = c;
		count(Count::creates);
		std::printf("actor %u.%u: %s %s, %u queue(s) of %u, deadline %u ms\n", cfg_.slot, cfg_.generation,
			    type_name(c.device_id).c_str(), c.name, c.num_queues, c.queue_size_max, c.request_timeout_ms);
		(void)std::fflush(stdout);
		return true;
	}
	return false;
}

void Actor::map_iova()
{
	iova_.reset(::ioctl(dev_.get(), VLB_DEV_GET_IOVA_FD));
	if (!iova_)
		return;
	void *p = ::mmap(nullptr, params_.iova_size, PROT_READ | PROT_WRITE, MAP_SHARED, iova_.get(), 0);
	if (p != MAP_FAILED) {
		iova_map_ = static_cast<std::uint8_t *>(p);
		iova_size_ = params_.iova_size;
	}
}

void Actor::set_eventfd(std::uint32_t index, bool call, bool clear)
{
	Queue &q = queues_.at(index);
	UniqueFd efd(clear ? -1 : ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	const vlb_vq_eventfd e{.index = index, .fd = efd.get(), .reserved = 0};
	if (::ioctl(dev_.get(), call ? VLB_DEV_SET_VQ_CALL : VLB_DEV_SET_VQ_KICK, &e) == 0)
		(call ? q.call : q.kick) = std::move(efd);
	count(Count::eventfd_swaps);
}

void Actor::reply(const vlb_msg &msg)
{
	vlb_reply r{.seq = msg.seq, .result = 0, .reserved = {0, 0}};
	bool late = false;
	switch (manner_) {
	case Manner::good:
		break;
	case Manner::mute:
		count(Count::ignored);
		return;
	case Manner::garbage:
		r.seq = chance(0.5) ? static_cast<std::uint32_t>(below(~0U)) : r.seq;
		r.result = static_cast<std::int32_t>(below(~0U));
		r.reserved[0] = static_cast<std::uint32_t>(below(2));
		break;
	case Manner::sloppy:
		if (chance(0.15)) {
			count(Count::ignored);
			return;
		}
		if (chance(0.15))
			r.result = -static_cast<std::int32_t>(between(1, 200));
		late = chance(0.2);
		break;
	}
	if (late) {
		late_.push_back({Clock::now() + milliseconds(below(1500)), r});
		count(Count::answered_late);
		return;
	}
	(void)!::write(dev_.get(), &r, sizeof(r));
	count(r.result == 0 && manner_ != Manner::garbage ? Count::answered : Count::answered_wrong);
}

void Actor::flush_late_replies()
{
	const auto now = Clock::now();
	auto it = std::partition(late_.begin(), late_.end(), [&](const LateReply &l) { return l.due > now; });
	for (auto i = it; i != late_.end(); ++i)
		(void)!::write(dev_.get(), &i->reply, sizeof(i->reply));
	late_.erase(it, late_.end());
}

void Actor::on_message()
{
	vlb_msg msg{};
	if (::read(dev_.get(), &msg, sizeof(msg)) != static_cast<ssize_t>(sizeof(msg))) {
		if (errno == ENODEV)  // removed (broken): stop reading it
			dev_.reset();
		return;
	}
	count(Count::messages);
	if (msg.type == VLB_MSG_VQ_ENABLE && msg.u.vq.index < queues_.size()) {
		Queue &q = queues_.at(msg.u.vq.index);
		q.enabled = true;
		q.num = msg.u.vq.num;
		q.desc = msg.u.vq.desc;
		q.avail = msg.u.vq.avail;
		q.used = msg.u.vq.used;
		q.last_avail = q.used_idx = 0;
	} else if (msg.type == VLB_MSG_VQ_DISABLE && msg.u.vq.index < queues_.size()) {
		queues_.at(msg.u.vq.index).enabled = false;
	} else if (msg.type == VLB_MSG_RESET) {
		for (Queue &q : queues_)
			q.enabled = false;
	} else if (msg.type == VLB_MSG_SET_STATUS && (msg.u.status.status & kDriverOk)) {
		count(Count::driver_ok);
	}
	reply(msg);
}

void Actor::push_used(Queue &q, std::uint32_t id, std::uint32_t len)
{
	const std::uint64_t elem = q.used + 4 + 8 * std::uint64_t{static_cast<std::uint16_t>(q.used_idx % q.num)};
	store<std::uint32_t>(elem, id);
	store<std::uint32_t>(elem + 4, len);
	q.used_idx++;
	std::atomic_thread_fence(std::memory_order_release);
	store<std::uint16_t>(q.used + 2, q.used_idx);
}

void Actor::signal(Queue &q)
{
	const auto index = static_cast<std::uint32_t>(&q - queues_.data());
	if (chance(0.2) && iova_) {
		const vlb_iova_call c{.fd = q.call ? q.call.get() : static_cast<int>(below(64)), .reserved = 0};
		(void)::ioctl(iova_.get(), VLB_IOVA_CALL, &c);
		count(Count::call_ioctls);
	} else if (chance(0.2)) {
		const vlb_vq_index v{.index = chance(0.9) ? index : static_cast<std::uint32_t>(below(100)), .reserved = 0};
		(void)::ioctl(dev_.get(), VLB_DEV_VQ_INTERRUPT, &v);
		count(Count::interrupts);
	} else if (q.call) {
		(void)::eventfd_write(q.call.get(), 1);
		count(Count::calls);
	}
}

// A correct completion: the chain walked, its writable bytes written the
// way the device type would (blk: status OK last), its length reported.
void Actor::serve(Queue &q, std::uint16_t head)
{
	std::uint32_t written = 0;
	std::uint64_t last = 0;
	std::uint64_t first_writable = 0;
	std::uint32_t first_len = 0;
	std::uint16_t i = head;
	for (std::uint32_t n = 0; n < q.num && i < q.num; ++n) {
		const std::uint64_t d = q.desc + 16 * std::uint64_t{i};
		const auto addr = load<std::uint64_t>(d);
		const auto len = load<std::uint32_t>(d + 8);
		const auto flags = load<std::uint16_t>(d + 12);
		if ((flags & kDescWrite) != 0 && len != 0 && addr < iova_size_ && len <= iova_size_ - addr) {
			if (params_.device_id == kRng)
				for (std::uint32_t b = 0; b < std::min<std::uint32_t>(len, 256); ++b)
					store<std::uint8_t>(addr + b, static_cast<std::uint8_t>(below(256)));
			if (first_writable == 0) {
				first_writable = addr;
				first_len = len;
			}
			written += len;
			last = addr + len - 1;
		}
		if ((flags & kDescNext) == 0)
			break;
		i = load<std::uint16_t>(d + 14);
	}
	if (params_.device_id == kBlk && last != 0)
		store<std::uint8_t>(last, 0);  // VIRTIO_BLK_S_OK
	if (params_.device_id == kConsole && &q - queues_.data() == kConsoleControlRx && first_writable != 0 &&
	    first_len >= 8) {
		port_message(first_writable);
		push_used(q, head, 8);
		count(Count::completed);
		return;
	}
	push_used(q, head, params_.device_id == kConsole || params_.device_id == kInput ? 0 : written);
	count(Count::completed);
}

// A multiport console's port hot-plug at random (struct
// virtio_console_control at |addr|): ports added, removed and added again,
// opened and closed, ids beyond max_nr_ports now and then.
void Actor::port_message(std::uint64_t addr)
{
	static constexpr std::array<std::uint16_t, 5> kEvents = {1, 1, 2, 2, 6};  // ADD, REMOVE, PORT_OPEN
	const auto ports = get<std::uint32_t>(params_, 4);  // max_nr_ports
	store<std::uint32_t>(addr, static_cast<std::uint32_t>(chance(0.95) ? below(std::max(ports, 1U)) : below(64)));
	store<std::uint16_t>(addr + 4, kEvents.at(below(kEvents.size())));
	store<std::uint16_t>(addr + 6, static_cast<std::uint16_t>(below(2)));
	count(Count::port_messages);
}

// Remembers the buffers of a request kept in flight: copies aim there.
void Actor::hold(Queue &q, std::uint16_t head)
{
	std::uint16_t i = head;
	for (std::uint32_t n = 0; n < q.num && i < q.num && held_.size() < 64; ++n) {
		const std::uint64_t d = q.desc + 16 * std::uint64_t{i};
		const auto len = load<std::uint32_t>(d + 8);
		if (len != 0)
			held_.push_back({.iova = load<std::uint64_t>(d), .len = len});
		if ((load<std::uint16_t>(d + 12) & kDescNext) == 0)
			break;
		i = load<std::uint16_t>(d + 14);
	}
}


void Actor::garble(Queue &q)
{
	if (chance(0.5)) {
		push_used(q, static_cast<std::uint32_t>(below(q.num * 2 + 2)), static_cast<std::uint32_t>(below(1U << 20)));
	} else {
		q.used_idx = static_cast<std::uint16_t>(q.used_idx + below(q.num + 4));
		store<std::uint16_t>(q.used + 2, q.used_idx);
	}
	count(Count::garbage_used);
}

void Actor::on_kick(Queue &q)
{
	eventfd_t v = 0;
	(void)::eventfd_read(q.kick.get(), &v);
	if (!q.enabled || q.num == 0 || iova_map_ == nullptr)
		return;
	bool any = false;
	const auto idx = load<std::uint16_t>(q.avail + 2);
	while (q.last_avail != idx) {
		const auto head = load<std::uint16_t>(q.avail + 4 + 2 * std::uint64_t{static_cast<std::uint16_t>(q.last_avail % q.num)});
		q.last_avail++;
		// Receive-type buffers a real device would keep for its data.
		const bool keep = (params_.device_id == kConsole && (&q - queues_.data()) % 2 == 0) ||
				  (params_.device_id == kInput && &q == queues_.data());
		if (manner_ == Manner::mute || (keep && chance(0.9))) {
			hold(q, head);
			continue;
		}
		if (manner_ == Manner::garbage || (manner_ == Manner::sloppy && chance(0.1))) {
			garble(q);
			any = true;
			continue;
		}
		if (manner_ == Manner::sloppy && chance(0.15)) {
			hold(q, head);  // never completed, but copied into
			continue;
		}
		serve(q, head);
		any = true;
	}
	if (any)
		signal(q);
}

void Actor::random_copy()
{
	if (!iova_ || files_.empty())
		return;
	std::array<vlb_iova_seg, 8> segs{};
	const auto n = static_cast<std::uint32_t>(between(1, segs.size()));
	for (std::uint32_t s = 0; s < n; ++s) {
		// A buffer of a request kept in flight, or anywhere.
		if (!held_.empty() && chance(0.8)) {
			segs.at(s) = held_.at(below(held_.size()));
			if (chance(0.3))  // part of it, or past its end
				segs.at(s).len = between(1, segs.at(s).len + 4096);
			continue;
		}
		segs.at(s) = {.iova = below(std::max<std::uint64_t>(params_.iova_size, 1)), .len = between(1, 65536)};
	}
	vlb_iova_copy c{};
	c.segs = reinterpret_cast<std::uintptr_t>(segs.data()); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): the uapi carries pointers as u64
	c.nr_segs = chance(0.95) ? n : static_cast<std::uint32_t>(below(1000));
	c.fd = chance(0.9) ? files_.at(below(files_.size())).get() : static_cast<int>(below(100));
	c.offset = below(1 << 20);
	c.flags = chance(0.95) ? (chance(0.5) ? VLB_IOVA_COPY_TO_FILE : VLB_IOVA_COPY_FROM_FILE)
			       : static_cast<std::uint32_t>(below(8));
	count(Count::copies);
	if (::ioctl(iova_.get(), VLB_IOVA_COPY, &c) > 0)
		count(Count::copies_done);
}

void Actor::random_config_update()
{
	vlb_config_update u{};
	u.offset = static_cast<std::uint32_t>(below(params_.config_size + 2U));
	u.len = static_cast<std::uint32_t>(between(1, 16));
	for (auto &b : std::span(u.data).first(u.len))
		b = static_cast<std::uint8_t>(below(256));
	(void)::ioctl(dev_.get(), VLB_DEV_CONFIG_UPDATE, &u);
	count(Count::config_updates);
}

void Actor::reattach_another()
{
	vlb_reattach r{};
	// Another slot's device, this one or the one before (in its grace
	// period, if it just died), or anything.
	const auto slot = static_cast<unsigned>(below(cfg_.slots));
	const unsigned gen = cfg_.counters->slot_generation.at(slot);
	const std::string name = actor_name(slot, gen - static_cast<unsigned>(below(std::min(gen + 1, 3U))));
	std::strncpy(r.name, name.c_str(), sizeof(r.name) - 1);
	count(Count::reattaches);
	const int fd = ::ioctl(ctl_.get(), VLB_IOC_REATTACH, &r);
	if (fd >= 0) {
		count(Count::reattached);
		others_.emplace_back(fd);
	}
}

// A page of the IOVA space touched from a child that maps it afresh:
// SIGBUS where nothing is granted kills only the child.
void Actor::touch_in_child()
{
	if (!iova_)
		return;
	const std::uint64_t at = below(params_.iova_size);
	const bool write = chance(0.5);
	const pid_t pid = ::fork();
	if (pid == 0) {
		void *p = ::mmap(nullptr, params_.iova_size, PROT_READ | PROT_WRITE, MAP_SHARED, iova_.get(), 0);
		if (p == MAP_FAILED)
			::_exit(2);
		volatile auto *b = static_cast<volatile std::uint8_t *>(p) + at; // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
		const std::uint8_t old = *b;
		if (write)
			*b = old;
		::_exit(0);
	}
	if (pid > 0) {
		int st = 0;
		(void)::waitpid(pid, &st, 0);
		count(Count::touches);
	}
}

// A child that keeps every fd of this process for a while, then exits:
// the device stays attached through it.
void Actor::fork_holder()
{
	const auto ms = below(3000);
	const pid_t pid = ::fork();
	if (pid == 0) {
		std::this_thread::sleep_for(milliseconds(ms));
		::_exit(0);
	}
	if (pid > 0)
		count(Count::forks);
}

void Actor::random_action()
{
	const auto pick = below(100);
	if (pick < 20) {
		random_copy();
	} else if (pick < 30) {
		if (!queues_.empty())
			set_eventfd(static_cast<std::uint32_t>(below(queues_.size())), chance(0.5), chance(0.3));
	} else if (pick < 38) {
		random_config_update();
	} else if (pick < 45) {
		reattach_another();
	} else if (pick < 60) {
		touch_in_child();
	} else if (pick < 63) {
		fork_holder();
	} else if (pick < 70 && !queues_.empty()) {
		Queue &q = queues_.at(below(queues_.size()));
		if (q.enabled && q.num != 0)
			garble(q);
		signal(q);
	} else if (pick < 73) {
		vlb_dev_state st{};
		(void)::ioctl(dev_.get(), VLB_DEV_GET_STATE, &st);
		auto vs = std::make_unique<vlb_vq_state>();
		vs->index = static_cast<std::uint32_t>(below(queues_.size() + 1));
		(void)::ioctl(dev_.get(), VLB_DEV_GET_VQ_STATE, vs.get());
	} else if (pick < 75 && !others_.empty()) {
		others_.erase(others_.begin() + static_cast<std::ptrdiff_t>(below(others_.size())));
	} else if (pick < 76) {
		dev_.reset();  // detach early; the IOVA fd and the rest stay
	}
}

int Actor::run()
{
	count(Count::actors);
	static constexpr std::array<Manner, 10> kManners = {Manner::good, Manner::good, Manner::good, Manner::good,
							    Manner::good, Manner::sloppy, Manner::sloppy, Manner::sloppy,
							    Manner::mute, Manner::garbage};
	manner_ = kManners.at(below(kManners.size()));
	if (!create())
		return 0;
	queues_.resize(params_.num_queues);
	for (std::uint32_t i = 0; i < queues_.size(); ++i) {
		if (chance(0.95))
			set_eventfd(i, false, false);
		if (chance(0.95))
			set_eventfd(i, true, false);
	}
	map_iova();
	// What copies are pointed at: kernel-only files, and files the kernel
	// must refuse (a pipe, this device's fds, files served by a process).
	char tmpl[] = "/tmp/vlb-hostile-XXXXXX";
	UniqueFd tmp(::mkstemp(tmpl));
	if (tmp) {
		(void)::unlink(tmpl);
		(void)!::ftruncate(tmp.get(), 1 << 20);
		files_.push_back(std::move(tmp));
	}
	files_.emplace_back(::memfd_create("vlb-hostile", MFD_CLOEXEC));
	(void)!::ftruncate(files_.back().get(), 1 << 20);
	std::array<int, 2> pipe_fds{};
	if (::pipe2(pipe_fds.data(), O_CLOEXEC | O_NONBLOCK) == 0) {
		files_.emplace_back(pipe_fds[0]);
		files_.emplace_back(pipe_fds[1]);
	}
	for (const char *path : {"/etc/hostname", "/dev/null", "/dev/vda", "/dev/vdb"})
		if (UniqueFd f(::open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK)); f)
			files_.push_back(std::move(f));
	files_.emplace_back(::dup(iova_ ? iova_.get() : 0));
	files_.emplace_back(::dup(dev_.get()));

	const auto end = Clock::now() + milliseconds(between(200, 10000));
	while (Clock::now() < end) {
		std::vector<pollfd> p;
		if (dev_)
			p.push_back({dev_.get(), POLLIN, 0});
		for (const Queue &q : queues_)
			p.push_back({q.kick ? q.kick.get() : -1, POLLIN, 0});
		(void)::poll(p.data(), p.size(), 10);
		std::size_t k = 0;
		if (dev_ && (p.at(k++).revents & (POLLIN | POLLERR | POLLHUP)))
			on_message();
		for (Queue &q : queues_)
			if (k < p.size() && (p.at(k++).revents & POLLIN) && q.kick)
				on_kick(q);
		if (dev_)
			flush_late_replies();
		if (dev_ && chance(0.05))
			random_action();
	}
	// Fds go in an order of chance's choosing.
	while (!files_.empty())
		files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(below(files_.size())));
	if (chance(0.5))
		dev_.reset();
	return 0;
}

} // namespace

int run_actor(const ActorConfig &cfg)
{
	Actor a(cfg);
	return a.run();
}

} // namespace vlb::hostile
