// SPDX-License-Identifier: Apache-2.0
// The minimal root: an empty tmpfs with the system's library directories
// bound read-only, three harmless device nodes, and the policy's Landlock
// paths at their usual places. /proc, /sys, /home, /etc, /run and the rest of
// the host are simply not there.
#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string>

#include "steps.h"
#include "vlb/sys_error.h"
#include "vlb/unique_fd.h"

namespace vlb::sandbox::detail {
namespace {

bool exists(const std::string &path, struct stat *st = nullptr, bool follow = true)
{
	struct stat tmp{};
	return (follow ? ::stat(path.c_str(), st != nullptr ? st : &tmp)
		       : ::lstat(path.c_str(), st != nullptr ? st : &tmp)) == 0;
}

void make_dirs(const std::string &path)
{
	for (std::size_t pos = 1; pos != std::string::npos;) {
		pos = path.find('/', pos + 1);
		const std::string part = path.substr(0, pos);
		if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
			throw_errno("mkdir " + part);
	}
}

// Creates |dst| (a directory or an empty file, like |src|) and bind-mounts
// |src| on it; read-only unless |writable|. The mount flags the source
// already has (nosuid, nodev, noexec) are kept: inside a user namespace they
// are locked and a remount that dropped them would fail.
void bind(const std::string &src, const std::string &dst, bool writable)
{
	struct stat st{};
	if (::stat(src.c_str(), &st) != 0)
		throw_errno("bind source " + src);
	if (S_ISDIR(st.st_mode)) {
		make_dirs(dst);
	} else {
		make_dirs(dst.substr(0, dst.rfind('/')));
		const UniqueFd f(::open(dst.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
		if (!f && errno != EEXIST)
			throw_errno("create mountpoint " + dst);
	}
	if (::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
		throw_errno("bind " + src);
	struct statvfs sv{};
	if (::statvfs(src.c_str(), &sv) != 0)
		throw_errno("statvfs " + src);
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID;
	if ((sv.f_flag & ST_NODEV) != 0U)
		flags |= MS_NODEV;
	if ((sv.f_flag & ST_NOEXEC) != 0U)
		flags |= MS_NOEXEC;
	if ((sv.f_flag & ST_NOATIME) != 0U)
		flags |= MS_NOATIME;
	if ((sv.f_flag & ST_RELATIME) != 0U)
		flags |= MS_RELATIME;
	if (!writable || (sv.f_flag & ST_RDONLY) != 0U)
		flags |= MS_RDONLY;
	if (::mount(nullptr, dst.c_str(), nullptr, flags, nullptr) != 0)
		throw_errno("remount " + dst);
}

// /lib -> usr/lib on merged-/usr systems: recreate the link, not a copy.
void link_or_bind(const std::string &path, const std::string &root)
{
	struct stat st{};
	if (!exists(path, &st, false))
		return;
	if (S_ISLNK(st.st_mode)) {
		std::array<char, PATH_MAX> target{};
		const ssize_t n = ::readlink(path.c_str(), target.data(), target.size() - 1);
		if (n < 0)
			throw_errno("readlink " + path);
		if (::symlink(target.data(), (root + path).c_str()) != 0 && errno != EEXIST)
			throw_errno("symlink " + root + path);
		return;
	}
	bind(path, root + path, false);
}

} // namespace

std::string build_minimal_root(const std::string &mountpoint, const Spec &spec)
{
	const LandlockRules &rules = spec.landlock;
	// In a user namespace only |uid| and |gid| are mapped: create the root's
	// files as them (the mounts themselves need no particular fsuid).
	if ((spec.namespaces & kNsUser) != 0U) {
		::setfsgid(spec.gid);
		::setfsuid(spec.uid);
		if (static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != spec.uid)
			throw std::runtime_error("mounts: setfsuid failed");
	}
	if (mountpoint.empty() || mountpoint[0] != '/')
		throw std::runtime_error("minimal root needs an absolute, empty mountpoint");
	// Nothing below propagates back to the host's mount namespace.
	if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
		throw_errno("make / private");
	if (::mount("tmpfs", mountpoint.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
		throw_errno("mount tmpfs on " + mountpoint);
	const std::string &root = mountpoint;
	for (const char *dir : {"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"})
		link_or_bind(dir, root);
	if (exists("/etc/ld.so.cache"))
		bind("/etc/ld.so.cache", root + "/etc/ld.so.cache", false);
	for (const char *dev : {"/dev/null", "/dev/zero"})
		bind(dev, root + dev, true);
	bind("/dev/urandom", root + "/dev/urandom", false);
	for (const auto &p : rules.read)
		bind(p, root + p, false);
	for (const auto &p : rules.exec)
		bind(p, root + p, false);
	for (const auto &p : rules.write)
		bind(p, root + p, true);

	const std::string old = root + "/.old-root";
	if (::mkdir(old.c_str(), 0700) != 0)
		throw_errno("mkdir " + old);
	if (::syscall(SYS_pivot_root, root.c_str(), old.c_str()) != 0)
		throw_errno("pivot_root " + root);
	if (::chdir("/") != 0)
		throw_errno("chdir /");
	if (::umount2("/.old-root", MNT_DETACH) != 0)
		throw_errno("detach the old root");
	if (::rmdir("/.old-root") != 0)
		throw_errno("rmdir /.old-root");
	if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
		throw_errno("remount / read-only");
	return "mounts: minimal root (system libraries read-only, /dev/{null,zero,urandom}, " +
	       std::to_string(rules.read.size() + rules.write.size() + rules.exec.size()) + " policy paths)";
}

} // namespace vlb::sandbox::detail
