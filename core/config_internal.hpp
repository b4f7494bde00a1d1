// Internal to the config module (config*.cpp): yaml-cpp helpers, ${VAR} substitution and the
// domain rules. Includes yaml-cpp, so nothing outside the isitup_config library includes it.
#pragma once

#include <yaml-cpp/yaml.h>
#include <isitup/option_text.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/config.hpp>

namespace isitup::config::detail {

location at(const std::string& file, const YAML::Mark& mark);
location at(const std::string& file, const YAML::Node& node);
[[noreturn]] void fail(const location& where, const std::string& message);

// "a mapping", "a sequence", "an empty value", "the scalar 'text'": for "expected X, got Y".
std::string describe(const YAML::Node& node);
// 'text', cut after 80 characters with "…", control characters escaped: a long value
// leaves room for the reason.
std::string quote(std::string_view text);
std::string join(std::span<const std::string_view> names);

struct substitution_error {
  std::size_t offset = 0;  // in the input text
  std::string message;
};
// Replaces ${VAR} and ${VAR:-default} (default when VAR is unset or empty) from the
// environment and $$ with $. A lone $ stays as it is. Returns false and fills `error` on an
// unset variable without a default, a malformed ${...} or an unterminated one.
bool substitute_env(std::string_view text, std::string& out, substitution_error& error);
// Substitutes in place in every scalar value under `node` (mapping keys are left alone); an
// error is a config_error at that scalar. Visits at most `max_nodes` nodes, counting a node
// reached through an alias each time (keys included): past that it is a config_error, so a
// "billion laughs" of nested aliases is refused before anything walks its expansion.
void substitute_tree(const std::string& file, YAML::Node& node, std::size_t max_nodes);

struct entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};
// The entries of the mapping `node`, in order. `path` names it in messages ("agent",
// "checks[2]"; empty for the top level). Fails on a non-mapping, a key that is not a scalar, a
// duplicate key, and (when `allowed` is not empty) a key not in `allowed`.
std::vector<entry> mapping_entries(const std::string& file, const YAML::Node& node,
                                   const std::string& path,
                                   std::span<const std::string_view> allowed);

// Strict scalar parsers (the whole text must match, no surrounding spaces) and
// "expected a duration like 500ms, 30s, 5m, 1h, got 'fast'": the SDK's, which the fake host
// in sdk/testing uses too (isitup/option_text.hpp).
using sdk::duration_expected;
using sdk::parse_bool;
using sdk::parse_int64;
using sdk::parse_number;
using sdk::suggestion;  // " (did you mean 'x'?)" for an unknown key

// Turns one `domains:` entry into an http_check target: a bare domain (host or host:port)
// becomes https://<domain>/, an http:// or https:// URL with a host is kept as it is. Returns
// nullopt and fills `why` for anything else.
std::optional<std::string> domain_target(std::string_view entry, std::string& why);

struct domains_file_entry {
  std::string text;  // after ${VAR} substitution
  location where;    // the entry's first character in the domains file
};
// "64 MiB", "512 KiB", "1000 bytes".
std::string size_limit_text(std::size_t bytes);
// The contents of `path` if it is a regular file of at most `max_bytes`; otherwise nullopt and
// the reason in `why` ("it is a FIFO, not a regular file", an errno text, ...). Never blocks
// in open().
std::optional<std::string> read_bounded_file(const std::string& path, std::size_t max_bytes,
                                             std::string& why);

// Reads a domains file: one entry a line; blank lines, lines starting with # and trailing
// " # comments" are skipped. `path` is used to open the file and in messages. Failing to read
// it (not a regular file, larger than `max_bytes`) is an error at `key_where`.
std::vector<domains_file_entry> read_domains_file(const std::string& path,
                                                  const location& key_where, std::size_t max_bytes);

// config_alert.cpp. A sink name: [a-z0-9_-]+, at most 64 characters.
bool is_sink_name(std::string_view name);
// Overrides the keys of `out` that the alert mapping `node` gives; a `notify` list replaces the
// inherited one, its items' locations go to notify_at.
void read_alert(const std::string& file, const YAML::Node& node, const std::string& path,
                alert_settings& out, std::vector<location>& notify_at);
// Gives every unnamed sink its default name (the plugin's, then plugin2, plugin3 for repeats);
// a duplicate name is an error at the second one.
void name_sinks(std::vector<plugin_section>& sinks);
// Every name in a check's notify must be a sink's: an error at the name otherwise.
void check_notify(const agent& a);
// config_http.cpp. Reads agent.http (`node` is its mapping, `path` "agent.http").
void read_http(const std::string& file, const YAML::Node& node, const std::string& path,
               http_settings& out);
// config.cpp: one check mapping read as a `checks:` item is (path "check"), with `running`'s
// defaults; `file` names it in errors. For catalog values.
check read_check_entry(const YAML::Node& item, const std::string& file, const agent& running);

// $STATE_DIRECTORY (its first directory), or "".
std::string default_state_dir();

}  // namespace isitup::config::detail
