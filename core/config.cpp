#include <isitup/core/config.hpp>

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <istream>
#include <limits>
#include <streambuf>
#include <string_view>
#include <unordered_map>

#include <yaml-cpp/eventhandler.h>

#include "config_internal.hpp"

namespace isitup::config {

using detail::at;
using detail::describe;
using detail::fail;
using detail::quote;

file_name::file_name(std::string name) {
  if (name.empty()) return;
  // Locations are made by the thousand from one file in a row (two per check): a name equal to
  // the last one made on this thread shares its string.
  thread_local std::shared_ptr<const std::string> last;
  if (!last || *last != name) last = std::make_shared<const std::string>(std::move(name));
  name_ = last;
}

const std::string& file_name::empty_name() {
  static const std::string empty;
  return empty;
}

std::string to_string(const location& where) {
  if (where.line <= 0) return where.file;
  return where.file.str() + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

config_error::config_error(location where, const std::string& message)
    : std::runtime_error(to_string(where) + ": " + message),
      where_(std::move(where)),
      message_(message) {}

raw_options::raw_options() = default;

raw_options::raw_options(std::shared_ptr<const YAML::Node> node, location where)
    : node_(std::move(node)), where_(std::move(where)) {}

namespace {

// Same content whatever the style (flow or block, quoting): scalars by text, sequences and
// mappings element by element in order.
bool same_node(const YAML::Node& x, const YAML::Node& y) {
  if (x.Type() != y.Type() || x.size() != y.size()) return false;
  if (x.IsScalar()) return x.Scalar() == y.Scalar();
  if (x.IsSequence()) {
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_node(x[i], y[i])) return false;
    return true;
  }
  if (x.IsMap()) {
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j)
      if (!same_node(i->first, j->first) || !same_node(i->second, j->second)) return false;
  }
  return true;  // null, or maps that matched
}

}  // namespace

bool same_options(const raw_options& a, const raw_options& b) {
  const YAML::Node* x = a.node();
  const YAML::Node* y = b.node();
  if (x == nullptr || y == nullptr) return x == y;
  return same_node(*x, *y);
}

std::optional<location> option_named_in(const raw_options& raw, std::string_view message) {
  const std::size_t colon = message.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view name = message.substr(0, colon);
  const YAML::Node* node = raw.node();
  if (node == nullptr || !node->IsMap()) return std::nullopt;
  // The value of `key` in `map`, when there is one and its place is known.
  const auto value_of = [&](const YAML::Node& map,
                            std::string_view key) -> std::optional<location> {
    for (const auto& kv : map) {
      if (!kv.first.IsScalar() || kv.first.Scalar() != key) continue;
      const location where = detail::at(raw.where().file, kv.second);
      if (where.line <= 0) return std::nullopt;
      return where;
    }
    return std::nullopt;
  };
  std::optional<location> option = value_of(*node, name);  // not const: returned by move
  if (!option) return std::nullopt;
  // "properties: 'ssl.key.location': ...": the entry of a map option, when it names one.
  const std::string_view rest = message.substr(colon + 1);
  if (rest.size() > 2 && rest.substr(0, 2) == " '") {
    const std::size_t close = rest.find('\'', 2);
    const YAML::Node value = (*node)[std::string(name)];
    if (close != std::string_view::npos && value.IsMap())
      if (auto entry = value_of(value, rest.substr(2, close - 2))) return entry;
  }
  return option;
}

namespace {

constexpr std::string_view top_keys[] = {"agent",   "defaults",     "pipeline",
                                         "domains", "domains_file", "checks",
                                         "sinks",   "sources",      "catalog"};
constexpr std::string_view agent_keys[] = {
    "id", "location", "max_in_flight", "max_in_flight_per_plugin", "state_dir", "http"};
constexpr std::string_view defaults_keys[] = {"interval", "timeout", "alert"};
constexpr std::string_view pipeline_keys[] = {"queue_size", "batch_size", "batch_delay",
                                              "shutdown_timeout", "sink_timeout"};
constexpr std::string_view check_keys[] = {"name",    "plugin",  "target", "interval",
                                           "timeout", "options", "alert",  "group"};
constexpr std::string_view section_keys[] = {"plugin", "options"};
constexpr std::string_view sink_keys[] = {"name", "plugin", "options"};

constexpr const char* default_check_plugin = "http_check";
constexpr const char* default_sink_plugin = "stdout_sink";

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

bool is_plugin_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

class loader {
 public:
  loader(std::string file, std::filesystem::path base_dir, const load_limits& limits)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), limits_(limits) {}

