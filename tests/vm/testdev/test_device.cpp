// SPDX-License-Identifier: Apache-2.0
#include "test_device.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sched.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <map>
#include <csignal>
#include <numeric>
#include <array>
#include <atomic>
#include <chrono>
#include <bit>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "vlb/sys_error.h"

namespace vlb::testdev {

namespace {

static_assert(std::endian::native == std::endian::little,
	      "virtio 1.x rings are little-endian; this test device assumes a LE host");

constexpr std::uint32_t kVirtioIdBlock = 2;
constexpr std::uint32_t kVirtioIdConsole = 3;
constexpr std::uint32_t kVirtioIdRng = 4;
constexpr std::uint64_t kFeatureVersion1 = 1ULL << 32;
constexpr std::uint64_t kBlkSegMax = 1ULL << 2;
constexpr std::uint64_t kBlkBlkSize = 1ULL << 6;
constexpr std::uint64_t kBlkFlush = 1ULL << 9;
constexpr std::uint64_t kBlkMq = 1ULL << 12;
constexpr std::uint64_t kConsoleMultiport = 1ULL << 1;
constexpr std::uint16_t kDescNext = 1;
constexpr std::uint16_t kDescWrite = 2;
constexpr std::uint16_t kDescIndirect = 4;
constexpr std::uint16_t kUsedNoNotify = 1;  // VRING_USED_F_NO_NOTIFY
constexpr std::uint32_t kSector = 512;

enum BlkType : std::uint32_t { kBlkIn = 0, kBlkOut = 1, kBlkFlushReq = 4, kBlkGetId = 8 };
enum BlkStatus : std::uint8_t { kBlkOk = 0, kBlkIoErr = 1, kBlkUnsupp = 2 };

// A multiport console with one port: its queues, in the driver's order
// (virtio 1.2, 5.3.2), and the control events this device speaks.
enum ConsoleQueue : std::uint32_t { kPortRx = 0, kPortTx = 1, kControlIn = 2, kControlOut = 3, kConsoleQueues = 4 };
enum ConsoleEvent : std::uint16_t { kDeviceReady = 0, kPortAdd = 1, kPortReady = 3, kPortName = 7 };
static_assert(sizeof(ConsoleControl) == 8);

struct VringDesc {
	std::uint64_t addr;
	std::uint32_t len;
	std::uint16_t flags;
	std::uint16_t next;
};
static_assert(sizeof(VringDesc) == 16);

struct BlkHeader {
	std::uint32_t type;
	std::uint32_t reserved;
	std::uint64_t sector;
};
static_assert(sizeof(BlkHeader) == 16);

template <std::size_t N> void set_name(char (&dst)[N], const std::string &src)
{
	if (src.size() >= N)
		throw std::invalid_argument("device name too long: " + src);
	std::fill(std::begin(dst), std::end(dst), '\0');
	std::copy(src.begin(), src.end(), std::begin(dst));
}

void signal_eventfd(int fd)
{
	const std::uint64_t one = 1;
	if (retry_eintr([&] { return ::write(fd, &one, sizeof(one)); }) != sizeof(one))
		throw_errno("signal call eventfd");
}

void drain_eventfd(int fd)
{
	std::uint64_t cnt = 0;
	(void)retry_eintr([&] { return ::read(fd, &cnt, sizeof(cnt)); });
}

// Split ring layout (virtio 1.2, 2.7): flags(2) idx(2) then the entries.
std::uint64_t avail_slot_iova(const Queue &q, std::uint16_t idx)
{
	return q.avail + 4 + std::uint64_t{idx % q.num} * sizeof(std::uint16_t);
}

std::uint64_t used_elem_iova(const Queue &q, std::uint16_t idx)
{
	return q.used + 4 + std::uint64_t{idx % q.num} * 2 * sizeof(std::uint32_t);
}

UniqueFd make_eventfd()
{
	UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!fd)
		throw_errno("eventfd");
	return fd;
}

} // namespace

TestDevice::TestDevice(Options opts) : opts_(std::move(opts))
{
	if (opts_.type == DeviceType::console)
		opts_.queues = kConsoleQueues;
	if (opts_.type == DeviceType::blk)
		disk_.resize(opts_.capacity_mb << 20);
	if (opts_.probes) {
		scratch_ = UniqueFd(::memfd_create("vlb-copy-probes", MFD_CLOEXEC));
		if (!scratch_)
			throw_errno("memfd_create");
		copy_refusals_done_.assign(opts_.copy_refusals.size(), false);
	}
	create();
}

