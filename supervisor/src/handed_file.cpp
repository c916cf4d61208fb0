// SPDX-License-Identifier: Apache-2.0
#include "handed_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "vlb/sys_error.h"

namespace vlb::supervisor {
namespace {

const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file or device node";
	}
}

} // namespace

UniqueFd open_handed_file(const policy::HandedFile &file, const std::string &key)
{
	const std::string what = key + ": " + file.path + ": ";
	// O_NONBLOCK: a FIFO without a writer, or a terminal waiting for carrier,
	// would otherwise block here. RESOLVE_NO_SYMLINKS: a symlink anywhere on
	// the path (one swapped in for a directory too, by whoever may write its
	// parent) is refused with ELOOP, not followed as root; magic links
	// (/proc/PID/fd/N) with it.
	open_how how{};
	how.flags = static_cast<std::uint64_t>((file.writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC |
					       O_NOCTTY);
	how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, file.path.c_str(), &how, sizeof how)));
	if (!fd) {
		const int err = errno;
		if (err == ELOOP)
			throw std::runtime_error(what + "a symbolic link is on the path; the supervisor opens files as "
							"root and follows none: name the file by its real path");
		throw std::runtime_error(what + "cannot be opened " + (file.writable ? "read-write" : "read-only") +
					 ": " + errno_string(err));
	}
	struct stat st {};
	if (::fstat(fd.get(), &st) != 0)
		throw std::runtime_error(what + "fstat: " + errno_string(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		throw std::runtime_error(what + "is " + type_name(st.st_mode) +
					 "; only regular files, block devices and character devices are handed over");
	// The back-end gets the file as it would have opened it itself.
	const int fl = ::fcntl(fd.get(), F_GETFL);
	if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0)
		throw std::runtime_error(what + "clearing O_NONBLOCK: " + errno_string(errno));
	return fd;
}

} // namespace vlb::supervisor
