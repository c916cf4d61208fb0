// SPDX-License-Identifier: Apache-2.0
// BlkDevice: virtio-blk on a backing file or block device. Parses each
// request from the chain (header, data, status), checks it against the
// backing range and the negotiated features, and hands data transfers to
// an IoEngine. Bad requests complete with IOERR or UNSUPP, never touch
// the backing file, and never take the queue down.
#pragma once

#include <linux/virtio_blk.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io_engine.h"
#include "iova_copy.h"
#include "vlb/log.h"
#include "vlb/unique_fd.h"
#include "vlb/vu/backend.h"

namespace vlb::devices {

struct BlkOptions {
	UniqueFd backing;
	bool read_only = false;
	std::uint16_t queues = 1;
	std::uint16_t max_queue_size = 1024;
	std::uint32_t block_size = 0;  // 0: the backing device's logical block size, or 512
	std::string serial = "vlb-blk";
	bool use_uring = true;
	unsigned read_threads = 0;  // workers for large reads; 0: all on the loop thread
	// Reads and writes of at least this many bytes go through VLB_IOVA_COPY
	// when the driver's memory is a virtio-loopback IOVA fd; 0: never.
	std::uint64_t kernel_copy_min = std::uint64_t{64} * 1024;
};

class BlkDevice final : public vu::Device {
public:
	BlkDevice(BlkOptions opt, vu::EventLoop &loop, const Logger &log);
	~BlkDevice() override;
	BlkDevice(const BlkDevice &) = delete;
	BlkDevice &operator=(const BlkDevice &) = delete;
	BlkDevice(BlkDevice &&) = delete;
	BlkDevice &operator=(BlkDevice &&) = delete;

	[[nodiscard]] std::uint64_t features() const override;
	[[nodiscard]] std::uint16_t num_queues() const override { return opt_.queues; }
	[[nodiscard]] std::uint16_t max_queue_size() const override { return opt_.max_queue_size; }
	[[nodiscard]] std::vector<std::uint8_t> config() const override;
	void set_features(std::uint64_t features) override { acked_ = features; }
	void process(vu::VirtQueue &q) override;
	void queue_stopped(vu::VirtQueue &q) override;
	void reset() override;

	// Re-reads the backing size; true if the capacity changed.
	bool refresh_capacity();
	[[nodiscard]] std::uint64_t capacity_bytes() const { return capacity_; }
	[[nodiscard]] const char *engine_name() const { return engine_->name(); }

private:
	struct Request {
		vu::VirtQueue *q = nullptr;
		std::uint16_t head = 0;
		std::uint8_t *status = nullptr;
		std::uint32_t written = 0;  // bytes the driver sees on success
		std::uint64_t expect = 0;   // bytes the engine must transfer
	};

	void handle(vu::VirtQueue &q, const vu::Chain &chain);
	// Lets the kernel copy |op| if its buffers are in an IOVA fd.
	void use_kernel_copy(const vu::VirtQueue &q, IoOp &op);
	std::uint8_t discard_or_zero(std::uint32_t type, const vu::Chain &chain, std::uint64_t data_len);
	bool write_zeroes(off_t off, off_t len, bool unmap);
	void finish(Request *r, std::uint8_t status, std::uint32_t written);
	void on_done(void *tag, long result);
	Request *new_request();
	void flush_notifications();

	BlkOptions opt_;
	const Logger &log_;
	std::uint64_t capacity_ = 0;  // bytes, a multiple of 512
	std::uint64_t acked_ = 0;
	IovaCopyFds copy_fds_;
	std::unique_ptr<IoEngine> engine_;
	std::vector<std::unique_ptr<Request>> pool_;
	std::vector<Request *> free_;
	std::vector<vu::VirtQueue *> to_notify_;
	std::size_t in_flight_ = 0;
};

} // namespace vlb::devices
