// SPDX-License-Identifier: Apache-2.0
// One device's policy: what runs, how it connects, what each process may
// touch, the kernel memory policy, restarts and attestation. Parsed from one
// TOML file (docs/policy.md is the schema) and validated before use: a
// Policy value is always complete and consistent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vlb/sandbox/spec.h"

namespace vlb::policy {

enum class DeviceType { kBlk, kRng, kInput, kConsole };
enum class Connect { kSocketpair, kSocketPath };
enum class RestartMode { kNever, kOnFailure, kAlways };

// A file the supervisor opens and hands to the back-end as an fd; the
// back-end learns its number through |option| ("--backing-fd" → "--backing-fd=3").
// With |listen|, the supervisor instead creates a listening unix socket at
// |path| and hands that over (e.g. a console port clients connect to).
struct HandedFile {
	std::string path;
	bool writable = false;
	bool listen = false;
	std::string option;
};

struct Process {
	std::string binary; // absolute path
	std::vector<std::string> args;
	sandbox::Spec sandbox;
	// Which ids the policy names. The others are the device's own: the
	// supervisor assigns each device a uid and gid of its own
	// (docs/supervisor.md), so no other device and no host user shares them.
	bool uid_written = false;
	bool gid_written = false;
	// Whether the policy sets rlimits.fsize; if not, the supervisor raises
	// the default to fit the writable files it hands over (a blk backing
	// file is written up to its end).
	bool fsize_written = false;
};

struct Backend : Process {
	Connect connect = Connect::kSocketpair;
	std::string socket_path; // Connect::kSocketPath only
	bool spawned = true;     // false: a third-party back-end started elsewhere
	std::vector<HandedFile> files;
};

// Default rlimits of every sandboxed process (docs/policy.md has the
// measurements behind them). nofile 256 and core 0 besides.
inline constexpr std::uint64_t kDefaultNproc = 128;
inline constexpr std::uint64_t kDefaultFsize = std::uint64_t{1} << 30;
// "as" is the IOVA window (a back-end maps it whole) plus this.
inline constexpr std::uint64_t kAddressSpaceHeadroom = std::uint64_t{2} << 30;

struct Memory {
	std::uint32_t max_granted_pages = 16384;
	std::uint32_t bounce_threshold = 0; // bytes; 0: kernel default
	std::uint64_t iova_size = 256ULL << 20;
};

struct Restart {
	RestartMode mode = RestartMode::kOnFailure;
	std::chrono::milliseconds backoff_initial{100};
	std::chrono::milliseconds backoff_max{30000};
	unsigned max_restarts = 5; // within |window|; then the device stays down
	std::chrono::seconds window{60};
};

struct Policy {
	std::string file;   // where it was read from
	std::string digest; // "sha256:<hex>" of the file's bytes
	std::string name;   // kernel device name, unique across policies
	DeviceType type = DeviceType::kBlk;
	unsigned queues = 1;
	unsigned queue_size = 256;
	bool read_only = false; // blk: the driver sees a read-only disk
	Backend backend;
	bool backend_sandboxed = false; // [backend.sandbox] was written
	Process adapter;
	Memory memory;
	Restart restart;
	bool attestation_required = false;
};

// A policy that cannot be used. what() reads "FILE:LINE:COLUMN: KEY: REASON"
// (line 0 when the problem is the file as a whole).
class PolicyError : public std::runtime_error {
public:
	PolicyError(std::string file, unsigned line, unsigned column, std::string key, const std::string &reason);
	[[nodiscard]] const std::string &file() const { return file_; }
	[[nodiscard]] unsigned line() const { return line_; }
	[[nodiscard]] const std::string &key() const { return key_; }

private:
	std::string file_;
	unsigned line_;
	std::string key_;
};

// Parses and validates |text|; |file| names it in errors.
Policy parse_policy(std::string_view text, const std::string &file);
Policy load_policy_file(const std::string &path);

struct DirectoryEntry {
	std::string file;
	std::optional<Policy> policy; // set when it loaded
	std::string error;            // set when it did not
};
// Every "*.toml" in |dir|, sorted by name; a broken file gets an error and
// does not stop the others. Names used twice are errors on the later files.
std::vector<DirectoryEntry> load_policy_directory(const std::string &dir);

std::string_view to_string(DeviceType type);

} // namespace vlb::policy
