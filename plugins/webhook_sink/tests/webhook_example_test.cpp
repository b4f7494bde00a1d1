// example.yml is a config the agent loads, naming every declared option with its default (the
// README's option table: tests/integration/plugin_docs_test.cpp, for every plugin).
#include <gtest/gtest.h>
#include <isitup/plugin.h>

#include <string>
#include <vector>

#include "plugin_example.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup {
namespace {

TEST(webhook_sink_example, loads_and_shows_every_option_with_its_default) {
  const std::string dir = std::string(ISITUP_SOURCE_DIR) + "/plugins/webhook_sink/";
  const test::example_config example = test::read_example_file(
      dir + "example.yml", test::declared_by("webhook_sink", *isitup_plugin_entry()->sink));
  const std::vector<const test::example_section*> sinks =
      test::sections_of(example.sinks, "webhook_sink");
  ASSERT_FALSE(sinks.empty());
  const test::example_section& ops = *sinks.back();
  EXPECT_EQ(ops.name, "ops");
  ASSERT_FALSE(example.checks.empty());
  EXPECT_EQ(example.checks[0].notify, std::vector<std::string>{"ops"});

  EXPECT_EQ(ops.options.size(), isitup_plugin_entry()->sink->option_count);
  for (const test::shown_option& o : ops.options) {
    EXPECT_TRUE(o.is_set) << o.name << " is not shown in example.yml";
    if (o.default_yaml && !o.is_map) {
      EXPECT_EQ(o.text, *o.default_yaml) << o.name << " is not shown with its default";
    }
  }
}

}  // namespace
}  // namespace isitup
