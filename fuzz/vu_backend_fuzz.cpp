// SPDX-License-Identifier: Apache-2.0
// Fuzzes the back-end's control plane: a stream of vhost-user messages
// (header + payload, fds supplied as the request's shape asks) fed to
// Backend::handle, then a kick of every queue so rings set up by the
// input are walked. Any crash, leak or sanitizer report is a bug; a
// ProtocolError is the expected answer to garbage.
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "vlb/vu/backend.h"

namespace {

using namespace vlb;
using namespace vlb::vu;

class EchoDevice final : public Device {
public:
	[[nodiscard]] std::uint64_t features() const override { return 0; }
	[[nodiscard]] std::uint16_t num_queues() const override { return 2; }
	[[nodiscard]] std::vector<std::uint8_t> config() const override
	{
		std::vector<std::uint8_t> c(16, 7);
		return c;
	}
	void process(VirtQueue &q) override
	{
		Chain c;
		while (q.pop(c)) {
			std::uint32_t n = 0;
			for (const auto &s : c.writable) {
				std::memset(s.data, 0x5a, s.len);
				n += s.len;
			}
			for (const auto &s : c.readable)
				sink_ ^= s.len ? s.data[0] : 0; // cppcheck-suppress useStlAlgorithm
			q.complete(c.head, n);
		}
	}
	std::uint8_t sink_ = 0;
};

UniqueFd memory_fd()
{
	UniqueFd fd(::memfd_create("fuzz-mem", MFD_CLOEXEC));
	if (fd && ::ftruncate(fd.get(), 1 << 16) != 0)
		fd.reset();
	return fd;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return 0;
	UniqueFd peer(sv[0]);
	Logger log("fuzz", LogLevel::kError);
	log.set_level(static_cast<LogLevel>(0));  // silent
	EventLoop loop;
	EchoDevice dev;
	Backend backend(dev, UniqueFd(sv[1]), loop, log);

	std::size_t off = 0;
	while (off + sizeof(Header) <= size && !backend.closed()) {
		Message msg;
		std::memcpy(&msg.hdr, data + off, sizeof(Header));
		off += sizeof(Header);
		const std::size_t len = std::min<std::size_t>(msg.hdr.size, std::min<std::size_t>(size - off, kMaxPayload));
		msg.payload.assign(data + off, data + off + len);
		off += len;
		if (const auto shape = request_shape(msg.hdr.request)) {
			for (unsigned i = 0; i < shape->min_fds; i++) {
				if (msg.hdr.request == static_cast<std::uint32_t>(Request::SetVringKick) ||
				    msg.hdr.request == static_cast<std::uint32_t>(Request::SetVringCall))
					msg.fds.emplace_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
				else
					msg.fds.push_back(memory_fd());
			}
			// The kick fds may only be optional by shape: supply one
			// unless the payload says "no fd".
			if (shape->min_fds == 0 && shape->max_fds == 1 && msg.payload.size() >= 8) {
				std::uint64_t v = 0;
				std::memcpy(&v, msg.payload.data(), 8);
				if (!(v & kVringNoFd)) {
					UniqueFd k(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
					::eventfd_write(k.get(), 1);
					msg.fds.push_back(std::move(k));
				}
			}
		}
		try {
			backend.handle(msg);
		} catch (const ProtocolError &) {
			break;
		} catch (const std::system_error &) {
			break;
		}
		// Keep the reply direction from filling up.
		std::uint8_t sink[4096];
		while (::read(peer.get(), sink, sizeof(sink)) > 0) {
		}
	}
	// Run whatever kicks are pending: rings the input set up get walked.
	loop.run_once(std::chrono::milliseconds(0));
	return 0;
}