  agent load(const YAML::Node& root) {
    agent a;
    a.file = file_;
    a.limits = limits_;
    std::unordered_map<std::string, detail::entry> top;
    for (auto& e : detail::mapping_entries(file_, root, "", top_keys)) {
      if (!e.value.IsNull()) top.emplace(e.key, std::move(e));
    }
    const auto find = [&](const char* key) -> const detail::entry* {
      const auto it = top.find(key);
      return it == top.end() ? nullptr : &it->second;
    };
    if (const auto* e = find("agent")) read_agent(*e, a);
    if (a.id.empty()) {
      a.id = host_name();
      if (a.id.empty()) {
        fail({file_, 1, 1}, "cannot get the host name for the default agent.id; set agent.id");
      }
    }
    if (const auto* e = find("defaults")) read_defaults(*e, a);
    if (const auto* e = find("pipeline")) read_pipeline(*e, a);
    if (const auto* e = find("domains")) read_domains(*e, a);
    if (const auto* e = find("domains_file")) read_domains_file(*e, a);
    if (const auto* e = find("checks")) read_checks(*e, a);
    if (const auto* e = find("sinks")) a.sinks = read_sections(*e, true);
    if (a.sinks.empty()) {
      const location where = find("sinks") ? at(file_, find("sinks")->key_node) : location{file_};
      a.sinks.push_back({default_sink_plugin, raw_options(nullptr, where), where, {}, where});
    }
    detail::name_sinks(a.sinks);
    detail::check_notify(a);
    if (const auto* e = find("sources")) a.sources = read_sections(*e, false);
    if (const auto* e = find("catalog")) a.catalog = read_section(e->value, "catalog", false);
    if (!state_dir_given_) a.state_dir = detail::default_state_dir();
    return a;
  }

 private:
  [[noreturn]] void fail_at(const YAML::Node& node, const std::string& message) const {
    fail(at(file_, node), message);
  }

  std::string string_value(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail_at(node, path + ": expected a string, got " + describe(node));
    return node.Scalar();
  }

  // A non-empty string without control characters (names, ids, targets).
  std::string name_value(const YAML::Node& node, const std::string& path) const {
    std::string text = string_value(node, path);
    if (text.empty()) fail_at(node, path + ": must not be empty");
    if (has_control_character(text)) {
      fail_at(node, path + ": " + quote(text) + " contains a control character");
    }
    return text;
  }

  std::string plugin_value(const YAML::Node& node, const std::string& path) const {
    std::string name = string_value(node, path);
    if (!is_plugin_name(name)) {
      fail_at(node, path + ": " + quote(name) +
                        " is not a plugin name (lowercase letters, digits and '_', e.g. " +
                        default_check_plugin + ")");
    }
    return name;
  }

  // Timeouts and delays are at most a day, intervals at most 30 days: beyond that a typo
  // (1000000d) would overflow the deadlines computed from them.
  static constexpr int64_t max_timeout_ms = 86'400'000;
  static constexpr int64_t max_interval_ms = 30 * max_timeout_ms;

