// SPDX-License-Identifier: Apache-2.0
#include "reader.h"

#include <algorithm>

namespace vlb::policy::detail {
namespace {

std::string type_name(const toml::node &n)
{
	switch (n.type()) {
	case toml::node_type::string: return "a string";
	case toml::node_type::integer: return "an integer";
	case toml::node_type::floating_point: return "a float";
	case toml::node_type::boolean: return "a boolean";
	case toml::node_type::table: return "a table";
	case toml::node_type::array: return "an array";
	default: return "a date or time";
	}
}

} // namespace

void Locations::add(const std::string &key, const toml::source_region &where)
{
	where_[key] = Position{static_cast<unsigned>(where.begin.line), static_cast<unsigned>(where.begin.column)};
}

void Locations::fail(const std::string &key, const std::string &reason) const
{
	// The key itself, else its nearest parent that was written down.
	std::string k = key;
	for (;;) {
		const auto it = where_.find(k);
		if (it != where_.end())
			throw PolicyError(file_, it->second.line, it->second.column, key, reason);
		const auto cut = k.find_last_of(".[");
		if (cut == std::string::npos)
			throw PolicyError(file_, 0, 0, key, reason);
		k.resize(cut);
	}
}

Table::Table(const toml::table &table, std::string prefix, Locations &locations)
	: table_(&table), prefix_(std::move(prefix)), locations_(&locations)
{
	for (const auto &[k, v] : table)
		locations_->add(prefix_ + std::string(k.str()), k.source().begin.line != 0 ? k.source() : v.source());
}

void Table::fail(const char *key, const std::string &reason) const { locations_->fail(path(key), reason); }

const toml::node *Table::get(const char *key)
{
	read_.emplace_back(key);
	return table_->get(key);
}

std::optional<std::string> Table::string(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (!n->is_string())
		fail(key, "must be a string, not " + type_name(*n));
	return n->as_string()->get();
}

std::optional<std::int64_t> Table::integer(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (!n->is_integer())
		fail(key, "must be an integer, not " + type_name(*n));
	return n->as_integer()->get();
}

std::optional<bool> Table::boolean(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (!n->is_boolean())
		fail(key, "must be true or false, not " + type_name(*n));
	return n->as_boolean()->get();
}

std::optional<std::vector<std::string>> Table::strings(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (!n->is_array())
		fail(key, "must be an array of strings, not " + type_name(*n));
	std::vector<std::string> out;
	for (const auto &e : *n->as_array()) {
		if (!e.is_string())
			fail(key, "must be an array of strings; found " + type_name(e));
		out.push_back(e.as_string()->get());
	}
	return out;
}

std::optional<std::vector<std::int64_t>> Table::integers(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (!n->is_array())
		fail(key, "must be an array of integers, not " + type_name(*n));
	std::vector<std::int64_t> out;
	for (const auto &e : *n->as_array()) {
		if (!e.is_integer())
			fail(key, "must be an array of integers; found " + type_name(e));
		out.push_back(e.as_integer()->get());
	}
	return out;
}

std::optional<std::uint64_t> Table::size(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (n->is_integer()) {
		const auto v = n->as_integer()->get();
		if (v < 0)
			fail(key, "must not be negative");
		return static_cast<std::uint64_t>(v);
	}
	if (!n->is_string())
		fail(key, "must be an integer or a size like \"256M\", not " + type_name(*n));
	const std::string &s = n->as_string()->get();
	std::size_t digits = 0;
	while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
		++digits;
	const std::string suffix = s.substr(digits);
	unsigned shift = 0;
	if (suffix == "K")
		shift = 10;
	else if (suffix == "M")
		shift = 20;
	else if (suffix == "G")
		shift = 30;
	else if (!suffix.empty())
		fail(key, "size \"" + s + "\": the suffix must be K, M or G");
	if (digits == 0 || digits > 19)
		fail(key, "size \"" + s + "\" is not a number");
	const std::uint64_t v = std::stoull(s.substr(0, digits));
	if (v > (UINT64_MAX >> shift))
		fail(key, "size \"" + s + "\" does not fit in 64 bits");
	return v << shift;
}

std::optional<Table> Table::table(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return std::nullopt;
	if (!n->is_table())
		fail(key, "must be a table, not " + type_name(*n));
	return Table(*n->as_table(), path(key) + ".", *locations_);
}

std::vector<Table> Table::tables(const char *key)
{
	const auto *n = get(key);
	if (n == nullptr)
		return {};
	if (!n->is_array_of_tables())
		fail(key, "must be an array of tables ([[" + path(key) + "]])");
	std::vector<Table> out;
	std::size_t i = 0;
	for (const auto &e : *n->as_array()) {
		const std::string p = path(key) + "[" + std::to_string(i++) + "]";
		locations_->add(p, e.source());
		out.emplace_back(*e.as_table(), p + ".", *locations_);
	}
	return out;
}

void Table::reject_unknown() const
{
	for (const auto &[k, v] : *table_) {
		const std::string name(k.str());
		if (std::find(read_.begin(), read_.end(), name) == read_.end())
			locations_->fail(prefix_ + name, "unknown key");
	}
}

} // namespace vlb::policy::detail
