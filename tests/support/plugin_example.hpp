// A plugin's example config as the agent reads it, for the plugin's own tests that check the
// example loads and shows every declared option: the agent's config reader (core/config.hpp,
// core/options.hpp) behind plain data, so a plugin's test includes no header of the core. Pure
// functions of the file or text they read, any thread.
#pragma once

#include <isitup/plugin.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace isitup::test {

// Which of a config's lists a plugin's sections are in.
enum class section_kind { check, sink, source };

// The plugin under test: its name, the kind of its sections to validate, and its declared
// options (from its ops; they must outlive the read).
struct declared_options {
  std::string plugin;
  section_kind kind = section_kind::check;
  const isitup_option_v1* options = nullptr;
  size_t count = 0;
};

inline declared_options declared_by(std::string plugin, const isitup_check_ops_v1& ops) {
  return {std::move(plugin), section_kind::check, ops.options, ops.option_count};
}
inline declared_options declared_by(std::string plugin, const isitup_sink_ops_v1& ops) {
  return {std::move(plugin), section_kind::sink, ops.options, ops.option_count};
}
inline declared_options declared_by(std::string plugin, const isitup_source_ops_v1& ops) {
  return {std::move(plugin), section_kind::source, ops.options, ops.option_count};
}

// One declared option as a section gives it, the declared default applied where it does not.
struct shown_option {
  std::string name;
  bool is_set = false;                      // given in the section (not a default)
  std::string text;                         // its scalar text, given or defaulted
  std::optional<std::string> default_yaml;  // the declared default's YAML text
  bool is_map = false;                      // a map: `text` says nothing of its entries
};

// A check, sink or source of the config. `options` holds every declared option, in declared
// order, for the sections of the plugin under test (of its kind) and nothing for the others.
struct example_section {
  std::string plugin;
  std::string name;                   // a check's or a sink's; empty for a source
  std::vector<std::string> notify;    // a check's alert.notify: sink names
  std::vector<shown_option> options;  // see above
};

struct example_config {
  std::vector<example_section> checks, sinks, sources;
};

// Loads the config at `path` with the agent's reader (config::load_file) and validates the
// options of each of the plugin's sections against its declared options by the agent's rules
// (config::validate_options). A config the agent refuses throws the agent's error (a
// std::runtime_error, what() "file:line:col: message").
example_config read_example_file(const std::string& path, const declared_options& declared);

// The same from `yaml` (config::load_string); `file` names it in errors.
example_config read_example_text(const std::string& yaml, const std::string& file,
                                 const declared_options& declared);

// The sections of `plugin`, in config order.
std::vector<const example_section*> sections_of(const std::vector<example_section>& sections,
                                                const std::string& plugin);

// The declared options that no section of the plugin under test gives, in declared order
// (every declared option when it has no section).
std::vector<std::string> options_not_shown(const std::vector<example_section>& sections,
                                           const declared_options& declared);

}  // namespace isitup::test