  // A duration that fails to parse only because its numbers are too big ("9999999999999d").
  static bool overflows(std::string_view text) {
    std::string small;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const bool digit = text[i] >= '0' && text[i] <= '9';
      if (!digit) small += text[i];
      if (digit && (i == 0 || text[i - 1] < '0' || text[i - 1] > '9')) small += '1';
    }
    return parse_duration_ms(small).has_value();
  }

  int64_t duration_value(const YAML::Node& node, const std::string& path, int64_t max_ms,
                         bool positive = true) const {
    const std::string text = string_value(node, path);
    const auto ms = parse_duration_ms(text);
    if (!ms && !overflows(text)) fail_at(node, path + ": " + detail::duration_expected(text));
    if (ms && positive && *ms <= 0) {
      fail_at(node, path + ": must be greater than 0, got " + quote(text));
    }
    if (!ms || *ms > max_ms) {
      fail_at(node, path + ": " + quote(text) + " is too long (at most " +
                        (max_ms == max_timeout_ms ? "1d" : "30d") + ")");
    }
    return *ms;
  }

  int64_t positive_integer(const YAML::Node& node, const std::string& path, int64_t max) const {
    const std::string text = string_value(node, path);
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    const auto value = detail::parse_int64(text);
    if (!digits || !value || *value <= 0) {
      fail_at(node, path + ": expected a positive integer, got " + quote(text));
    }
    if (*value > max) {
      fail_at(node, path + ": " + text + " is too large (at most " + std::to_string(max) + ")");
    }
    return *value;
  }

  void read_agent(const detail::entry& section, agent& a) {
    for (const auto& e : detail::mapping_entries(file_, section.value, "agent", agent_keys)) {
      if (e.value.IsNull()) continue;
      const std::string path = "agent." + e.key;
      if (e.key == "id") {
        a.id = name_value(e.value, path);
      } else if (e.key == "location") {
        a.location = string_value(e.value, path);
        if (has_control_character(a.location)) {
          fail_at(e.value, path + ": " + quote(a.location) + " contains a control character");
        }
      } else if (e.key == "max_in_flight") {
        a.max_in_flight = static_cast<int>(positive_integer(e.value, path, INT_MAX));
      } else if (e.key == "state_dir") {
        a.state_dir = name_value(e.value, path);
        if (a.state_dir.front() != '/')
          fail_at(e.value, path + ": expected an absolute path, got " + quote(a.state_dir));
        state_dir_given_ = true;
      } else if (e.key == "http") {
        detail::read_http(file_, e.value, path, a.http);
      } else if (e.key == "max_in_flight_per_plugin") {
        for (const auto& p : detail::mapping_entries(file_, e.value, path, {})) {
          const std::string name = plugin_value(p.key_node, path);
          a.max_in_flight_per_plugin[name] =
              static_cast<int>(positive_integer(p.value, path + "." + name, INT_MAX));
        }
      }
    }
  }

  void read_defaults(const detail::entry& section, agent& a) {
    for (const auto& e : detail::mapping_entries(file_, section.value, "defaults", defaults_keys)) {
      if (e.value.IsNull()) continue;
      if (e.key == "alert") {
        detail::read_alert(file_, e.value, "defaults.alert", a.alert, default_notify_at_);
        continue;
      }
      const int64_t ms = duration_value(e.value, "defaults." + e.key,
                                        e.key == "interval" ? max_interval_ms : max_timeout_ms);
      (e.key == "interval" ? a.interval_ms : a.timeout_ms) = ms;
    }
  }

  void read_pipeline(const detail::entry& section, agent& a) const {
    constexpr int64_t max_size = std::numeric_limits<int32_t>::max();
    const YAML::Node* batch_size_node = nullptr;
    const YAML::Node* queue_size_node = nullptr;
    const auto entries = detail::mapping_entries(file_, section.value, "pipeline", pipeline_keys);
    for (const auto& e : entries) {
      if (e.value.IsNull()) continue;
      const std::string path = "pipeline." + e.key;
      if (e.key == "queue_size") {
        a.queue_size = static_cast<std::size_t>(positive_integer(e.value, path, max_size));
        queue_size_node = &e.value;
      } else if (e.key == "batch_size") {
        a.batch_size = static_cast<std::size_t>(positive_integer(e.value, path, max_size));
        batch_size_node = &e.value;
      } else if (e.key == "batch_delay") {
        a.batch_delay_ms = duration_value(e.value, path, max_timeout_ms, false);
      } else if (e.key == "shutdown_timeout") {
        a.shutdown_timeout_ms = duration_value(e.value, path, max_timeout_ms);
      } else if (e.key == "sink_timeout") {
        a.sink_timeout_ms = duration_value(e.value, path, max_timeout_ms);
      }
    }
    if (a.batch_size > a.queue_size) {
      const std::string message = "pipeline.batch_size (" + std::to_string(a.batch_size) +
                                  ") must not exceed pipeline.queue_size (" +
                                  std::to_string(a.queue_size) + ")";
      // At least one was given (the defaults fit); the section itself otherwise.
      fail_at(batch_size_node   ? *batch_size_node
              : queue_size_node ? *queue_size_node
                                : section.value,
              message);
    }
  }

  void add_check(agent& a, check c) {
    const auto [it, inserted] = check_names_.emplace(c.name, c.where);
    if (!inserted) {
      fail(c.where,
           "duplicate check name " + quote(c.name) + " (first at " + to_string(it->second) + ")");
    }
    a.checks.push_back(std::move(c));
  }

  check domain_check(const agent& a, const std::string& entry, const location& where,
                     const std::string& path) const {
    std::string why;
    auto target = detail::domain_target(entry, why);
    if (!target) fail(where, path + ": " + why);
    check c;
    c.name = without_userinfo(entry);
    c.plugin = default_check_plugin;
    c.shown_target = redact_userinfo(*target);
    c.target = std::move(*target);
    c.interval_ms = a.interval_ms;
    c.timeout_ms = a.timeout_ms;
    c.options = raw_options(nullptr, where);
    c.where = where;
    c.alert = a.alert;
    c.notify_at = default_notify_at_;
    return c;
  }

  void read_domains(const detail::entry& section, agent& a) {
    if (!section.value.IsSequence()) {
      fail_at(section.value,
              "domains: expected a sequence of domains or URLs, got " + describe(section.value));
    }
    std::size_t index = 0;
    for (const auto& item : section.value) {
      const std::string path = "domains[" + std::to_string(index++) + "]";
      if (item.IsNull()) fail_at(item, path + ": empty entry");
      if (!item.IsScalar()) {
        fail_at(item, path + ": expected a domain or URL, got " + describe(item));
      }
      const location where = at(file_, item);
      add_check(a, domain_check(a, item.Scalar(), where, path));
    }
  }

  void read_domains_file(const detail::entry& e, agent& a) {
    const std::filesystem::path given = string_value(e.value, "domains_file");
    if (given.empty()) fail_at(e.value, "domains_file: must not be empty");
    const std::string path = (given.is_absolute() ? given : base_dir_ / given).string();
    for (const auto& line :
         detail::read_domains_file(path, at(file_, e.key_node), limits_.max_file_bytes)) {
      add_check(a, domain_check(a, line.text, line.where, "domains_file"));
    }
  }

  raw_options options_value(const detail::entry& e, const std::string& path) const {
    if (!e.value.IsMap()) {
      fail_at(e.value, path + ": expected a mapping of options, got " + describe(e.value));
    }
    return raw_options(std::make_shared<const YAML::Node>(e.value), at(file_, e.value));
  }

  void read_checks(const detail::entry& section, agent& a) {
    if (!section.value.IsSequence()) {
      fail_at(section.value,
              "checks: expected a sequence of checks, got " + describe(section.value));
    }
    std::size_t index = 0;
    for (const auto& item : section.value) {
      const std::string path = "checks[" + std::to_string(index++) + "]";
      add_check(a, read_check(item, path, a));
    }
  }

  // One `checks:` item (or a catalog value). Defaults come from `a`.
 public:
  check read_check(const YAML::Node& item, const std::string& path, const agent& a) const {
    {
      if (!item.IsMap()) {
        fail_at(item, path + ": expected a mapping with target (and name, plugin, interval, " +
                          "timeout, options), got " + describe(item));
      }
      check c;
      c.where = at(file_, item);
      c.plugin = default_check_plugin;
      c.interval_ms = a.interval_ms;
      c.timeout_ms = a.timeout_ms;
      c.options = raw_options(nullptr, c.where);
      c.alert = a.alert;
      c.notify_at = default_notify_at_;
      bool has_target = false;
      for (const auto& e : detail::mapping_entries(file_, item, path, check_keys)) {
        if (e.value.IsNull()) continue;
        const std::string key_path = path + "." + e.key;
        if (e.key == "name") {
          c.name = name_value(e.value, key_path);
        } else if (e.key == "plugin") {
          c.plugin = plugin_value(e.value, key_path);
        } else if (e.key == "target") {
          c.target = name_value(e.value, key_path);
          has_target = true;
        } else if (e.key == "interval") {
          c.interval_ms = duration_value(e.value, key_path, max_interval_ms);
        } else if (e.key == "timeout") {
          c.timeout_ms = duration_value(e.value, key_path, max_timeout_ms);
        } else if (e.key == "options") {
          c.options = options_value(e, key_path);
        } else if (e.key == "alert") {
          detail::read_alert(file_, e.value, key_path, c.alert, c.notify_at);
        } else if (e.key == "group") {
          c.group = name_value(e.value, key_path);
          if (c.group.size() > 128) fail_at(e.value, key_path + ": longer than 128 characters");
        }
      }
      if (!has_target) fail(c.where, path + ": missing required key 'target'");
      if (c.name.empty()) c.name = without_userinfo(c.target);
      c.shown_target = redact_userinfo(c.target);
      return c;
    }
  }

  // `named`: sinks, which take a `name:`.
 private:
  std::vector<plugin_section> read_sections(const detail::entry& section, bool named) const {
    const std::string& name = section.key;
    if (!section.value.IsSequence()) {
      fail_at(section.value,
              name + ": expected a sequence of {plugin, options}, got " + describe(section.value));
    }
    std::vector<plugin_section> out;
    std::size_t index = 0;
    for (const auto& item : section.value)
      out.push_back(read_section(item, name + "[" + std::to_string(index++) + "]", named));
    return out;
  }

  plugin_section read_section(const YAML::Node& item, const std::string& path, bool named) const {
    {
      if (!item.IsMap()) {
        fail_at(item,
                path + ": expected a mapping with plugin (and options), got " + describe(item));
      }
      plugin_section s;
      s.where = at(file_, item);
      s.options = raw_options(nullptr, s.where);
      const auto keys = named ? std::span<const std::string_view>(sink_keys)
                              : std::span<const std::string_view>(section_keys);
      for (const auto& e : detail::mapping_entries(file_, item, path, keys)) {
        if (e.value.IsNull()) continue;
        if (e.key == "name") {
          s.name = string_value(e.value, path + ".name");
          if (!detail::is_sink_name(s.name))
            fail_at(e.value,
                    path + ".name: expected a sink name ([a-z0-9_-]+), got " + quote(s.name));
          s.name_where = at(file_, e.value);
        } else if (e.key == "plugin") {
          s.plugin = plugin_value(e.value, path + ".plugin");
        } else if (e.key == "options") {
          s.options = options_value(e, path + ".options");
        }
      }
      if (s.plugin.empty()) fail(s.where, path + ": missing required key 'plugin'");
      return s;
    }
  }

  std::string file_;
  std::filesystem::path base_dir_;
  load_limits limits_;
  std::unordered_map<std::string, location> check_names_;
  std::vector<location> default_notify_at_;  // defaults.alert.notify
  bool state_dir_given_ = false;
};