void TestDevice::create()
{
	vlb_create c{};
	if (opts_.type == DeviceType::rng) {
		c.device_id = kVirtioIdRng;
		c.device_features = kFeatureVersion1;
	} else if (opts_.type == DeviceType::console) {
		c.device_id = kVirtioIdConsole;
		c.device_features = kFeatureVersion1 | kConsoleMultiport;
		// struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr.
		const std::uint32_t max_nr_ports = 1;
		std::memcpy(&c.config[4], &max_nr_ports, sizeof(max_nr_ports));
		c.config_size = 12;
	} else {
		c.device_id = kVirtioIdBlock;
		c.device_features = kFeatureVersion1 | kBlkSegMax | kBlkBlkSize | kBlkFlush;
		if (opts_.queues > 1)
			c.device_features |= kBlkMq;
		const std::uint64_t sectors = disk_.size() / kSector;
		const std::uint32_t seg_max = 126;
		const std::uint32_t blk_size = kSector;
		const auto nq = static_cast<std::uint16_t>(opts_.queues);
		std::memcpy(&c.config[0], &sectors, sizeof(sectors));
		std::memcpy(&c.config[12], &seg_max, sizeof(seg_max));
		std::memcpy(&c.config[20], &blk_size, sizeof(blk_size));
		std::memcpy(&c.config[34], &nq, sizeof(nq));
		c.config_size = 36;
	}
	c.num_queues = static_cast<__u16>(opts_.queues);
	c.queue_size_max = static_cast<__u16>(opts_.queue_size);
	c.bounce_threshold = opts_.bounce_threshold;
	c.max_granted_pages = opts_.max_granted_pages;
	c.iova_size = opts_.iova_size;
	c.request_timeout_ms = opts_.request_timeout_ms;
	set_name(c.name, opts_.name);

	const UniqueFd ctl(retry_eintr([&] { return ::open(opts_.control_node.c_str(), O_RDWR | O_CLOEXEC); }));
	if (!ctl)
		throw_errno("open " + opts_.control_node);
	dev_.reset(::ioctl(ctl.get(), VLB_IOC_CREATE, &c));
	if (!dev_)
		throw_errno("VLB_IOC_CREATE");

	UniqueFd iova_fd(::ioctl(dev_.get(), VLB_DEV_GET_IOVA_FD));
	if (!iova_fd)
		throw_errno("VLB_DEV_GET_IOVA_FD");
	iova_ = std::make_unique<IovaSpace>(std::move(iova_fd), c.iova_size);
	if (opts_.hostile == Hostile::late_copy && opts_.type == DeviceType::blk)
		late_ = std::make_unique<LateCopier>(*iova_);

	queues_.resize(opts_.queues);
	for (std::uint32_t i = 0; i < opts_.queues; ++i) {
		Queue &q = queues_[i];
		q.index = i;
		q.kick = make_eventfd();
		q.call = make_eventfd();
		vlb_vq_eventfd e{.index = i, .fd = q.kick.get(), .reserved = 0};
		if (::ioctl(dev_.get(), VLB_DEV_SET_VQ_KICK, &e) < 0)
			throw_errno("VLB_DEV_SET_VQ_KICK");
		e.fd = q.call.get();
		if (::ioctl(dev_.get(), VLB_DEV_SET_VQ_CALL, &e) < 0)
			throw_errno("VLB_DEV_SET_VQ_CALL");
	}
	std::printf("ready name=%s features=0x%llx iova_size=%llu request_timeout_ms=%u\n", opts_.name.c_str(),
		    static_cast<unsigned long long>(c.device_features),
		    static_cast<unsigned long long>(c.iova_size), c.request_timeout_ms);
	(void)std::fflush(stdout);
}

bool TestDevice::handle_message()
{
	vlb_msg msg{};
	const ssize_t n = retry_eintr([&] { return ::read(dev_.get(), &msg, sizeof(msg)); });
	if (n < 0) {
		if (errno == EAGAIN)
			return true;
		if (errno == ENODEV) {
			// Broken, so removed by the kernel; the fd still answers
			// GET_STATS for the counters printed at exit.
			std::printf("removed by the kernel\n");
			(void)std::fflush(stdout);
			return false;
		}
		throw_errno("read control message");
	}
	if (static_cast<std::size_t>(n) != sizeof(msg))
		throw std::runtime_error("short control message");
	if (opts_.verbose)
		std::fprintf(stderr, "testdev: message type %u seq %u\n", msg.type, msg.seq);
	switch (msg.type) {
	case VLB_MSG_VQ_ENABLE: {
		if (msg.u.vq.index >= queues_.size())
			throw std::runtime_error("VQ_ENABLE for an unknown queue");
		Queue &q = queues_[msg.u.vq.index];
		q.num = msg.u.vq.num;
		q.desc = msg.u.vq.desc;
		q.avail = msg.u.vq.avail;
		q.used = msg.u.vq.used;
		q.last_avail = 0;
		q.used_idx = 0;
		q.enabled = true;
		if (opts_.type == DeviceType::console && q.index == kControlIn)
			console_control_heads_.clear();
		break;
	}
	case VLB_MSG_VQ_DISABLE:
		if (msg.u.vq.index < queues_.size())
			queues_[msg.u.vq.index].enabled = false;
		break;
	case VLB_MSG_RESET:
		for (Queue &q : queues_)
			q.enabled = false;
		break;
	default:
		break;
	}
	if (opts_.hostile == Hostile::no_replies)
		return true;
	const vlb_reply reply{.seq = msg.seq, .result = 0, .reserved = {0, 0}};
	// ENOENT: the message timed out or the device broke meanwhile.
	if (retry_eintr([&] { return ::write(dev_.get(), &reply, sizeof(reply)); }) < 0 &&
	    errno != ENOENT)
		throw_errno("write reply");
	return true;
}

