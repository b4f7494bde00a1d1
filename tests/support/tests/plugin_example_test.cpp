// plugin_example: a config read by the agent's reader, the plugin under test's sections
// validated against its declared options, the others only outlined.
#include "plugin_example.hpp"

#include <gtest/gtest.h>
#include <isitup/plugin.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace isitup::test {
namespace {

const isitup_option_v1 demo_options[] = {
    {sizeof(isitup_option_v1), "count", ISITUP_OPT_INT, 0, "1", "runs per check"},
    {sizeof(isitup_option_v1), "label", ISITUP_OPT_STRING, 0, nullptr, "a label"},
    {sizeof(isitup_option_v1), "headers", ISITUP_OPT_MAP, 0, "{}", "extra headers"},
};

const std::string config = R"(checks:
  - {name: a, plugin: demo_check, target: "x", options: {count: 3}}
  - {name: b, plugin: demo_check, target: "y", alert: {notify: [ops]}}
  - {name: c, plugin: other_check, target: "z", options: {not_declared_here: 1}}
sinks:
  - {plugin: stdout_sink}
  - {name: ops, plugin: demo_check, options: {label: x}}
)";

TEST(plugin_example, the_plugins_checks_show_their_options_and_the_rest_are_outlined) {
  const declared_options declared{"demo_check", section_kind::check, demo_options, 3};
  const example_config example = read_example_text(config, "demo.yml", declared);
  ASSERT_EQ(example.checks.size(), 3u);
  ASSERT_EQ(sections_of(example.checks, "demo_check").size(), 2u);
  EXPECT_EQ(example.checks[1].notify, std::vector<std::string>{"ops"});

  const std::vector<shown_option>& a = example.checks[0].options;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].name, "count");
  EXPECT_TRUE(a[0].is_set);
  EXPECT_EQ(a[0].text, "3");
  EXPECT_EQ(a[0].default_yaml, "1");
  EXPECT_FALSE(a[1].is_set);
  EXPECT_FALSE(a[1].default_yaml.has_value());
  EXPECT_TRUE(a[2].is_map);
  const std::vector<shown_option>& b = example.checks[1].options;
  ASSERT_EQ(b.size(), 3u);
  EXPECT_FALSE(b[0].is_set);
  EXPECT_EQ(b[0].text, "1");  // the default

  // Another plugin's check, and a sink of the same name (not a check), are not validated.
  EXPECT_TRUE(example.checks[2].options.empty());
  ASSERT_EQ(example.sinks.size(), 2u);
  EXPECT_EQ(example.sinks[1].name, "ops");
  EXPECT_TRUE(example.sinks[1].options.empty());

  EXPECT_EQ(options_not_shown(example.checks, declared),
            (std::vector<std::string>{"label", "headers"}));
  EXPECT_EQ(options_not_shown(example.sinks, declared),
            (std::vector<std::string>{"count", "label", "headers"}));
}

TEST(plugin_example, a_value_the_agent_refuses_throws_its_error_at_the_value) {
  const declared_options declared{"demo_check", section_kind::check, demo_options, 3};
  try {
    read_example_text("checks:\n  - {plugin: demo_check, target: x, options: {count: many}}\n",
                      "demo.yml", declared);
    ADD_FAILURE() << "a count of \"many\" was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("demo.yml:2:", 0), 0u) << what;
    EXPECT_NE(what.find("count"), std::string::npos) << what;
  }
  EXPECT_THROW(read_example_file("/nonexistent/demo.yml", declared), std::runtime_error);
}

}  // namespace
}  // namespace isitup::test
