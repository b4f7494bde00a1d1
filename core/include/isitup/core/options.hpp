// Declared plugin options (schema) and their validated values.
// The config module validates a YAML section against a schema and produces option_values;
// the plugin host turns a plugin's isitup_option_v1 array into a schema and serves values to
// the plugin through the C accessors. Knows nothing of plugins or files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isitup {

enum class option_type { string, integer, number, boolean, duration, list, map };

// "string", "int", "float", "bool", "duration", "list", "map"
std::string_view to_string(option_type t);

// The type of a plugin's declared option from its ABI code (ISITUP_OPT_*, plugin.h); nullopt
// for a code this agent does not know.
std::optional<option_type> option_type_of(uint32_t abi_type);

struct option_schema {
  std::string name;
  option_type type = option_type::string;
  bool required = false;
  std::optional<std::string> default_yaml;  // YAML text of the default
  std::string description;
};

struct option_value {
  option_type type = option_type::string;
  bool is_set = false;     // given in the config (not a default)
  bool has_value = false;  // given, or defaulted
  std::string text;        // string; also the scalar text of every scalar type
  int64_t integer = 0;     // int; duration in milliseconds; bool as 0/1
  double number = 0;       // float
  std::vector<std::string> list;
  std::vector<std::pair<std::string, std::string>> map;  // in config order
};

// Values for one config section: one entry per declared option (defaults applied).
class option_values {
 public:
  // nullptr when `name` is not declared.
  const option_value* find(std::string_view name) const;
  option_value& set(const std::string& name, option_value v);
  const std::vector<std::pair<std::string, option_value>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, option_value>> items_;
};

// Parses "500ms", "30s", "5m", "1h", "1d" (also combined: "1m30s") into milliseconds.
// A bare integer is refused (ambiguous). Returns nullopt on bad input.
std::optional<int64_t> parse_duration_ms(std::string_view text);

}  // namespace isitup