std::vector<Segment> TestDevice::walk_chain(const Queue &q, std::uint16_t head) const
{
	std::vector<Segment> chain;
	std::uint16_t i = head;
	for (std::uint32_t count = 0;; ++count) {
		if (i >= q.num || count >= q.num)
			throw std::runtime_error("descriptor chain loops or leaves the table");
		const auto d = iova_->load<VringDesc>(q.desc + std::uint64_t{i} * sizeof(VringDesc));
		if ((d.flags & kDescIndirect) != 0)
			throw std::runtime_error("indirect descriptor (not negotiated)");
		chain.push_back({d.addr, d.len, (d.flags & kDescWrite) != 0});
		if ((d.flags & kDescNext) == 0)
			return chain;
		i = d.next;
	}
}

namespace {

const char *outcome_name(IovaSpace::Outcome o)
{
	switch (o) {
	case IovaSpace::Outcome::ok:
		return "ok";
	case IovaSpace::Outcome::sigbus:
		return "sigbus";
	default:
		return "other";
	}
}

void report(const char *probe, IovaSpace::Outcome want, IovaSpace::Outcome got)
{
	std::printf("probe %s want=%s got=%s\n", probe, outcome_name(want), outcome_name(got));
	(void)std::fflush(stdout);
}

// A VLB_IOVA_COPY probe: |want| and |got| are 0 (it copied) or an errno.
void report_copy(const std::string &probe, int want, int got)
{
	const auto name = [](int e) { return e == 0 ? "ok" : strerrorname_np(e); };
	std::printf("probe %s want=%s got=%s\n", probe.c_str(), name(want), name(got));
	(void)std::fflush(stdout);
}

// 0 if |r| is |len| bytes, the errno of a failure, or EIO for a short copy.
int copy_errno(long r, std::uint64_t len)
{
	if (r < 0)
		return static_cast<int>(-r);
	return static_cast<std::uint64_t>(r) == len ? 0 : EIO;
}

} // namespace

void TestDevice::run_probes(const Queue &q, const std::vector<Segment> &chain)
{
	using A = IovaSpace::Access;
	using O = IovaSpace::Outcome;
	const auto overlaps = [&](std::uint64_t iova) {
		return std::any_of(chain.begin(), chain.end(), [&](const Segment &s) {
			return iova / 4096 >= s.addr / 4096 && iova / 4096 <= (s.addr + s.len - 1) / 4096;
		});
	};
	if (!first_probes_done_) {
		first_probes_done_ = true;
		report("ungranted-read", O::sigbus, iova_->probe(iova_->size() - 4096, A::read));
		report("desc-read", O::ok, iova_->probe(q.desc, A::read));
		report("desc-write", O::sigbus, iova_->probe(q.desc, A::write));
		report("desc-read-then-write", O::sigbus, iova_->probe(q.desc, A::read_then_write));
		report("avail-read", O::ok, iova_->probe(q.avail, A::read));
		report("avail-write", O::sigbus, iova_->probe(q.avail, A::write));
		for (const Segment &s : chain) {
			if (s.writable || s.len == 0)
				continue;
			report("to-device-read", O::ok, iova_->probe(s.addr, A::read));
			report("to-device-write", O::sigbus, iova_->probe(s.addr, A::write));
			report("to-device-read-then-write", O::sigbus,
			       iova_->probe(s.addr, A::read_then_write));
			break;
		}
		for (const Segment &s : chain) {
			if (!s.writable || s.len == 0)
				continue;
			report("from-device-write", O::ok, iova_->probe(s.addr, A::write));
			report("from-device-read-then-write", O::ok,
			       iova_->probe(s.addr, A::read_then_write));
			break;
		}
		run_copy_probes(q, chain);
	} else if (run_fault_around_probes(chain)) {
		// one set per chain: the next probes wait for the next chain
	} else if (!after_completion_done_ && !completed_chain_.empty() &&
		   !overlaps(completed_chain_.front().addr)) {
		// The driver only saw that completion after its pages were revoked.
		after_completion_done_ = true;
		const Segment &done = completed_chain_.front();
		report("after-completion-read", O::sigbus, iova_->probe(done.addr, A::read));
		report_copy("after-completion-copy", EFAULT,
			    copy_errno(iova_->copy(done.addr, done.len, scratch_.get(), 0, true), done.len));
	}
	run_copy_refusals(chain);
}

