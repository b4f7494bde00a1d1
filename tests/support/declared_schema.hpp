// A plugin's declared options (isitup_option_v1, plugin.h) as the agent's option_schema, for a
// plugin's tests that validate its example config with the agent's own config reader
// (config::validate_options). An unknown type code reads as a string here; the agent refuses
// such a plugin when it loads it (core/plugin_host.cpp). Header-only; needs isitup_config.
#pragma once

#include <isitup/plugin.h>

#include <cstddef>
#include <string>
#include <vector>

#include "config.hpp"
#include "options.hpp"

namespace isitup::test {

inline std::vector<option_schema> declared_schema(const isitup_option_v1* options, size_t count) {
  std::vector<option_schema> schema;
  for (size_t i = 0; i < count; ++i) {
    option_schema s;
    s.name = options[i].name;
    s.type = option_type_of(options[i].type).value_or(option_type::string);
    s.required = options[i].required != 0;
    if (options[i].default_value) s.default_yaml = options[i].default_value;
    if (options[i].description) s.description = options[i].description;
    schema.push_back(s);
  }
  return schema;
}

// How a check plugin's example config shows its options: how many checks of `plugin` it has,
// and the declared options none of them sets (each check's options validated by the agent's
// own rules on the way).
struct example_coverage {
  int checks = 0;
  std::vector<std::string> not_shown;
};

inline example_coverage example_coverage_of(const config::agent& agent, const std::string& plugin,
                                            const isitup_check_ops_v1& ops) {
  const std::vector<option_schema> schema = declared_schema(ops.options, ops.option_count);
  std::vector<bool> shown(schema.size(), false);
  example_coverage out;
  for (const config::check& c : agent.checks) {
    if (c.plugin != plugin) continue;
    ++out.checks;
    const option_values values = config::validate_options(c.options, schema, c.name);
    for (size_t i = 0; i < schema.size(); ++i) {
      const option_value* v = values.find(schema[i].name);
      if (v && v->is_set) shown[i] = true;
    }
  }
  for (size_t i = 0; i < schema.size(); ++i)
    if (!shown[i]) out.not_shown.push_back(schema[i].name);
  return out;
}

}  // namespace isitup::test
