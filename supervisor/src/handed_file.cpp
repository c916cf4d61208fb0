// SPDX-License-Identifier: Apache-2.0
#include "handed_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

// Opens the clean absolute |path| with |flags|, following no symlink on
// the way; 0 and |out| set, or the errno.
int open_without_symlinks(const std::string &path, int flags, UniqueFd &out)
{
	UniqueFd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (!dir)
		return errno;
	std::size_t at = 1;
	for (;;) {
		const std::size_t slash = path.find('/', at);
		const std::string name = path.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
		if (name.empty() || name == "." || name == "..")
			return EINVAL;	// the policy's checks allow clean paths only
		if (slash == std::string::npos) {
			out.reset(::openat(dir.get(), name.c_str(), flags | O_NOFOLLOW));
			return out ? 0 : errno;
		}
		UniqueFd next(::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (!next)
			return errno;
		dir = std::move(next);
		at = slash + 1;
	}
}

} // namespace

UniqueFd open_handed_file(const policy::HandedFile &file, const std::string &key, const std::string &control_node)
{
	const std::string what = key + ": " + file.path + ": ";
	// The path is walked a component at a time, each directory opened
	// O_PATH | O_NOFOLLOW from the one before: a symlink anywhere on it
	// (one swapped in for a directory too, by whoever may write its parent)
	// is refused with ELOOP or ENOTDIR, not followed as root, magic links
	// (/proc/PID/fd/N) with it. openat2's RESOLVE_NO_SYMLINKS would say it
	// in one call, but systemd's RestrictSUIDSGID= makes openat2 ENOSYS.
	// O_NONBLOCK: a FIFO without a writer, or a terminal waiting for
	// carrier, would otherwise block here.
	const int flags = (file.writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	UniqueFd fd;
	int err = open_without_symlinks(file.path, flags, fd);
	if (err != 0) {
		if (err == ELOOP || err == ENOTDIR)
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
	// With the control node a back-end could create or take over any
	// device; only its adapter holds a control file, scoped to the device.
	// Opening one does nothing until an ioctl, and this one is closed.
	struct stat node {};
	if (S_ISCHR(st.st_mode) && ::stat(control_node.c_str(), &node) == 0 && S_ISCHR(node.st_mode) &&
	    node.st_rdev == st.st_rdev)
		throw std::runtime_error(what + "is the kernel control node (" + control_node +
					 "); a back-end is never handed one");
	// The back-end gets the file as it would have opened it itself.
	const int fl = ::fcntl(fd.get(), F_GETFL);
	if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0)
		throw std::runtime_error(what + "clearing O_NONBLOCK: " + errno_string(errno));
	return fd;
}

} // namespace vlb::supervisor
