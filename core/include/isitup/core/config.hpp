// The agent's configuration: loaded from YAML, validated, every error with file:line:column.
// Knows no plugins: plugin option sections are kept raw and validated later against a schema
// the caller provides (validate_options).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <isitup/core/alert_settings.hpp>
#include <isitup/core/options.hpp>

namespace YAML {
class Node;
}

namespace isitup::config {

// A file's name as locations hold it: one string shared by every copy, so 100k checks read
// from one file hold its name once (each check has two locations: its entry, its options).
class file_name {
 public:
  file_name() = default;
  // Implicit both ways: a file_name is made and read where a std::string was.
  file_name(std::string name);
  file_name(const char* name) : file_name(std::string(name)) {}
  const std::string& str() const { return name_ ? *name_ : empty_name(); }
  operator const std::string&() const { return str(); }
  bool empty() const { return str().empty(); }
  friend bool operator==(const file_name& a, const file_name& b) { return a.str() == b.str(); }
  friend bool operator==(const file_name& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const file_name& a, const char* b) { return a.str() == b; }

 private:
  static const std::string& empty_name();
  std::shared_ptr<const std::string> name_;
};

struct location {
  file_name file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
};

// "file:line:column", or just "file" when the line is unknown (0).
std::string to_string(const location& where);

// what() is "file:line:column: message" ("file: message" when there is no line, e.g. a config
// file that cannot be read).
class config_error : public std::runtime_error {
 public:
  config_error(location where, const std::string& message);
  const location& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  location where_;
  std::string message_;
};

// An `options:` mapping as written in the config (after ${VAR} substitution), not yet
// validated. node() is nullptr when the section has no options; where() is then the owner's
// location (the check, sink or source entry), so that "missing required option" points there.
class raw_options {
 public:
  raw_options();
  // `node` may be null (no options).
  explicit raw_options(std::shared_ptr<const YAML::Node> node, location where);
  const location& where() const { return where_; }
  const YAML::Node* node() const { return node_.get(); }
  // The same options (sharing their tree), said to be written at `where`.
  raw_options written_at(location where) const { return raw_options(node_, std::move(where)); }

