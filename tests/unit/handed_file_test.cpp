// SPDX-License-Identifier: Apache-2.0
// The supervisor opens [[backend.files]] as root: what it refuses to open
// and how it hands over what it opens.
#include "handed_file.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

namespace {

using vlb::policy::HandedFile;
using vlb::supervisor::open_handed_file;
namespace fs = std::filesystem;

// A control node that does not exist: nothing is the control node.
const std::string kNoControlNode = "/nonexistent/virtio-loopback";

class HandedFileTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string tmpl = (fs::temp_directory_path() / "vlb-handed-XXXXXX").string();
		ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override { fs::remove_all(dir_); }

	std::string path(const char *name) const { return (dir_ / name).string(); }
	static HandedFile file(const std::string &p, bool writable = false)
	{
		HandedFile f;
		f.path = p;
		f.writable = writable;
		f.option = "--backing-fd";
		return f;
	}
	// The message open_handed_file throws, or "" if it opened the file.
	static std::string refusal(const HandedFile &f, const std::string &control_node = kNoControlNode)
	{
		try {
			(void)open_handed_file(f, "backend.files[2]", control_node);
		} catch (const std::runtime_error &e) {
			return e.what();
		}
		return "";
	}

	fs::path dir_;
};

TEST_F(HandedFileTest, RefusesASymlinkInsteadOfFollowingItAsRoot)
{
	std::ofstream(path("secret")) << "only root reads this";
	fs::create_symlink(path("secret"), path("disk.img"));
	const std::string why = refusal(file(path("disk.img")));
	EXPECT_NE(why.find("backend.files[2]: " + path("disk.img") + ": a symbolic link is on the path"),
		  std::string::npos)
		<< why;
}

// Whoever may write a directory on the path can rename a directory and put
// a symlink in its place, to wherever a file of that name is.
TEST_F(HandedFileTest, RefusesASymlinkedDirectoryOnThePath)
{
	fs::create_directory(path("secret"));
	std::ofstream(path("secret/disk.img")) << "only root reads this";
	fs::create_directory_symlink(path("secret"), path("img"));
	const std::string why = refusal(file(path("img/disk.img")));
	EXPECT_NE(why.find(": a symbolic link is on the path"), std::string::npos) << why;
}

TEST_F(HandedFileTest, RefusesAFifoWithoutWaitingForAWriter)
{
	ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
	auto opened = std::async(std::launch::async, [&] { return refusal(file(path("fifo"))); });
	if (opened.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
		// Blocked in open(): a writer releases it so the test can end.
		const int w = ::open(path("fifo").c_str(), O_WRONLY | O_NONBLOCK);
		opened.wait();
		if (w >= 0)
			::close(w);
		FAIL() << "open_handed_file blocked on a FIFO without a writer";
	}
	const std::string why = opened.get();
	EXPECT_NE(why.find(": is a FIFO; only regular files"), std::string::npos) << why;
}

TEST_F(HandedFileTest, RefusesADirectoryAndASocket)
{
	fs::create_directory(path("dir"));
	EXPECT_NE(refusal(file(path("dir"))).find(": is a directory;"), std::string::npos);

	const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(s, 0);
	sockaddr_un a{};
	a.sun_family = AF_UNIX;
	const std::string p = path("sock");
	ASSERT_LT(p.size(), sizeof a.sun_path);
	p.copy(a.sun_path, p.size());
	ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a), 0); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
	// open() of a socket fails (ENXIO) before any type check: still refused.
	const std::string why = refusal(file(p));
	::close(s);
	EXPECT_NE(why.find("backend.files[2]: " + p + ": "), std::string::npos) << why;
}

TEST_F(HandedFileTest, HandsOverARegularFileBlockingWithItsAccessMode)
{
	std::ofstream(path("disk.img")) << "data";
	for (const bool writable : {false, true}) {
		const auto fd = open_handed_file(file(path("disk.img"), writable), "backend.files[0]", kNoControlNode);
		const int fl = ::fcntl(fd.get(), F_GETFL);
		ASSERT_GE(fl, 0);
		EXPECT_EQ(fl & O_NONBLOCK, 0);
		EXPECT_EQ(fl & O_ACCMODE, writable ? O_RDWR : O_RDONLY);
		EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
	}
}

TEST_F(HandedFileTest, HandsOverACharacterDevice)
{
	EXPECT_EQ(refusal(file("/dev/null", true)), "");
}

// A policy that names the control node, by its path or any other node of
// the same number, would hand the back-end an unscoped control file: it
// could create devices or take over another device's. /dev/null stands in
// for the control node (the host has no module); /dev/zero is another
// character device and still handed over.
TEST_F(HandedFileTest, RefusesTheKernelControlNode)
{
	const std::string why = refusal(file("/dev/null", true), "/dev/null");
	EXPECT_NE(why.find("backend.files[2]: /dev/null: is the kernel control node (/dev/null); a back-end is never "
			   "handed one"),
		  std::string::npos)
		<< why;
	EXPECT_EQ(refusal(file("/dev/zero", true), "/dev/null"), "");
}

TEST_F(HandedFileTest, AMissingFileIsNamedWithItsKeyAndReason)
{
	const std::string why = refusal(file(path("absent")));
	EXPECT_EQ(why, "backend.files[2]: " + path("absent") + ": cannot be opened read-only: No such file or directory");
}

} // namespace