// The text for the YAML parser, handed out 64 KiB at a time: a cancel ends it early, so a
// big file stops parsing within a chunk.
class cancellable_input : public std::streambuf {
 public:
  cancellable_input(const std::string& text, const std::atomic<bool>* cancel)
      : text_(text), cancel_(cancel) {}

 protected:
  int_type underflow() override {
    if (next_ >= text_.size() || (cancel_ != nullptr && cancel_->load())) {
      return traits_type::eof();
    }
    const std::size_t n = std::min<std::size_t>(65536, text_.size() - next_);
    char* begin = const_cast<char*>(text_.data()) + next_;  // read only: the get area
    setg(begin, begin, begin + n);
    next_ += n;
    return traits_type::to_int_type(*begin);
  }

 private:
  const std::string& text_;
  const std::atomic<bool>* cancel_;
  std::size_t next_ = 0;
};

}  // namespace

// Document starts seen by a parse that builds no nodes: enough to tell whether the text holds a
// second document, and where.
class document_marks : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Whether text after the first document could hold another one. A block mapping (every real
// config) can only be followed by a document marker line; text after a flow collection or a
// bare scalar is what yaml-cpp 0.7's LoadAll loops on forever (a config of just "," or
// "{a: 1}, b"), so those are always looked at.
bool may_hold_more_documents(const std::string& text, const YAML::Node& root) {
  if (!root.IsMap() || root.Style() == YAML::EmitterStyle::Flow) return true;
  bool content_seen = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    const bool marker = (line.starts_with("---") || line.starts_with("...")) &&
                        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker && content_seen) return true;
    if (!line.empty() && line[0] != '#' && line[0] != '\r') content_seen = true;
  }
  return false;
}

