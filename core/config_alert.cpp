// The `alert:` sections (defaults.alert and a check's alert), sink names and the check of
// `notify` names against them.
#include <algorithm>
#include <cstdlib>
#include <map>

#include "config_internal.hpp"

namespace isitup::config::detail {

namespace {

constexpr std::string_view alert_keys[] = {"failure_threshold",
                                           "success_threshold",
                                           "quorum",
                                           "renotify",
                                           "notify",
                                           "location_ttl",
                                           "enabled"};
constexpr int64_t max_threshold = 1000;

[[noreturn]] void fail_at(const std::string& file, const YAML::Node& node,
                          const std::string& message) {
  fail(at(file, node), message);
}

std::string scalar(const std::string& file, const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail_at(file, node, path + ": expected a scalar, got " + describe(node));
  return node.Scalar();
}

int64_t bounded_count(const std::string& file, const YAML::Node& node, const std::string& path) {
  const std::string text = scalar(file, node, path);
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  const auto value = parse_int64(text);
  if (!digits || !value || *value < 1 || *value > max_threshold)
    fail_at(file, node,
            path + ": expected an integer from 1 to " + std::to_string(max_threshold) + ", got " +
                quote(text));
  return *value;
}

}  // namespace

bool is_sink_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

void read_alert(const std::string& file, const YAML::Node& node, const std::string& path,
                alert_settings& out, std::vector<location>& notify_at) {
  for (const auto& e : mapping_entries(file, node, path, alert_keys)) {
    if (e.value.IsNull()) continue;
    const std::string key_path = path + "." + e.key;
    if (e.key == "failure_threshold") {
      out.failure_threshold = static_cast<int>(bounded_count(file, e.value, key_path));
    } else if (e.key == "success_threshold") {
      out.success_threshold = static_cast<int>(bounded_count(file, e.value, key_path));
    } else if (e.key == "quorum") {
      const std::string text = scalar(file, e.value, key_path);
      if (text == "majority") {
        out.rule = alert_settings::quorum_rule::majority;
      } else if (text == "all") {
        out.rule = alert_settings::quorum_rule::all;
      } else {
        const auto n = parse_int64(text);
        if (!n || *n < 1 || *n > max_threshold)
          fail_at(file, e.value,
                  key_path + ": expected a number of locations (1 to " +
                      std::to_string(max_threshold) + "), 'majority' or 'all', got " + quote(text));
        out.rule = alert_settings::quorum_rule::count;
        out.quorum = static_cast<int>(*n);
      }
    } else if (e.key == "renotify") {
      const std::string text = scalar(file, e.value, key_path);
      const auto ms = parse_duration_ms(text);
      if (!ms || *ms < 0) fail_at(file, e.value, key_path + ": " + duration_expected(text));
      out.renotify_ms = *ms;
    } else if (e.key == "enabled") {
      const std::string text = scalar(file, e.value, key_path);
      const auto v = parse_bool(text);
      if (!v) fail_at(file, e.value, key_path + ": expected true or false, got " + quote(text));
      out.enabled = *v;
    } else if (e.key == "location_ttl") {
      const std::string text = scalar(file, e.value, key_path);
      const auto ms = parse_duration_ms(text);
      if (!ms || *ms < 0) fail_at(file, e.value, key_path + ": " + duration_expected(text));
      out.location_ttl_ms = *ms;
    } else if (e.key == "notify") {
      if (!e.value.IsSequence())
        fail_at(file, e.value,
                key_path + ": expected a list of sink names, got " + describe(e.value));
      out.notify.clear();
      notify_at.clear();
      std::size_t i = 0;
      for (const auto& item : e.value) {
        const std::string item_path = key_path + "[" + std::to_string(i++) + "]";
        const std::string name = item.IsScalar() ? item.Scalar() : std::string();
        if (!is_sink_name(name))
          fail_at(file, item,
                  item_path + ": expected a sink name ([a-z0-9_-]+), got " +
                      (item.IsScalar() ? quote(name) : describe(item)));
        if (std::find(out.notify.begin(), out.notify.end(), name) != out.notify.end())
          fail_at(file, item, item_path + ": " + quote(name) + " is listed twice");
        out.notify.push_back(name);
        notify_at.push_back(at(file, item));
      }
    }
  }
}

void name_sinks(std::vector<plugin_section>& sinks) {
  std::map<std::string, location> taken;
  for (const plugin_section& s : sinks) {
    if (s.name.empty()) continue;
    const auto [it, fresh] = taken.emplace(s.name, s.name_where);
    if (!fresh)
      fail(s.name_where,
           "duplicate sink name " + quote(s.name) + " (first at " + to_string(it->second) + ")");
  }
  std::map<std::string, int> repeats;
  for (plugin_section& s : sinks) {
    const int n = ++repeats[s.plugin];
    if (!s.name.empty()) continue;
    s.name = n == 1 ? s.plugin : s.plugin + std::to_string(n);
    s.name_where = s.where;
    const auto [it, fresh] = taken.emplace(s.name, s.where);
    if (!fresh)
      fail(s.where, "this sink's default name " + quote(s.name) + " is taken (at " +
                        to_string(it->second) + "); give it a name:");
  }
}

void check_notify(const agent& a) {
  std::vector<std::string_view> names;
  for (const plugin_section& s : a.sinks) names.push_back(s.name);
  for (const check& c : a.checks) {
    for (std::size_t i = 0; i < c.alert.notify.size(); ++i) {
      const std::string& name = c.alert.notify[i];
      if (std::find(names.begin(), names.end(), name) != names.end()) continue;
      std::string known;
      for (std::string_view n : names) known += (known.empty() ? "" : ", ") + std::string(n);
      const location where = i < c.notify_at.size() ? c.notify_at[i] : c.where;
      fail(where, "check " + quote(c.name) + ": notify names no sink " + quote(name) +
                      suggestion(name, names) + " (sinks: " + known + ")");
    }
  }
}

std::string default_state_dir() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in the agent calls setenv or putenv
  const char* env = std::getenv("STATE_DIRECTORY");  // systemd's StateDirectory=
  if (!env || !*env) return "";
  const std::string_view all(env);
  return std::string(all.substr(0, all.find(':')));  // several directories: the first
}

}  // namespace isitup::config::detail
