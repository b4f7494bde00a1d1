// A plugin's declared options (isitup_option_v1, plugin.h) as the agent's option_schema, for a
// plugin's tests that validate its example config with the agent's own config reader
// (config::validate_options). An unknown type code reads as a string here; the agent refuses
// such a plugin when it loads it (core/plugin_host.cpp). Header-only; needs isitup_config.
#pragma once

#include <isitup/plugin.h>

#include <cstddef>
#include <vector>

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

}  // namespace isitup::test
