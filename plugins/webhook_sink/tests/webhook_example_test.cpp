// example.yml is a config the agent loads, naming every declared option with its default, and
// the README's option table lists every declared option.
#include <gtest/gtest.h>
#include <isitup/plugin.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup {
namespace {

option_type type_of(uint32_t t) {
  switch (t) {
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
      return option_type::string;
  }
}

std::vector<option_schema> declared() {
  const isitup_sink_ops_v1* ops = isitup_plugin_entry()->sink;
  std::vector<option_schema> schema;
  for (size_t i = 0; i < ops->option_count; ++i) {
    option_schema s;
    s.name = ops->options[i].name;
    s.type = type_of(ops->options[i].type);
    s.required = ops->options[i].required != 0;
    if (ops->options[i].default_value) s.default_yaml = ops->options[i].default_value;
    schema.push_back(s);
  }
  return schema;
}

TEST(webhook_sink_example, loads_and_shows_every_option_with_its_default) {
  const std::string dir = std::string(ISITUP_SOURCE_DIR) + "/plugins/webhook_sink/";
  const config::agent agent = config::load_file(dir + "example.yml");
  const config::plugin_section* ops = nullptr;
  for (const auto& s : agent.sinks)
    if (s.plugin == "webhook_sink") ops = &s;
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(ops->name, "ops");
  ASSERT_FALSE(agent.checks.empty());
  EXPECT_EQ(agent.checks[0].alert.notify, std::vector<std::string>{"ops"});

  const std::vector<option_schema> schema = declared();
  const option_values values = config::validate_options(ops->options, schema, "webhook_sink");
  for (const option_schema& s : schema) {
    const option_value* v = values.find(s.name);
    ASSERT_NE(v, nullptr) << s.name;
    EXPECT_TRUE(v->is_set) << s.name << " is not shown in example.yml";
    if (s.default_yaml && s.type != option_type::map) {
      EXPECT_EQ(v->text, *s.default_yaml) << s.name << " is not shown with its default";
    }
  }
}

TEST(webhook_sink_example, readme_lists_every_option) {
  std::ifstream in(std::string(ISITUP_SOURCE_DIR) + "/plugins/webhook_sink/README.md");
  std::stringstream text;
  text << in.rdbuf();
  for (const option_schema& s : declared())
    EXPECT_NE(text.str().find("| `" + s.name + "` |"), std::string::npos)
        << s.name << " is not in the README's option table";
}

}  // namespace
}  // namespace isitup
