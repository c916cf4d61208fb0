// SPDX-License-Identifier: Apache-2.0
// O_DIRECT needs buffers the kernel can pin. The virtio-loopback
// transport's memory cannot be pinned, on purpose (VM_PFNMAP: a pin would
// outlive revocation), so O_DIRECT reads and writes on it fail with
// EFAULT. This engine passes operations through until the first EFAULT,
// then copies every read and write through an aligned buffer of its own;
// behind QEMU, whose guest memory pins fine, it never copies. Transfers
// the kernel copies (VLB_IOVA_COPY) need no pin and pass through; only one
// the file refuses as misaligned (EINVAL) goes through a buffer.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "io_engine.h"

namespace vlb::devices {
namespace {

constexpr std::size_t kAlign = 4096;  // any logical block size we allow up to a page

struct FreeDeleter {
	void operator()(void *p) const noexcept { std::free(p); } // NOLINT(cppcoreguidelines-no-malloc)
};

class DirectBounceEngine final : public IoEngine {
public:
	DirectBounceEngine(const MakeInner &make_inner, Done done, std::function<void()> on_first_copy)
		: done_(std::move(done)), on_first_copy_(std::move(on_first_copy)),
		  inner_(make_inner([this](void *tag, long res) { on_done(tag, res); }))
	{
	}

	void submit(IoOp op) override
	{
		auto p = std::make_unique<Pending>();
		p->op = std::move(op);
		Pending &ref = *p;
		pending_.emplace(&ref, std::move(p));
		issue(ref);
	}

	void kick() override { inner_->kick(); }
	void poll() override { inner_->poll(); }
	void drain() override { inner_->drain(); }
	[[nodiscard]] const char *name() const override { return inner_->name(); }

private:
	struct Pending {
		IoOp op;
		std::unique_ptr<void, FreeDeleter> buffer;  // set once copied
		std::size_t bytes = 0;
	};

	void issue(Pending &p, bool through_buffer = false)
	{
		const bool kernel_copy = p.op.mem_fd >= 0;
		if (p.op.kind == IoOp::Kind::kFlush || (!through_buffer && (!copying_ || kernel_copy))) {
			IoOp direct = p.op;
			direct.tag = &p;
			inner_->submit(std::move(direct));
			return;
		}
		for (const auto &v : p.op.iov)
			p.bytes += v.iov_len;
		const std::size_t rounded = (p.bytes + kAlign - 1) / kAlign * kAlign;
		p.buffer.reset(std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded)); // NOLINT(cppcoreguidelines-no-malloc)
		if (!p.buffer) {
			finish(p, -ENOMEM);
			return;
		}
		if (p.op.kind == IoOp::Kind::kWrite) {
			auto *dst = static_cast<std::byte *>(p.buffer.get());
			for (const auto &v : p.op.iov) {
				std::memcpy(dst, v.iov_base, v.iov_len);
				dst += v.iov_len;
			}
		}
		IoOp copied{.kind = p.op.kind, .offset = p.op.offset, .iov = {iovec{p.buffer.get(), p.bytes}}, .tag = &p};
		inner_->submit(std::move(copied));
	}

	void on_done(void *tag, long res)
	{
		if (tag == nullptr) {
			// End of a batch: push what was reissued from it.
			if (reissued_) {
				reissued_ = false;
				inner_->kick();
			}
			done_(nullptr, 0);
			return;
		}
		auto &p = *static_cast<Pending *>(tag);
		const bool kernel_copy = p.op.mem_fd >= 0;
		if (!p.buffer && p.op.kind != IoOp::Kind::kFlush) {
			if (res == -EFAULT && !kernel_copy) {
				if (!copying_ && on_first_copy_)
					on_first_copy_();
				copying_ = true;
				reissued_ = true;
				issue(p);
				return;
			}
			if (res == -EINVAL && kernel_copy) {
				reissued_ = true;
				issue(p, true);
				return;
			}
		}
		if (p.buffer && p.op.kind == IoOp::Kind::kRead && res > 0) {
			const auto *src = static_cast<const std::byte *>(p.buffer.get());
			auto left = static_cast<std::size_t>(res);
			for (const auto &v : p.op.iov) {
				const std::size_t n = std::min(left, v.iov_len);
				std::memcpy(v.iov_base, src, n);
				src += n;
				left -= n;
			}
		}
		finish(p, res);
	}

	void finish(Pending &p, long res)
	{
		void *tag = p.op.tag;
		pending_.erase(&p);
		done_(tag, res);
	}

	Done done_;
	std::function<void()> on_first_copy_;
	std::unordered_map<Pending *, std::unique_ptr<Pending>> pending_;
	bool copying_ = false;
	bool reissued_ = false;
	std::unique_ptr<IoEngine> inner_;  // last: its callbacks use the members above
};

} // namespace

std::unique_ptr<IoEngine> make_direct_bounce_engine(const IoEngine::MakeInner &make_inner, IoEngine::Done done,
						    std::function<void()> on_first_copy)
{
	return std::make_unique<DirectBounceEngine>(make_inner, std::move(done), std::move(on_first_copy));
}

} // namespace vlb::devices
