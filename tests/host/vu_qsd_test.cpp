// SPDX-License-Identifier: Apache-2.0
// The library's front-end against a third-party back-end, unchanged:
// qemu-storage-daemon's vhost-user-blk export (QEMU's libvhost-user).
#include <gtest/gtest.h>
#include <linux/virtio_blk.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "vlb/vu/driver.h"

namespace vlb::test {
namespace {

using vu::DriverBuffer;
using vu::UserDriver;

class QsdExport {
public:
	QsdExport(const std::string &image, const std::string &sock) : pid_(spawn(image, sock))
	{
		struct stat st{};
		for (int i = 0; i < 100 && ::stat(sock.c_str(), &st) != 0; i++)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	~QsdExport()
	{
		if (pid_ > 0) {
			::kill(pid_, SIGTERM);
			int st = 0;
			::waitpid(pid_, &st, 0);
		}
	}
	QsdExport(const QsdExport &) = delete;
	QsdExport &operator=(const QsdExport &) = delete;
	QsdExport(QsdExport &&) = delete;
	QsdExport &operator=(QsdExport &&) = delete;

private:
	static pid_t spawn(const std::string &image, const std::string &sock)
	{
		// Arguments are built before fork: the child only execs.
		const std::string blockdev =
			"driver=file,node-name=file0,filename=" + image + ",cache.direct=off";
		const std::string exp = "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=" +
					sock + ",writable=on,num-queues=1";
		const pid_t pid = ::fork();
		if (pid == 0) {
			::execlp("qemu-storage-daemon", "qemu-storage-daemon", "--blockdev", blockdev.c_str(),
				 "--blockdev", "driver=raw,node-name=disk0,file=file0", "--export", exp.c_str(),
				 static_cast<char *>(nullptr));
			::_exit(127);
		}
		return pid;
	}

	pid_t pid_;
};

TEST(QemuStorageDaemon, UserDriverReadsAndWritesItsExport)
{
	const std::string base = "/tmp/vlb-qsd-" + std::to_string(::getpid());
	const std::string image = base + ".img";
	const std::string sock = base + ".sock";
	std::vector<std::uint8_t> contents(1 << 20);
	std::mt19937 rng(7); // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible test data
	std::generate(contents.begin(), contents.end(), [&] { return static_cast<std::uint8_t>(rng()); });
	std::ofstream(image, std::ios::binary)
		.write(reinterpret_cast<const char *>(contents.data()), static_cast<std::streamsize>(contents.size()));

	{
		QsdExport qsd(image, sock);
		UserDriver d(UserDriver::connect(sock), {});
		auto cfg = d.frontend().get_config(0, 8);
		std::uint64_t capacity = 0;
		std::memcpy(&capacity, cfg.data(), 8);
		EXPECT_EQ(capacity, contents.size() / 512);

		auto run = [&](std::uint32_t type, std::uint64_t sector, DriverBuffer data, bool device_writes) {
			auto hdr = d.alloc(16, 16);
			virtio_blk_outhdr h{type, 0, sector};
			std::memcpy(d.memory(hdr.offset, 16).data(), &h, 16);
			auto st = d.alloc(1, 1);
			d.memory(st.offset, 1)[0] = 0xee;
			std::vector<DriverBuffer> r{hdr};
			std::vector<DriverBuffer> w;
			if (data.len > 0)
				(device_writes ? w : r).push_back(data);
			w.push_back(st);
			EXPECT_TRUE(d.submit(0, r, w).has_value());
			auto done = d.wait(0, std::chrono::seconds(10));
			EXPECT_EQ(done.size(), 1U);
			return d.memory(st.offset, 1)[0];
		};
		auto buf = d.alloc(8192);
		EXPECT_EQ(run(VIRTIO_BLK_T_IN, 16, buf, true), VIRTIO_BLK_S_OK);
		auto m = d.memory(buf.offset, 8192);
		EXPECT_EQ(0, std::memcmp(m.data(), contents.data() + std::size_t{16} * 512, 8192));

		std::memset(m.data(), 0x3c, 8192);
		EXPECT_EQ(run(VIRTIO_BLK_T_OUT, 64, buf, false), VIRTIO_BLK_S_OK);
		EXPECT_EQ(run(VIRTIO_BLK_T_FLUSH, 0, DriverBuffer{0, 0}, false), VIRTIO_BLK_S_OK);
	}
	std::vector<std::uint8_t> after(8192);
	std::ifstream(image, std::ios::binary).seekg(std::streamoff{64} * 512).read(reinterpret_cast<char *>(after.data()), 8192);
	EXPECT_EQ(after, std::vector<std::uint8_t>(8192, 0x3c));
	::unlink(image.c_str());
	::unlink(sock.c_str());
}

} // namespace
} // namespace vlb::test