// VLB_IOVA_COPY gives the rights the mapping gives, on data buffers only,
// and moves the very bytes the mapping shows.
void TestDevice::run_copy_probes(const Queue &q, const std::vector<Segment> &chain)
{
	const int file = scratch_.get();
	report_copy("copy-ungranted", EFAULT,
		    copy_errno(iova_->copy(iova_->size() - 4096, 4096, file, 0, true), 4096));
	report_copy("copy-desc", EFAULT, copy_errno(iova_->copy(q.desc, 16, file, 0, true), 16));
	report_copy("copy-avail", EFAULT, copy_errno(iova_->copy(q.avail, 4, file, 0, true), 4));
	// The one ring the device may write through its mapping: never a copy's target.
	report_copy("copy-used-from-file", EFAULT, copy_errno(iova_->copy(q.used, 8, file, 0, false), 8));
	for (const Segment &s : chain) {
		if (s.writable || s.len == 0)
			continue;
		int got = copy_errno(iova_->copy(s.addr, s.len, file, 0, true), s.len);
		std::vector<std::byte> back(s.len);
		if (got == 0 && (::pread(file, back.data(), back.size(), 0) != static_cast<ssize_t>(s.len) ||
				 std::memcmp(back.data(), iova_->bytes(s.addr, s.len).data(), s.len) != 0))
			got = EBADMSG;  // copied something else than the buffer holds
		report_copy("copy-to-device-to-file", 0, got);
		report_copy("copy-to-device-from-file", EFAULT,
			    copy_errno(iova_->copy(s.addr, s.len, file, 0, false), s.len));
		break;
	}
	for (const Segment &s : chain) {
		if (!s.writable || s.len == 0)
			continue;
		// The device serves the request after the probes: this data is
		// overwritten before the driver sees it.
		std::vector<std::byte> pattern(s.len);
		for (std::size_t i = 0; i < pattern.size(); ++i)
			pattern[i] = static_cast<std::byte>(i * 7 + 1);
		if (::pwrite(file, pattern.data(), pattern.size(), 0) != static_cast<ssize_t>(pattern.size()))
			throw_errno("pwrite scratch");
		int got = copy_errno(iova_->copy(s.addr, s.len, file, 0, false), s.len);
		if (got == 0 && std::memcmp(pattern.data(), iova_->bytes(s.addr, s.len).data(), s.len) != 0)
			got = EBADMSG;
		report_copy("copy-from-device-from-file", 0, got);
		break;
	}
	std::array<int, 2> pipe_fds{};
	if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0)
		throw_errno("pipe2");
	const UniqueFd rd(pipe_fds[0]);
	const UniqueFd wr(pipe_fds[1]);
	const Segment &first = chain.front();
	report_copy("copy-pipe", EINVAL, copy_errno(iova_->copy(first.addr, first.len, wr.get(), 0, true), first.len));
}

// Files whose I/O comes back to this transport are refused before
// anything is looked up: a copy waits for them while holding up revocation.
// Opening such a path needs I/O this device must serve (a partition scan,
// a directory lookup), so a child opens it, copies and reports, and
// nobody waits for it.
void TestDevice::run_copy_refusals(const std::vector<Segment> &chain)
{
	for (std::size_t i = 0; i < opts_.copy_refusals.size(); ++i) {
		if (copy_refusals_done_[i])
			continue;
		copy_refusals_done_[i] = true;
		const auto &[path, want] = opts_.copy_refusals[i];
		const Segment s = chain.front();
		const pid_t pid = ::fork();
		if (pid < 0)
			throw_errno("fork");
		if (pid > 0)
			continue;  // reaped at exit
		// Only the IOVA fd is needed: the device must not stay attached
		// through this child.
		dev_.reset();
		for (Queue &q : queues_) {
			q.kick.reset();
			q.call.reset();
		}
		// Waits until the path exists: the case creates it later.
		for (int tries = 0; tries < 600; ++tries) {
			const UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
			if (f) {
				report_copy((want == ELOOP ? "loop:" : "served:") + path, want,
					    copy_errno(iova_->copy(s.addr, s.len, f.get(), 0, false), s.len));
				::_exit(0);
			}
			::usleep(100000);
		}
		::_exit(1);
	}
}

// The kernel maps the pages after a faulting one that the device may
// reach, each with its own rights: reading a to-device page must not make
// the next to-device page writable, and the next from-device page stays
// writable. Looks for two IOVA-adjacent pages of one direction in |chain|
// (one multi-page buffer, or two buffers); true if it probed.
bool TestDevice::run_fault_around_probes(const std::vector<Segment> &chain)
{
	using A = IovaSpace::Access;
	using O = IovaSpace::Outcome;
	constexpr std::uint64_t kPage = 4096;
	std::map<std::uint64_t, bool> pages;  // page IOVA -> writable
	for (const Segment &s : chain)
		for (std::uint64_t p = s.addr & ~(kPage - 1); s.len && p < s.addr + s.len; p += kPage)
			pages.emplace(p, s.writable);
	for (const auto &[page, writable] : pages) {
		const auto next = pages.find(page + kPage);
		if (next == pages.end() || next->second != writable)
			continue;
		bool &done = writable ? around_from_device_done_ : around_to_device_done_;
		if (done)
			continue;
		done = true;
		if (writable)
			report("around-from-device-write", O::ok,
			       iova_->probe(page + kPage, A::write, page));
		else
			report("around-to-device-write", O::sigbus,
			       iova_->probe(page + kPage, A::write, page));
		return true;
	}
	return false;
}

