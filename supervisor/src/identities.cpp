// SPDX-License-Identifier: Apache-2.0
#include "identities.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "vlb/program.h"
#include "vlb/sys_error.h"

namespace vlb::supervisor {
namespace {

// FNV-1a: stable across builds and runs, unlike std::hash.
std::uint64_t name_hash(const std::string &name)
{
	std::uint64_t h = 0xcbf29ce484222325ULL;
	for (const char c : name) {
		h ^= static_cast<unsigned char>(c);
		h *= 0x100000001b3ULL;
	}
	return h;
}

constexpr std::uint64_t kLastId = 0x7fffffff;

} // namespace

IdRange parse_id_range(const std::string &text)
{
	const auto colon = text.find(':');
	if (colon == std::string::npos)
		throw std::invalid_argument("--id-range: expected FIRST:COUNT, got '" + text + "'");
	const std::string first = text.substr(0, colon);
	const std::string count = text.substr(colon + 1);
	const std::uint64_t f = parse_u64(first.c_str(), "--id-range FIRST", kLastId);
	const std::uint64_t n = parse_u64(count.c_str(), "--id-range COUNT", kLastId);
	if (f == 0 || n == 0)
		throw std::invalid_argument("--id-range: FIRST and COUNT must be at least 1 (0 is root)");
	if (f + n - 1 > kLastId)
		throw std::invalid_argument("--id-range: the range must end at 2147483647 or below");
	if (f <= 65535 && f + n > 65535)
		throw std::invalid_argument("--id-range: the range must not hold 65535, the 16-bit (uid_t)-1");
	return IdRange{static_cast<std::uint32_t>(f), static_cast<std::uint32_t>(n)};
}

namespace {

struct FileCloser {
	void operator()(std::FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void refuse(const IdRange &range, const std::string &what)
{
	throw std::invalid_argument("--id-range " + std::to_string(range.first) + ":" + std::to_string(range.count) +
				    ": " + what + ": device processes would share its identity; choose a range no "
				    "user, group or subordinate range of the host uses");
}

bool overlaps(const IdRange &range, std::uint64_t first, std::uint64_t count)
{
	const std::uint64_t end = count > UINT64_MAX - first ? UINT64_MAX : first + count;
	return count != 0 && first < std::uint64_t{range.first} + range.count && range.first < end;
}

// |path| opened for reading; none if it does not exist. Any other failure
// throws: an unreadable passwd must not pass for an empty one.
File open_id_file(const std::string &path)
{
	File f{std::fopen(path.c_str(), "re")};
	if (!f && errno != ENOENT)
		throw std::invalid_argument("--id-range: cannot read " + path + " to check the range against it: " +
					    errno_string(errno));
	return f;
}

// A decimal field of a subuid/subgid line; false if it is not one.
bool parse_field(std::string_view text, std::uint64_t &out)
{
	const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out);
	return err == std::errc{} && end == text.data() + text.size() && !text.empty();
}

// /etc/subuid and /etc/subgid: "owner:first:count" per line. Lines that
// are not (comments, garbage) are skipped, as shadow's own tools do.
void check_subordinate_ranges(const IdRange &range, const std::string &path, const char *what)
{
	const File f = open_id_file(path);
	if (!f)
		return;
	std::string text;
	char buf[4096];
	for (std::size_t got = 0; (got = std::fread(buf, 1, sizeof buf, f.get())) > 0;)
		text.append(buf, got);
	if (std::ferror(f.get()) != 0)
		throw std::invalid_argument("--id-range: cannot read " + path + " to check the range against it");
	std::string_view rest(text);
	for (unsigned n = 1; !rest.empty(); ++n) {
		const auto eol = rest.find('\n');
		const std::string_view l = rest.substr(0, eol);
		rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
		const auto a = l.find(':');
		const auto b = a == std::string_view::npos ? a : l.find(':', a + 1);
		std::uint64_t first = 0;
		std::uint64_t count = 0;
		if (b == std::string_view::npos || !parse_field(l.substr(a + 1, b - a - 1), first) ||
		    !parse_field(l.substr(b + 1), count))
			continue;
		if (overlaps(range, first, count))
			refuse(range, std::string(what) + " range " + std::to_string(first) + ":" + std::to_string(count) +
					      " of " + std::string(l.substr(0, a)) + " (" + path + ":" + std::to_string(n) +
					      ") overlaps it");
	}
}

} // namespace

void check_id_range_is_unused(const IdRange &range, const HostIdFiles &files)
{
	if (const File f = open_id_file(files.passwd)) {
		while (const passwd *pw = ::fgetpwent(f.get())) // NOLINT(concurrency-mt-unsafe): before any thread
			if (overlaps(range, pw->pw_uid, 1) || overlaps(range, pw->pw_gid, 1))
				refuse(range, "user " + std::string(pw->pw_name) + " (uid " + std::to_string(pw->pw_uid) +
						      ", gid " + std::to_string(pw->pw_gid) + ", " + files.passwd + ") is in it");
	}
	if (const File f = open_id_file(files.group)) {
		while (const group *gr = ::fgetgrent(f.get())) // NOLINT(concurrency-mt-unsafe): before any thread
			if (overlaps(range, gr->gr_gid, 1))
				refuse(range, "group " + std::string(gr->gr_name) + " (gid " + std::to_string(gr->gr_gid) +
						      ", " + files.group + ") is in it");
	}
	check_subordinate_ranges(range, files.subuid, "subuid");
	check_subordinate_ranges(range, files.subgid, "subgid");
}

void Identities::claim(const std::string &device, std::uint32_t id, const char *what)
{
	if (in_range(id))
		throw std::runtime_error(std::string(what) + " " + std::to_string(id) + " lies in the range the "
					 "supervisor assigns devices their ids from (" + std::to_string(range_.first) + ":" +
					 std::to_string(range_.count) + ")");
	const auto it = owner_.find(id);
	if (it != owner_.end() && it->second != device)
		throw std::runtime_error(std::string(what) + " " + std::to_string(id) + " is also device " + it->second +
					 "'s: devices may not share an identity");
	owner_.emplace(id, device);
}

void Identities::assign(policy::Policy &p)
{
	release(p.name);
	try {
		// The policy's own ids first: refused if another device has them.
		for (const policy::Process *proc : {static_cast<policy::Process *>(&p.backend), &p.adapter}) {
			if (proc->uid_written)
				claim(p.name, proc->sandbox.uid, "uid");
			if (proc->gid_written && control_group_ != 0 && proc->sandbox.gid == control_group_)
				throw std::runtime_error("gid " + std::to_string(control_group_) + " is the control "
							 "socket's group (--control-group): a device in it could "
							 "load, stop and reconfigure every device");
			if (proc->gid_written)
				claim(p.name, proc->sandbox.gid, "gid");
		}
		const bool needs_own = !p.backend.uid_written || !p.backend.gid_written || !p.adapter.uid_written ||
				       !p.adapter.gid_written;
		if (!needs_own)
			return;
		const std::uint64_t start = name_hash(p.name) % range_.count;
		std::uint32_t id = 0;
		for (std::uint64_t i = 0;; ++i) {
			if (i == range_.count)
				throw std::runtime_error("no free id left in the range " + std::to_string(range_.first) +
							 ":" + std::to_string(range_.count) + " (--id-range)");
			id = static_cast<std::uint32_t>(range_.first + (start + i) % range_.count);
			if (!owner_.contains(id) && (control_group_ == 0 || id != control_group_))
				break;
		}
		owner_.emplace(id, p.name);
		for (policy::Process *proc : {static_cast<policy::Process *>(&p.backend), &p.adapter}) {
			if (!proc->uid_written)
				proc->sandbox.uid = id;
			if (!proc->gid_written)
				proc->sandbox.gid = id;
		}
	} catch (...) {
		release(p.name);
		throw;
	}
}

void Identities::release(const std::string &device)
{
	std::erase_if(owner_, [&](const auto &e) { return e.second == device; });
}

} // namespace vlb::supervisor
