#include <isitup/core/options.hpp>

#include <isitup/plugin.h>
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

std::optional<option_type> option_type_of(uint32_t abi_type) {
  switch (abi_type) {
    case ISITUP_OPT_STRING:
      return option_type::string;
    case ISITUP_OPT_INT:
      return option_type::integer;
    case ISITUP_OPT_FLOAT:
      return option_type::number;
    case ISITUP_OPT_BOOL:
      return option_type::boolean;
    case ISITUP_OPT_DURATION:
      return option_type::duration;
    case ISITUP_OPT_LIST:
      return option_type::list;
    case ISITUP_OPT_MAP:
      return option_type::map;
    default:
      return std::nullopt;
  }
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