// A buffer shorter than a page was bounced: the rest of the page the
// device sees must hold nothing of the kernel's (the pool page is zeroed
// and only ever written inside buffer windows).
void TestDevice::check_subpage(const Segment &s)
{
	const std::uint64_t page = s.addr & ~std::uint64_t{4095};
	const std::span<std::byte> bytes = iova_->bytes(page, 4096);
	const std::uint64_t start = s.addr - page;
	const std::uint64_t end = std::min<std::uint64_t>(start + s.len, 4096);
	bool clean = true;
	for (std::uint64_t i = 0; i < 4096; ++i)
		if ((i < start || i >= end) && bytes[i] != std::byte{0})
			clean = false;
	report("subpage-outside-zero", IovaSpace::Outcome::ok,
	       clean ? IovaSpace::Outcome::ok : IovaSpace::Outcome::other);
}

// What the device may see of a from-device buffer before it writes it: a
// page granted whole shows zeros (not what its owner left there), a
// bounced buffer's page zeros outside the buffer (not an earlier request).
void TestDevice::peek(const std::vector<Segment> &chain)
{
	for (const Segment &s : chain) {
		if (!s.writable || s.len == 0)
			continue;
		for (std::uint64_t page = s.addr & ~std::uint64_t{4095}; page < s.addr + s.len; page += 4096) {
			const std::uint64_t start = page < s.addr ? s.addr - page : 0;
			const std::uint64_t end = std::min<std::uint64_t>(s.addr + s.len - page, 4096);
			const bool whole = start == 0 && end == 4096;
			const std::span<std::byte> bytes = iova_->bytes(page, 4096);
			bool clean = true;
			for (std::uint64_t i = 0; i < 4096 && clean; ++i)
				if ((whole || i < start || i >= end) && bytes[i] != std::byte{0})
					clean = false;
			++peeked_;
			stale_ += clean ? 0 : 1;
		}
	}
}

std::uint32_t TestDevice::serve_rng(std::span<const Segment> chain)
{
	std::uint32_t written = 0;
	for (const Segment &s : chain) {
		if (!s.writable)
			continue;
		if (opts_.probes && s.len < 4096 && !after_completion_done_)
			check_subpage(s);
		const std::span<std::byte> out = iova_->bytes(s.addr, s.len);
		if (::getrandom(out.data(), out.size(), 0) != static_cast<ssize_t>(out.size()))
			throw_errno("getrandom");
		written += s.len;
	}
	return written;
}

std::uint32_t TestDevice::serve_blk(std::span<const Segment> chain)
{
	if (chain.size() < 2 || chain.front().writable || chain.front().len < sizeof(BlkHeader) ||
	    !chain.back().writable || chain.back().len < 1)
		throw std::runtime_error("malformed virtio-blk request");
	const auto hdr = iova_->load<BlkHeader>(chain.front().addr);
	const Segment &status_seg = chain.back();
	const std::uint64_t status_addr = status_seg.addr + status_seg.len - 1;
	const auto data = chain.subspan(1, chain.size() - 2);

	const std::uint64_t total = std::accumulate(
		data.begin(), data.end(), std::uint64_t{0},
		[](std::uint64_t sum, const Segment &s) { return sum + s.len; });
	std::uint8_t status = kBlkOk;
	std::uint32_t written = 1;
	const std::uint64_t offset = hdr.sector * kSector;
	switch (hdr.type) {
	case kBlkIn:
	case kBlkOut: {
		if (offset > disk_.size() || total > disk_.size() - offset) {
			status = kBlkIoErr;
			break;
		}
		std::uint64_t pos = offset;
		for (const Segment &s : data) {
			const std::span<std::byte> buf = iova_->bytes(s.addr, s.len);
			const auto at = disk_.begin() + static_cast<std::ptrdiff_t>(pos);
			if (hdr.type == kBlkIn) {
				if (!s.writable)
					throw std::runtime_error("read into a device-readable buffer");
				std::copy_n(at, s.len, buf.begin());
				written += s.len;
			} else {
				std::copy(buf.begin(), buf.end(), at);
			}
			pos += s.len;
		}
		break;
	}
	case kBlkFlushReq:
		break;
	case kBlkGetId: {
		const std::string id = "vlb-testdev-" + opts_.name;
		for (const Segment &s : data) {
			const std::span<std::byte> buf = iova_->bytes(s.addr, s.len);
			std::fill(buf.begin(), buf.end(), std::byte{0});
			const std::size_t n = std::min<std::size_t>(id.size(), buf.size());
			std::memcpy(buf.data(), id.data(), n);
			written += s.len;
		}
		break;
	}
	default:
		status = kBlkUnsupp;
		break;
	}
	iova_->store(status_addr, status);
	return written;
}

