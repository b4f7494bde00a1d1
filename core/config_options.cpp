#include <algorithm>

#include "config_internal.hpp"

namespace isitup::config {

using detail::describe;
using detail::quote;

namespace {

// A value that does not fit its declared type: where (`node`) and why.
struct value_error {
  YAML::Node node;
  std::string message;
};

// The C ABI's number for a type: the SDK's option rules (isitup/option_text.hpp) take it.
uint32_t abi_type(option_type t) {
  switch (t) {
    case option_type::integer:
      return ISITUP_OPT_INT;
    case option_type::number:
      return ISITUP_OPT_FLOAT;
    case option_type::boolean:
      return ISITUP_OPT_BOOL;
    case option_type::duration:
      return ISITUP_OPT_DURATION;
    case option_type::list:
      return ISITUP_OPT_LIST;
    case option_type::map:
      return ISITUP_OPT_MAP;
    default:
      return ISITUP_OPT_STRING;
  }
}

std::string article(option_type t) { return sdk::option_type_expected(abi_type(t)); }

const std::string& scalar_of(const YAML::Node& node, option_type t) {
  if (!node.IsScalar())
    throw value_error{node, "expected " + article(t) + ", got " + describe(node)};
  return node.Scalar();
}

// Fills `v` (type, text, integer, number, list, map) from a non-null node. Throws value_error.
// Scalars follow the SDK's rules, which the fake host of plugin tests applies too.
void convert(const YAML::Node& node, option_type t, option_value& v) {
  v.type = t;
  switch (t) {
    case option_type::string:
      v.text = scalar_of(node, t);
      return;
    case option_type::integer:
    case option_type::number:
    case option_type::boolean:
    case option_type::duration: {
      v.text = scalar_of(node, t);
      std::string why = sdk::scalar_option_error(abi_type(t), v.text);
      if (!why.empty()) throw value_error{node, std::move(why)};
      if (t == option_type::integer) v.integer = *detail::parse_int64(v.text);
      if (t == option_type::number) v.number = *detail::parse_number(v.text);
      if (t == option_type::boolean) v.integer = *detail::parse_bool(v.text) ? 1 : 0;
      if (t == option_type::duration) v.integer = *parse_duration_ms(v.text);
      return;
    }
    case option_type::list:
      if (node.IsScalar()) {
        v.list.push_back(node.Scalar());
        return;
      }
      if (!node.IsSequence()) {
        throw value_error{node, "expected " + article(t) + ", got " + describe(node)};
      }
      for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        if (!item.IsScalar()) {
          throw value_error{
              item, "item " + std::to_string(i) + ": expected a scalar, got " + describe(item)};
        }
        v.list.push_back(item.Scalar());
      }
      return;
    case option_type::map:
      if (!node.IsMap()) {
        throw value_error{node, "expected " + article(t) + ", got " + describe(node)};
      }
      for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node key_node = it->first;
        const YAML::Node value = it->second;
        if (!key_node.IsScalar()) {
          throw value_error{key_node, "expected a name, got " + describe(key_node)};
        }
        const std::string& key = key_node.Scalar();
        const bool duplicate = std::any_of(v.map.begin(), v.map.end(),
                                           [&](const auto& kv) { return kv.first == key; });
        if (duplicate) throw value_error{key_node, "duplicate key " + quote(key)};
        if (!value.IsScalar()) {
          throw value_error{value.IsNull() ? key_node : value,
                            "value of " + quote(key) + ": expected a scalar, got " +
                                describe(value) +
                                (value.IsNull() ? " (write \"\" for empty)" : "")};
        }
        v.map.emplace_back(key, value.Scalar());
      }
      return;
  }
}

std::vector<std::string_view> names_of(const std::vector<option_schema>& schema) {
  std::vector<std::string_view> names;
  names.reserve(schema.size());
  for (const auto& s : schema) names.emplace_back(s.name);
  return names;
}

}  // namespace

namespace {

// Parses a plugin's default into v; a bad default is the plugin's fault, reported at `where`.
void apply_default(const option_schema& s, option_value& v, const location& where,
                   const std::string& section) {
  if (!s.default_yaml) return;
  const std::string bad_default = section + ": option " + quote(s.name) +
                                  ": the plugin's default " + quote(*s.default_yaml) +
                                  " is invalid: ";
  try {
    const YAML::Node node = YAML::Load(*s.default_yaml);
    if (!node.IsNull()) {
      convert(node, s.type, v);
      v.has_value = true;
    }
  } catch (const value_error& e) {
    detail::fail(where, bad_default + e.message);
  } catch (const YAML::Exception& e) {
    detail::fail(where, bad_default + e.msg);
  }
}

option_values validate(const raw_options& raw, const std::vector<option_schema>& schema,
                       const std::string& section, bool with_defaults) {
  const std::string& file = raw.where().file;
  std::vector<detail::entry> given;
  if (raw.node() != nullptr && !raw.node()->IsNull()) {
    const YAML::Node& node = *raw.node();
    if (!node.IsMap()) {
      detail::fail(detail::at(file, node),
                   section + ": expected a mapping of options, got " + describe(node));
    }
    given = detail::mapping_entries(file, node, section, {});
  }

  const std::vector<std::string_view> names = names_of(schema);
  for (const auto& e : given) {
    if (std::find(names.begin(), names.end(), e.key) != names.end()) continue;
    std::string message = section + ": unknown option " + quote(e.key);
    if (names.empty()) {
      message += "; this plugin takes no options";
    } else {
      message += detail::suggestion(e.key, names) + "; valid options: " + detail::join(names);
    }
    detail::fail(detail::at(file, e.key_node), message);
  }

  option_values values;
  for (const auto& s : schema) {
    const auto found = std::find_if(given.begin(), given.end(),
                                    [&](const detail::entry& e) { return e.key == s.name; });
    option_value v;
    v.type = s.type;
    if (found != given.end() && !found->value.IsNull()) {
      try {
        convert(found->value, s.type, v);
      } catch (const value_error& e) {
        detail::fail(detail::at(file, e.node),
                     section + ": option " + quote(s.name) + ": " + e.message);
      }
      v.is_set = v.has_value = true;
    } else if (s.required) {
      const location where = found != given.end() ? detail::at(file, found->key_node) : raw.where();
      std::string message = section + ": missing required option " + quote(s.name) + " (" +
                            std::string(to_string(s.type));
      if (!s.description.empty()) message += ": " + s.description;
      detail::fail(where, message + ")");
    } else if (with_defaults) {
      apply_default(s, v, raw.where(), section);
    }
    if (with_defaults || v.is_set) values.set(s.name, std::move(v));
  }
  return values;
}

}  // namespace

option_values validate_options(const raw_options& raw, const std::vector<option_schema>& schema,
                               const std::string& section) {
  return validate(raw, schema, section, true);
}

option_values validate_given_options(const raw_options& raw,
                                     const std::vector<option_schema>& schema,
                                     const std::string& section) {
  return validate(raw, schema, section, false);
}

option_values default_options(const std::vector<option_schema>& schema, const std::string& section,
                              const location& where) {
  option_values values;
  for (const auto& s : schema) {
    option_value v;
    v.type = s.type;
    if (!s.required) apply_default(s, v, where, section);
    values.set(s.name, std::move(v));
  }
  return values;
}

}  // namespace isitup::config
