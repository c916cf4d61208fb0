// SPDX-License-Identifier: Apache-2.0
// Entry points: a policy from text, from a file, from a directory.
#include "vlb/policy/policy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>

#include "parse.h"

namespace vlb::policy {
namespace {

std::string format(const std::string &file, unsigned line, unsigned column, const std::string &key,
		   const std::string &reason)
{
	std::string s = file;
	if (line != 0)
		s += ":" + std::to_string(line) + ":" + std::to_string(column);
	s += ": ";
	if (!key.empty())
		s += key + ": ";
	return s + reason;
}

std::string sha256(std::string_view text)
{
	std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
	unsigned int len = 0;
	if (EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
		throw std::runtime_error("sha256 failed");
	static constexpr char kHex[] = "0123456789abcdef";
	std::string out = "sha256:";
	for (unsigned i = 0; i < len; ++i) {
		out += kHex[md[i] >> 4];
		out += kHex[md[i] & 15];
	}
	return out;
}

} // namespace

PolicyError::PolicyError(std::string file, unsigned line, unsigned column, std::string key, const std::string &reason)
	: std::runtime_error(format(file, line, column, key, reason)), file_(std::move(file)), line_(line),
	  key_(std::move(key))
{
}

std::string_view to_string(DeviceType type)
{
	switch (type) {
	case DeviceType::kBlk: return "blk";
	case DeviceType::kRng: return "rng";
	case DeviceType::kInput: return "input";
	case DeviceType::kConsole: return "console";
	}
	return "?";
}

Policy parse_policy(std::string_view text, const std::string &file)
{
	toml::table doc;
	try {
		doc = toml::parse(text, file);
	} catch (const toml::parse_error &e) {
		throw PolicyError(file, static_cast<unsigned>(e.source().begin.line),
				  static_cast<unsigned>(e.source().begin.column), "", std::string(e.description()));
	}
	detail::Locations where(file);
	Policy p = detail::parse(doc, file, where);
	detail::validate(p, where);
	p.digest = sha256(text);
	return p;
}

Policy load_policy_file(const std::string &path)
{
	constexpr std::size_t kMaxPolicy = 1U << 20;
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw PolicyError(path, 0, 0, "", "cannot be read");
	// Read one byte past the limit, never more: the path may name
	// /dev/zero or a FIFO as well as a file.
	std::string s(kMaxPolicy + 1, '\0');
	in.read(s.data(), static_cast<std::streamsize>(s.size()));
	if (in.bad())
		throw PolicyError(path, 0, 0, "", "cannot be read");
	s.resize(static_cast<std::size_t>(in.gcount()));
	if (s.size() > kMaxPolicy)
		throw PolicyError(path, 0, 0, "", "larger than 1 MiB; not a policy");
	return parse_policy(s, path);
}

std::vector<DirectoryEntry> load_policy_directory(const std::string &dir)
{
	std::vector<std::string> files;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator(dir, ec))
		if (e.path().extension() == ".toml" && e.is_regular_file())
			files.push_back(e.path().string());
	if (ec)
		throw std::runtime_error("policy directory " + dir + ": " + ec.message());
	std::sort(files.begin(), files.end());

	std::vector<DirectoryEntry> out;
	std::map<std::string, std::string> owner; // device name → file
	for (const auto &f : files) {
		DirectoryEntry entry{f, std::nullopt, ""};
		try {
			Policy p = load_policy_file(f);
			const auto [it, fresh] = owner.emplace(p.name, f);
			if (!fresh)
				throw PolicyError(f, 0, 0, "device.name",
						  "\"" + p.name + "\" is already used by " + it->second);
			entry.policy = std::move(p);
		} catch (const std::exception &e) {
			entry.error = e.what();
		}
		out.push_back(std::move(entry));
	}
	return out;
}

} // namespace vlb::policy