std::optional<std::uint32_t> TestDevice::serve_console(const Queue &q, std::uint16_t head,
							std::span<const Segment> chain)
{
	switch (q.index) {
	case kPortRx:
		if (opts_.hostile == Hostile::early_rx && !early_rx_sent_ && !console_port_ready_ &&
		    !chain.empty() && chain.front().writable && chain.front().len > 0) {
			early_rx_sent_ = true;
			iova_->store<std::uint8_t>(chain.front().addr, 'E');
			std::fprintf(stderr, "testdev: early-rx: completed receive head %u before PORT_READY\n",
				     head);
			return 1;
		}
		return std::nullopt;  // kept: the device sends nothing else on its port
	case kControlIn:
		console_control_heads_.push_back(head);
		return std::nullopt;
	case kControlOut: {
		if (chain.empty() || chain.front().writable || chain.front().len < sizeof(ConsoleControl))
			throw std::runtime_error("malformed console control message");
		const auto m = iova_->load<ConsoleControl>(chain.front().addr);
		if (opts_.verbose)
			std::fprintf(stderr, "testdev: console control id %u event %u value %u\n", m.id, m.event,
				     m.value);
		if (m.event == kDeviceReady && m.value == 1)
			console_control_out_.push_back({.id = 0, .event = kPortAdd, .value = 0});
		else if (m.event == kPortReady && m.id == 0 && m.value == 1) {
			console_port_ready_ = true;
			if (opts_.hostile == Hostile::short_control)
				console_control_out_.push_back({.id = 0, .event = kPortName, .value = 0});
		}
		return 0;
	}
	default:
		return 0;  // the port's output: taken and dropped
	}
}

void TestDevice::send_console_control()
{
	Queue &in = queues_.at(kControlIn);
	bool sent = false;
	while (in.enabled && !console_control_out_.empty() && !console_control_heads_.empty()) {
		const std::uint16_t head = console_control_heads_.front();
		console_control_heads_.pop_front();
		const std::vector<Segment> chain = walk_chain(in, head);
		if (!chain.front().writable || chain.front().len < sizeof(ConsoleControl))
			throw std::runtime_error("console control buffer too small");
		const ConsoleControl m = console_control_out_.front();
		iova_->store(chain.front().addr, m);
		console_control_out_.pop_front();
		// --hostile short-control: a PORT_NAME one byte short of its
		// header, which virtio_console takes as a name of length 0.
		const bool short_name = opts_.hostile == Hostile::short_control && m.event == kPortName;
		complete(in, head, short_name ? sizeof(ConsoleControl) - 1 : sizeof(ConsoleControl));
		sent = true;
	}
	if (sent)
		notify_driver(in);
}

std::optional<std::uint32_t> TestDevice::serve(const Queue &q, std::uint16_t head, std::span<const Segment> chain)
{
	switch (opts_.type) {
	case DeviceType::rng:
		return serve_rng(chain);
	case DeviceType::blk:
		return serve_blk(chain);
	case DeviceType::console:
		break;
	}
	return serve_console(q, head, chain);
}

void TestDevice::complete(Queue &q, std::uint32_t id, std::uint32_t len)
{
	const std::uint64_t elem = used_elem_iova(q, q.used_idx);
	iova_->store(elem, id);
	iova_->store(elem + 4, len);
	++q.used_idx;
	// Entries before the index (x86: stores are ordered; keep the fence).
	std::atomic_thread_fence(std::memory_order_release);
	iova_->store<std::uint16_t>(q.used + 2, q.used_idx);
}

void TestDevice::process_queue(Queue &q)
{
	drain_eventfd(q.kick.get());
	if (!q.enabled || self_broken_)
		return;
	bool completed = false;
	for (;;) {
		// While draining, the transport need not kick (it reads this
		// flag from the shadow used ring after publishing new entries).
		if (opts_.suppress_kicks)
			iova_->store<std::uint16_t>(q.used, kUsedNoNotify);
		completed |= drain(q);
		if (!opts_.suppress_kicks)
			break;
		// Re-enable, then look once more: an entry published while the
		// flag was set came without a kick.
		iova_->store<std::uint16_t>(q.used, 0);
		std::atomic_thread_fence(std::memory_order_seq_cst);
		if (iova_->load<std::uint16_t>(q.avail + 2) == q.last_avail)
			break;
	}
	if (completed)
		notify_driver(q);
	if (opts_.type == DeviceType::console)
		send_console_control();
}

bool TestDevice::drain(Queue &q)
{
	bool completed = false;
	for (;;) {
		const auto avail_idx = iova_->load<std::uint16_t>(q.avail + 2);
		std::atomic_thread_fence(std::memory_order_acquire);
		if (avail_idx == q.last_avail)
			return completed;
		while (q.last_avail != avail_idx) {
			const auto head = iova_->load<std::uint16_t>(avail_slot_iova(q, q.last_avail));
			++q.last_avail;
			if (opts_.hostile == Hostile::never_complete || stalled_)
				continue;
			const std::vector<Segment> chain = walk_chain(q, head);
			if (opts_.probes)
				run_probes(q, chain);
			if (opts_.peek)
				peek(chain);
			const std::optional<std::uint32_t> served = serve(q, head, chain);
			if (!served)
				continue;
			std::uint32_t len = *served;
			std::uint32_t id = head;
			if (opts_.hostile == Hostile::bad_used_id &&
			    (opts_.type != DeviceType::console || console_port_ready_))
				id = q.num + 7;
			if (opts_.hostile == Hostile::long_len)
				len += 4096;
			if (opts_.hostile == Hostile::empty)
				len = 0;
			const std::vector<LateCopier::Target> late = late_copy_targets(chain);
			if (!late.empty())
				late_->start(late);
			complete(q, id, len);
			if (!late.empty()) {
				// The kernel revokes the request once told: only then
				// is the copier refused.
				notify_driver(q);
				late_->wait_refused();
			}
			if (opts_.probes && completed_chain_.empty())
				completed_chain_ = chain;
			completed = true;
			++served_;
		}
	}
}

