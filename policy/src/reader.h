// SPDX-License-Identifier: Apache-2.0
// Typed access to one TOML table that remembers where every key was and
// rejects the keys nobody asked for. Errors carry FILE:LINE:COLUMN: KEY.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <toml++/toml.h>
#include <utility>
#include <vector>

#include "vlb/policy/policy.h"

namespace vlb::policy::detail {

struct Position {
	unsigned line = 0;
	unsigned column = 0;
};

// Where each key path ("backend.files[0].path") was written, for the
// errors validation raises after parsing.
class Locations {
public:
	explicit Locations(std::string file) : file_(std::move(file)) {}
	void add(const std::string &key, const toml::source_region &where);
	[[noreturn]] void fail(const std::string &key, const std::string &reason) const;
	[[nodiscard]] bool written(const std::string &key) const { return where_.contains(key); }
	[[nodiscard]] const std::string &file() const { return file_; }

private:
	std::string file_;
	std::map<std::string, Position> where_;
};

class Table {
public:
	Table(const toml::table &table, std::string prefix, Locations &locations);

	std::optional<std::string> string(const char *key);
	std::optional<std::int64_t> integer(const char *key);
	std::optional<bool> boolean(const char *key);
	std::optional<std::vector<std::string>> strings(const char *key);
	std::optional<std::vector<std::int64_t>> integers(const char *key);
	// Integers, or strings with a K/M/G suffix (powers of 1024).
	std::optional<std::uint64_t> size(const char *key);
	std::optional<Table> table(const char *key);
	std::vector<Table> tables(const char *key); // array of tables

	[[nodiscard]] bool holds_string(const char *key) const
	{
		const auto *n = table_->get(key);
		return n != nullptr && n->is_string();
	}
	[[nodiscard]] std::string path(const char *key) const { return prefix_ + key; }
	[[noreturn]] void fail(const char *key, const std::string &reason) const;
	// Every key not read by now is an error.
	void reject_unknown() const;

private:
	const toml::node *get(const char *key);

	const toml::table *table_;
	std::string prefix_;
	Locations *locations_;
	std::vector<std::string> read_;
};

} // namespace vlb::policy::detail