// Refuses a second document, or text after the first that yaml-cpp would turn into endless empty
// documents. Parses again without building nodes, so only when may_hold_more_documents().
void refuse_more_documents(const std::string& text, const std::string& file,
                           const std::atomic<bool>* cancel) {
  cancellable_input input(text, cancel);
  std::istream in(&input);
  YAML::Parser parser(in);
  document_marks marks;
  while (parser.HandleNextDocument(marks)) {
    const std::size_t n = marks.starts.size();
    if (n >= 2 && marks.starts[n - 1].pos == marks.starts[n - 2].pos)
      fail(at(file, marks.starts[n - 1]),
           "YAML syntax error: unexpected text after the document (one YAML document expected)");
    if (cancel != nullptr && cancel->load()) return;
  }
  if (marks.starts.size() > 1)
    fail(at(file, marks.starts[1]), "expected one YAML document, found " +
                                        std::to_string(marks.starts.size()) +
                                        " (remove the '---' separators)");
}

check detail::read_check_entry(const YAML::Node& item, const std::string& file,
                               const agent& running) {
  return loader(file, {}, running.limits).read_check(item, "check", running);
}

agent load_string(const std::string& text, const std::string& file, const load_limits& limits) {
  const auto cancelled = [&] { return limits.cancel != nullptr && limits.cancel->load(); };
  // YAML::Load, not LoadAll: LoadAll never returns on some malformed texts (see
  // may_hold_more_documents), and one parse of a big config is what start-up costs.
  YAML::Node root;
  try {
    cancellable_input input(text, limits.cancel);
    std::istream in(&input);
    root = YAML::Load(in);
    if (!cancelled() && may_hold_more_documents(text, root))
      refuse_more_documents(text, file, limits.cancel);
  } catch (const YAML::Exception& e) {
    if (cancelled()) fail({file}, "loading was cancelled");
    fail(at(file, e.mark), "YAML syntax error: " + e.msg);
  }
  if (cancelled()) fail({file}, "loading was cancelled");
  if (root.IsNull()) {
    fail({file, 1, 1},
         "the config is empty; expected a mapping with some of: " + detail::join(top_keys));
  }
  if (!root.IsMap()) {
    fail(at(file, root), "expected a mapping at the top level with some of: " +
                             detail::join(top_keys) + "; got " + describe(root));
  }
  detail::substitute_tree(file, root, 1'000'000 + 2 * text.size());
  return loader(file, std::filesystem::path(file).parent_path(), limits).load(root);
}

agent load_file(const std::string& path, const load_limits& limits) {
  std::string why;
  auto text = detail::read_bounded_file(path, limits.max_file_bytes, why);
  if (!text) fail({path}, "cannot read the config file: " + why);
  return load_string(*text, path, limits);
}

}  // namespace isitup::config
