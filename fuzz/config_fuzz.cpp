// Fuzz target: the config loader (YAML, ${VAR} substitution, every agent, check and plugin
// section) and option validation, on any text. Each check's, sink's and source's options are
// validated against a schema with every option type (http_check's options and defaults).
// Promises checked: bad input is a config_error naming a place, never another exception; a
// loaded config has unique non-empty check names, positive intervals and timeouts and a batch
// no larger than the queue.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <isitup/core/config.hpp>
#include "fuzz_check.hpp"

namespace {

using isitup::option_schema;
using isitup::option_type;
using isitup::fuzz::require;
namespace config = isitup::config;

const std::vector<option_schema>& schema() {
  static const std::vector<option_schema> s = {
      {"method", option_type::string, false, "GET", ""},
      {"headers", option_type::map, false, "{}", ""},
      {"body", option_type::string, false, std::nullopt, ""},
      {"expect_status", option_type::list, false, "[\"200-399\"]", ""},
      {"follow_redirects", option_type::boolean, false, "false", ""},
      {"max_redirects", option_type::integer, false, "10", ""},
      {"connect_timeout", option_type::duration, false, "0s", ""},
      {"max_body_bytes", option_type::integer, false, "1048576", ""},
      {"ratio", option_type::number, false, "0.5", ""},
      {"user_agent", option_type::string, false, "isitup/0.1 (http_check)", ""},
      {"url", option_type::string, true, std::nullopt, ""},
  };
  return s;
}

void validate(const config::raw_options& raw, const std::string& section) {
  for (const bool given_only : {false, true}) {
    try {
      if (given_only) {
        config::validate_given_options(raw, schema(), section);
      } else {
        config::validate_options(raw, schema(), section);
      }
    } catch (const config::config_error& e) {
      require(!e.message().empty(), "an option error says what is wrong");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  config::agent a;
  try {
    a = config::load_string(text, "fuzz.yml");
  } catch (const config::config_error& e) {
    require(!e.message().empty() && !e.where().file.empty(),
            "a config error names its file and says what is wrong");
    return 0;
  }
  std::set<std::string> names;
  for (const auto& c : a.checks) {
    require(!c.name.empty() && names.insert(c.name).second, "check names are unique, not empty");
    require(c.interval_ms > 0 && c.timeout_ms > 0, "intervals and timeouts are positive");
    require(!c.plugin.empty() && !c.target.empty(), "a check has a plugin and a target");
    validate(c.options, "checks (" + c.plugin + ") options");
  }
  require(a.batch_size >= 1 && a.batch_size <= a.queue_size, "a batch fits in the queue");
  require(!a.sinks.empty(), "a config has a sink");
  for (const auto& s : a.sinks) validate(s.options, "sinks (" + s.plugin + ") options");
  for (const auto& s : a.sources) validate(s.options, "sources (" + s.plugin + ") options");
  return 0;
}
