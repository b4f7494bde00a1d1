#include "options.hpp"

#include <isitup/duration.hpp>

#include <limits>

namespace isitup {

std::string_view to_string(option_type t) {
  switch (t) {
    case option_type::string:
      return "string";
    case option_type::integer:
      return "int";
    case option_type::number:
      return "float";
    case option_type::boolean:
      return "bool";
    case option_type::duration:
      return "duration";
    case option_type::list:
      return "list";
    case option_type::map:
      return "map";
  }
  return "unknown";
}

const option_value* option_values::find(std::string_view name) const {
  for (const auto& [key, value] : items_) {
    if (key == name) return &value;
  }
  return nullptr;
}

option_value& option_values::set(const std::string& name, option_value v) {
  for (auto& [key, value] : items_) {
    if (key == name) {
      value = std::move(v);
      return value;
    }
  }
  items_.emplace_back(name, std::move(v));
  return items_.back().second;
}

std::optional<int64_t> parse_duration_ms(std::string_view text) {
  return sdk::parse_duration_ms(text);
}

}  // namespace isitup