 private:
  std::shared_ptr<const YAML::Node> node_;
  location where_;
};

// True when both sections say the same (same keys, values and order; where and in which
// style, flow or block, they are written does not count). Two absent sections are the same; an
// absent and an empty one are not.
bool same_options(const raw_options& a, const raw_options& b);

// Where a plugin's refusal points: when `message` starts with "<name>:" (as config_map's range
// errors and the plugins' own checks do) and <name> is given in `raw`, the location of its
// value; otherwise nullopt (blame the check or section).
std::optional<location> option_named_in(const raw_options& raw, std::string_view message);

// Validates `raw` against `schema`: unknown key, wrong type, missing required are
// config_errors at the offending key or value; defaults are applied from default_yaml.
// `section` names the owner in messages, e.g. "checks[2] (http_check) options".
option_values validate_options(const raw_options& raw, const std::vector<option_schema>& schema,
                               const std::string& section);

// The same checks, but the result holds only the options given in `raw` (no defaults): for
// many sections of one schema, pair it with one shared default_options().
option_values validate_given_options(const raw_options& raw,
                                     const std::vector<option_schema>& schema,
                                     const std::string& section);

// Every declared option with its default applied (has_value false where there is none).
// A default that does not parse is a config_error at `where`, blamed on the plugin.
option_values default_options(const std::vector<option_schema>& schema, const std::string& section,
                              const location& where);

struct check {
  std::string name;          // unique; defaults to the target
  std::string plugin;        // defaults to http_check
  std::string target;        // as written: with the credentials of a user:password@ URL
  std::string shown_target;  // target with its userinfo redacted: results, logs, errors
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
  raw_options options;
  location where;        // the check's entry (a domains item, a domains_file line, a checks item)
  alert_settings alert;  // defaults.alert with the check's alert: keys over it
  std::vector<location> notify_at;  // where each alert.notify name is written
  std::string group;                // `group:`, for the status page; may be empty
};

struct plugin_section {  // one item of `sinks:` or `sources:`
  std::string plugin;
  raw_options options;
  location where;
  // Sinks: `name:` ([a-z0-9_-]+, unique), by default the plugin's name, then plugin2, plugin3
  // for repeats. Empty for sources.
  std::string name;
  location name_where;
};

// Bounds on what loading a config may read and build.
struct load_limits {
  // The config file and its domains_file, each (--max-config-bytes).
  std::size_t max_file_bytes = std::size_t{64} << 20;
  // When set and it turns true (from any thread), loading stops early with a config_error
  // "loading was cancelled": a reload in progress when the agent stops. Must outlive the load.
  const std::atomic<bool>* cancel = nullptr;
};

// agent.http: the agent's HTTP interface (http_server.hpp). Off unless `listen` is given.
struct http_settings {
  bool enabled = false;
  std::string host;  // an IP address literal (IPv6 without brackets)
  int port = 0;      // 0: the kernel chooses (the log says which)
  bool loopback = false;
  std::string token;  // auth.token; empty = no auth. A secret: never logged
  bool per_check_metrics = false;
  std::size_t per_check_metrics_limit = 10000;
  location where;  // the `listen` value
  bool operator==(const http_settings& o) const {
    return enabled == o.enabled && host == o.host && port == o.port && token == o.token &&
           per_check_metrics == o.per_check_metrics &&
           per_check_metrics_limit == o.per_check_metrics_limit;
  }
};

struct agent {
  std::string file;      // the config file's path as given
  load_limits limits;    // what it was loaded with (a reload uses the same)
  std::string id;        // defaults to the host name
  std::string location;  // may be empty
  int64_t interval_ms = 30000;
  int64_t timeout_ms = 5000;
  int max_in_flight = 1000;  // agent.max_in_flight: checks running at once
  // agent.max_in_flight_per_plugin: check plugin name -> runs of its checks at once (on top
  // of max_in_flight; a plugin not named is bounded by max_in_flight alone).
  std::map<std::string, int> max_in_flight_per_plugin;
  std::size_t queue_size = 10000;       // pipeline.queue_size: results waiting for sinks
  std::size_t batch_size = 500;         // pipeline.batch_size
  int64_t batch_delay_ms = 200;         // pipeline.batch_delay
  int64_t shutdown_timeout_ms = 10000;  // pipeline.shutdown_timeout
  int64_t sink_timeout_ms = 300000;     // pipeline.sink_timeout: a write not completed by then
                                        // is retried
  std::vector<check> checks;            // domains, domains_file lines, then checks, in order
  std::vector<plugin_section> sinks;    // stdout_sink when the config names none
  std::vector<plugin_section> sources;
  // `catalog: {plugin, options}`: the check catalog a probe fleet shares. An agent run with a
  // catalog schedules the catalog's checks of the partitions it is assigned, not `checks`
  // (which are what --publish-checks writes to the catalog).
  std::optional<plugin_section> catalog;
  alert_settings alert;  // defaults.alert
  // agent.state_dir: where state and undelivered events survive restarts; by default
  // $STATE_DIRECTORY (systemd's StateDirectory=). Empty: state is kept in memory only.
  std::string state_dir;
  http_settings http;  // agent.http
};

// The catalog (config_catalog.cpp). A check as one catalog message's value: versioned JSON
// ({"v":1,"name":..,"plugin":..,"target":..,"interval":"30000ms","timeout":"5000ms",
// "options":{..},"alert":{..}}, every scalar a JSON string), the same bytes for the same check.
std::string catalog_value(const check& c);
// Reads a catalog value back with the same rules as a `checks:` item of a file. Nothing in it
// is expanded (no ${VAR}); at most 64 KiB, nesting at most 8 deep. `source` names the message
// in errors ("catalog isitup.checks partition 3 offset 17"). `key` must equal its name. Throws
// config_error; the check's notify names are checked against `running`'s sinks.
check parse_catalog_value(std::string_view key, std::string_view value, const std::string& source,
                          const agent& running);

// parse_catalog_value for many messages read with the same `running` config: a value is split
// into its name and target and the rest (its shape), and the check read from a shape the last
// time is reused, with this value's name and target, so the checks of one shape (most of a
// catalog) skip building and reading a YAML tree. What it returns, and the errors it throws,
// are parse_catalog_value's. Remembers at most max_shapes shapes (then starts over). One
// thread at a time; `running` must outlive it and not change.
class catalog_reader {
 public:
  static constexpr std::size_t max_shapes = 1024;
  explicit catalog_reader(const agent& running) : running_(running) {}
  check read(std::string_view key, std::string_view value, const std::string& source);

 private:
  const agent& running_;
  std::unordered_map<std::string, check> shapes_;
};

// `url` with the secret in its userinfo replaced: "https://user:***@host/"; a user alone
// (often a token) becomes "https://***@host/". Text that is not scheme://authority... is
// returned as it is.
std::string redact_userinfo(std::string_view url);
// `url` without its userinfo ("https://host/"): how checks are named after their target, so
// that no credential becomes a Kafka or PostgreSQL key.
std::string without_userinfo(std::string_view url);

// Loads and validates a config file. Throws config_error. The file and its domains_file must
// be regular files of at most limits.max_file_bytes (a FIFO or a device is refused without
// blocking). YAML aliases may not expand the document past a node budget of 1,000,000 plus two
// per byte of text (more than any config written without aliases can have).
agent load_file(const std::string& path, const load_limits& limits = {});
// Same, from text (for tests); `file` is the name used in messages.
agent load_string(const std::string& text, const std::string& file, const load_limits& limits = {});

}  // namespace isitup::config