// --hostile late-copy: the data buffers of a read of 64 KiB or more (every
// writable segment but the status byte's), else nothing.
std::vector<LateCopier::Target> TestDevice::late_copy_targets(const std::vector<Segment> &chain) const
{
	std::vector<LateCopier::Target> t;
	if (!late_ || chain.size() < 3)
		return t;
	std::uint64_t total = 0;
	for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
		if (!chain[i].writable)
			continue;
		t.push_back({chain[i].addr, chain[i].len});
		total += chain[i].len;
	}
	if (total < std::uint64_t{64} * 1024)
		t.clear();
	return t;
}

void TestDevice::notify_driver(Queue &q)
{
	if (opts_.call_ioctl) {
		iova_->call(q.call.get());
		return;
	}
	if (!opts_.interrupt_ioctl) {
		signal_eventfd(q.call.get());
		return;
	}
	const vlb_vq_index vq{.index = static_cast<std::uint32_t>(&q - queues_.data()), .reserved = 0};
	if (::ioctl(dev_.get(), VLB_DEV_VQ_INTERRUPT, &vq) != 0)
		throw_errno("VLB_DEV_VQ_INTERRUPT");
}

// Waits (30 s at most) for the kernel line that says a notify of this
// device is held by test_notify_delay_ms. That notify runs with interrupts
// off on its CPU: anything needing an IPI there (a fork's TLB shootdown, a
// blocking read woken by printk) waits until it ends, so /dev/kmsg is read
// without blocking, from this process.
bool TestDevice::wait_for_held_notify() const
{
	const UniqueFd kmsg(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	if (!kmsg || ::lseek(kmsg.get(), 0, SEEK_END) < 0)
		throw_errno("/dev/kmsg");
	// Off the CPU the held notify will spin on (the caller pins the
	// driver's I/O to CPU 0): even this process's sleeps need a timer
	// interrupt on its own CPU.
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(static_cast<unsigned>(::get_nprocs() - 1), &cpus);
	if (::get_nprocs() < 2 || ::sched_setaffinity(0, sizeof(cpus), &cpus) != 0)
		throw std::runtime_error("late-grant needs two CPUs");
	std::printf("late-grant armed\n");
	(void)std::fflush(stdout);
	const std::string want = opts_.name + ": test: notify delayed";
	std::array<char, 1024> rec{};
	for (int i = 0; i < 30000; ++i) {
		const ssize_t n = ::read(kmsg.get(), rec.data(), rec.size() - 1);
		if (n > 0 && std::string_view(rec.data(), static_cast<std::size_t>(n)).find(want) !=
				     std::string_view::npos)
			return true;
		if (n < 0 && errno == EAGAIN)
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	return false;
}

void TestDevice::break_then_probe_late_grant()
{
	Queue &q = queues_.at(0);
	if (!wait_for_held_notify()) {
		std::printf("late-grant reachable=no-held-notify\n");
		(void)std::fflush(stdout);
		return;
	}
	self_broken_ = true;  // touch the rings no more
	const auto seen = iova_->load<std::uint16_t>(q.avail + 2);
	// A used index moved by more than the ring: the transport breaks the
	// device before it looks at any entry, so without taking the lock of
	// a notify that may be running.
	iova_->store<std::uint16_t>(q.used + 2, static_cast<std::uint16_t>(q.used_idx + q.num + 1));
	notify_driver(q);
	// From here on the domain may be gone (a broken device is removed):
	// every access happens in a child, where SIGBUS is an answer.
	constexpr int kReached = 0;
	constexpr int kNone = 4;
	constexpr int kNoData = 5;
	const int r = iova_->in_child([&](volatile std::uint8_t *base) {
		const auto load16 = [&](std::uint64_t iova) {
			std::uint16_t v = 0;
			std::memcpy(&v, const_cast<std::uint8_t *>(base + iova), sizeof(v)); // NOLINT: the child's own mapping
			return v;
		};
		int waited = 0;
		while (load16(q.avail + 2) == seen) {
			if (++waited > 1000)
				return kNone;
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		const std::uint16_t head = load16(avail_slot_iova(q, seen));
		// Long after any revocation the break started must have ended.
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		std::uint16_t i = head;
		for (std::uint32_t n = 0; n < q.num && i < q.num; ++n) {
			VringDesc d{};
			std::memcpy(&d, const_cast<std::uint8_t *>(base + q.desc + std::uint64_t{i} * sizeof(d)), // NOLINT: the child's own mapping
				    sizeof(d));
			if ((d.flags & kDescWrite) != 0 && d.len >= 4096) {
				// A write into the late request's page, the byte unchanged.
				const std::uint8_t old = base[d.addr]; // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
				base[d.addr] = old;                    // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
				return kReached;
			}
			if ((d.flags & kDescNext) == 0)
				break;
			i = d.next;
		}
		return kNoData;
	});
	const char *verdict = r == kReached ? "ok"
			      : r == IovaSpace::kSigbus ? "sigbus"
			      : r == kNone ? "none-published"
			      : r == kNoData ? "no-data-buffer" : "other";
	std::printf("late-grant reachable=%s\n", verdict);
	(void)std::fflush(stdout);
}

void TestDevice::grow()
{
	if (opts_.type != DeviceType::blk)
		return;
	disk_.resize(disk_.size() * 2);
	const std::uint64_t sectors = disk_.size() / kSector;
	vlb_config_update u{};
	u.offset = 0;
	u.len = sizeof(sectors);
	std::memcpy(&u.data[0], &sectors, sizeof(sectors));
	if (::ioctl(dev_.get(), VLB_DEV_CONFIG_UPDATE, &u) < 0)
		throw_errno("VLB_DEV_CONFIG_UPDATE");
	std::printf("grown to %llu sectors\n", static_cast<unsigned long long>(sectors));
	(void)std::fflush(stdout);
}

vlb_stats TestDevice::kernel_stats() const
{
	vlb_stats s{};
	if (::ioctl(dev_.get(), VLB_DEV_GET_STATS, &s) < 0)
		throw_errno("VLB_DEV_GET_STATS");
	return s;
}

int TestDevice::run()
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	if (const int err = ::pthread_sigmask(SIG_BLOCK, &mask, nullptr); err != 0)
		throw_errno("pthread_sigmask", err);
	const UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC));
	const UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
	if (!sigfd || !ep)
		throw_errno("signalfd/epoll");

	// Tags: 0 = signal, 1 = control, 2 + i = kick of queue i.
	auto watch = [&](int fd, std::uint64_t tag) {
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u64 = tag;
		if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
			throw_errno("epoll_ctl");
	};
	watch(sigfd.get(), 0);
	watch(dev_.get(), 1);
	for (Queue &q : queues_)
		watch(q.kick.get(), 2 + q.index);

	std::array<epoll_event, 16> events{};
	for (;;) {
		const int n = ::epoll_wait(ep.get(), events.data(), static_cast<int>(events.size()), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw_errno("epoll_wait");
		}
		for (const epoll_event &ev : std::span(events).first(static_cast<std::size_t>(n))) {
			if (ev.data.u64 == 0) {
				signalfd_siginfo si{};
				if (::read(sigfd.get(), &si, sizeof(si)) == sizeof(si) &&
				    (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2)) {
					if (si.ssi_signo == SIGUSR1)
						grow();
					else if (opts_.hostile == Hostile::late_grant)
						break_then_probe_late_grant();
					else
						stalled_ = true;
					continue;
				}
				const vlb_stats s = kernel_stats();
				std::printf("stats served=%llu grants=%llu bounces=%llu revocations=%llu "
					    "faults_refused=%llu map_failures=%llu used_rejected=%llu "
					    "broken=%llu kicks=%llu calls=%llu msg_timeouts=%llu copies=%llu "
					    "copied_bytes=%llu calls_on_signalling_cpu=%llu calls_in_device=%llu "
					    "request_timeouts=%llu completions_held=%llu\n",
					    static_cast<unsigned long long>(served_),
					    static_cast<unsigned long long>(s.grants),
					    static_cast<unsigned long long>(s.bounces),
					    static_cast<unsigned long long>(s.revocations),
					    static_cast<unsigned long long>(s.faults_refused),
					    static_cast<unsigned long long>(s.map_failures),
					    static_cast<unsigned long long>(s.used_rejected),
					    static_cast<unsigned long long>(s.broken),
					    static_cast<unsigned long long>(s.kicks),
					    static_cast<unsigned long long>(s.calls),
					    static_cast<unsigned long long>(s.msg_timeouts),
					    static_cast<unsigned long long>(s.copies),
					    static_cast<unsigned long long>(s.copied_bytes),
					    static_cast<unsigned long long>(s.calls_on_signalling_cpu),
					    static_cast<unsigned long long>(s.calls_in_device),
					    static_cast<unsigned long long>(s.request_timeouts),
					    static_cast<unsigned long long>(s.completions_held));
				if (opts_.peek)
					std::printf("peek pages=%llu stale=%llu\n", static_cast<unsigned long long>(peeked_),
						    static_cast<unsigned long long>(stale_));
				if (late_) {
					const LateCopier::Counts c = late_->counts();
					std::printf("late-copy requests=%llu copies=%llu refused=%llu\n",
						    static_cast<unsigned long long>(c.requests),
						    static_cast<unsigned long long>(c.copies),
						    static_cast<unsigned long long>(c.refused));
				}
				(void)std::fflush(stdout);
				return 0;
			}
			if (ev.data.u64 == 1) {
				if (!handle_message() &&
				    ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, dev_.get(), nullptr) < 0)
					throw_errno("epoll_ctl del");
				continue;
			}
			process_queue(queues_.at(ev.data.u64 - 2));
		}
	}
}

} // namespace vlb::testdev
