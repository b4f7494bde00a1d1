#include "plugin_example.hpp"

#include <algorithm>

#include <isitup/core/config.hpp>
#include <isitup/core/options.hpp>

namespace isitup::test {
namespace {

// The agent's schema of the declared options; an unknown type code reads as a string here (the
// agent refuses such a plugin when it loads it: core/plugin_host.cpp).
std::vector<option_schema> schema_of(const declared_options& declared) {
  std::vector<option_schema> schema;
  for (size_t i = 0; i < declared.count; ++i) {
    const isitup_option_v1& o = declared.options[i];
    option_schema s;
    s.name = o.name;
    s.type = option_type_of(o.type).value_or(option_type::string);
    s.required = o.required != 0;
    if (o.default_value) s.default_yaml = o.default_value;
    if (o.description) s.description = o.description;
    schema.push_back(std::move(s));
  }
  return schema;
}

std::vector<shown_option> shown(const config::raw_options& raw,
                                const std::vector<option_schema>& schema,
                                const std::string& section) {
  const option_values values = config::validate_options(raw, schema, section);
  std::vector<shown_option> out;
  for (const option_schema& s : schema) {
    shown_option o;
    o.name = s.name;
    o.default_yaml = s.default_yaml;
    o.is_map = s.type == option_type::map;
    if (const option_value* v = values.find(s.name)) {
      o.is_set = v->is_set;
      o.text = v->text;
    }
    out.push_back(std::move(o));
  }
  return out;
}

example_config outline(const config::agent& agent, const declared_options& declared) {
  const std::vector<option_schema> schema = schema_of(declared);
  const auto ours = [&](const std::string& plugin, section_kind kind) {
    return plugin == declared.plugin && kind == declared.kind;
  };
  example_config out;
  for (size_t i = 0; i < agent.checks.size(); ++i) {
    const config::check& c = agent.checks[i];
    example_section s{c.plugin, c.name, c.alert.notify, {}};
    if (ours(c.plugin, section_kind::check))
      s.options =
          shown(c.options, schema, "checks[" + std::to_string(i) + "] (" + c.plugin + ") options");
    out.checks.push_back(std::move(s));
  }
  const auto sections = [&](const std::vector<config::plugin_section>& from, section_kind kind,
                            const char* list, std::vector<example_section>& to) {
    for (size_t i = 0; i < from.size(); ++i) {
      const config::plugin_section& p = from[i];
      example_section s{p.plugin, p.name, {}, {}};
      if (ours(p.plugin, kind))
        s.options =
            shown(p.options, schema,
                  std::string(list) + "[" + std::to_string(i) + "] (" + p.plugin + ") options");
      to.push_back(std::move(s));
    }
  };
  sections(agent.sinks, section_kind::sink, "sinks", out.sinks);
  sections(agent.sources, section_kind::source, "sources", out.sources);
  return out;
}

}  // namespace

example_config read_example_file(const std::string& path, const declared_options& declared) {
  return outline(config::load_file(path), declared);
}

example_config read_example_text(const std::string& yaml, const std::string& file,
                                 const declared_options& declared) {
  return outline(config::load_string(yaml, file), declared);
}

std::vector<const example_section*> sections_of(const std::vector<example_section>& sections,
                                                const std::string& plugin) {
  std::vector<const example_section*> out;
  for (const example_section& s : sections)
    if (s.plugin == plugin) out.push_back(&s);
  return out;
}

std::vector<std::string> options_not_shown(const std::vector<example_section>& sections,
                                           const declared_options& declared) {
  const std::vector<const example_section*> ours = sections_of(sections, declared.plugin);
  std::vector<std::string> out;
  for (size_t i = 0; i < declared.count; ++i) {
    const std::string name = declared.options[i].name;
    const bool given = std::any_of(ours.begin(), ours.end(), [&](const example_section* s) {
      return std::any_of(s->options.begin(), s->options.end(),
                         [&](const shown_option& o) { return o.name == name && o.is_set; });
    });
    if (!given) out.push_back(name);
  }
  return out;
}

}  // namespace isitup::test
