// example.yml is a config the agent loads, naming every declared option with its default (the
// README's option table: tests/integration/plugin_docs_test.cpp, for every plugin).
#include <gtest/gtest.h>
#include <isitup/plugin.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "declared_schema.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup {
namespace {

std::vector<option_schema> declared() {
  const isitup_sink_ops_v1* ops = isitup_plugin_entry()->sink;
  return test::declared_schema(ops->options, ops->option_count);
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

}  // namespace
}  // namespace isitup
