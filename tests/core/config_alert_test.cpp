// The `alert:` settings (defaults and per check), sink names, notify and agent.state_dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isitup/core/config.hpp>

#include "scoped_env.hpp"

namespace isitup::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

agent load(const std::string& yaml) { return load_string(yaml, "t.yml"); }

std::string load_error(const std::string& yaml) {
  try {
    load(yaml);
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

class unset_state_directory : public ::testing::Test {
 protected:
  const test::scoped_env state_directory_{"STATE_DIRECTORY", std::nullopt};
};
using config_alert = unset_state_directory;

TEST_F(config_alert, defaults_without_any_alert_key) {
  const agent a = load("checks: [{target: 'https://a/'}]\n");
  const alert_settings& s = a.checks[0].alert;
  EXPECT_EQ(s.failure_threshold, 3);
  EXPECT_EQ(s.success_threshold, 2);
  EXPECT_EQ(s.rule, alert_settings::quorum_rule::count);
  EXPECT_EQ(s.quorum, 1);
  EXPECT_EQ(s.renotify_ms, 0);
  EXPECT_EQ(s.location_ttl_ms, 10 * 60 * 1000);
  EXPECT_TRUE(s.enabled);
  EXPECT_THAT(s.notify, IsEmpty());
  EXPECT_EQ(a.state_dir, "");
  ASSERT_EQ(a.sinks.size(), 1u);
  EXPECT_EQ(a.sinks[0].name, "stdout_sink");
}

TEST_F(config_alert, a_check_overrides_defaults_key_by_key) {
  const agent a = load(R"(defaults:
  alert: {failure_threshold: 4, success_threshold: 3, quorum: 2, renotify: 30m, notify: [ops],
          location_ttl: 2m}
domains: [shop.example]
checks:
  - {name: a, target: "https://a/", alert: {quorum: majority}}
  - {name: b, target: "https://b/", alert: {quorum: all, notify: [ops, log], renotify: 0s}}
  - {name: c, target: "https://c/", alert: {notify: [], location_ttl: 0s, enabled: false}}
sinks:
  - {name: ops, plugin: webhook_sink}
  - {name: log, plugin: stdout_sink}
)");
  ASSERT_EQ(a.checks.size(), 4u);
  const alert_settings& d = a.checks[0].alert;  // the domains entry takes defaults.alert
  EXPECT_EQ(d.failure_threshold, 4);
  EXPECT_EQ(d.success_threshold, 3);
  EXPECT_EQ(d.quorum, 2);
  EXPECT_EQ(d.renotify_ms, 30 * 60 * 1000);
  EXPECT_THAT(d.notify, ElementsAre("ops"));
  EXPECT_EQ(d.location_ttl_ms, 2 * 60 * 1000);
  const alert_settings& x = a.checks[1].alert;
  EXPECT_EQ(x.rule, alert_settings::quorum_rule::majority);
  EXPECT_EQ(x.failure_threshold, 4);
  EXPECT_THAT(x.notify, ElementsAre("ops"));
  const alert_settings& y = a.checks[2].alert;
  EXPECT_EQ(y.rule, alert_settings::quorum_rule::all);
  EXPECT_EQ(y.renotify_ms, 0);
  EXPECT_THAT(y.notify, ElementsAre("ops", "log"));
  EXPECT_THAT(a.checks[3].alert.notify, IsEmpty());
  EXPECT_EQ(a.checks[3].alert.location_ttl_ms, 0);
  EXPECT_FALSE(a.checks[3].alert.enabled);
  EXPECT_TRUE(x.enabled);
  EXPECT_EQ(x.location_ttl_ms, 2 * 60 * 1000);
}

TEST_F(config_alert, sink_names_default_to_the_plugin_then_numbered) {
  const agent a = load(R"(sinks:
  - {plugin: stdout_sink}
  - {plugin: stdout_sink}
  - {name: ops, plugin: stdout_sink}
  - {plugin: stdout_sink}
)");
  ASSERT_EQ(a.sinks.size(), 4u);
  EXPECT_EQ(a.sinks[0].name, "stdout_sink");
  EXPECT_EQ(a.sinks[1].name, "stdout_sink2");
  EXPECT_EQ(a.sinks[2].name, "ops");
  EXPECT_EQ(a.sinks[3].name, "stdout_sink4");
  EXPECT_THAT(load_error("sources: [{plugin: kafka_sink, name: x}]\n"),
              HasSubstr("unknown key 'name' in sources[0]"));  // only sinks have names
}

TEST_F(config_alert, state_dir_given_or_from_the_environment) {
  EXPECT_EQ(load("agent: {state_dir: /var/lib/isitup}\n").state_dir, "/var/lib/isitup");
  const test::scoped_env dirs("STATE_DIRECTORY", "/var/lib/isitup-a:/var/lib/other");
  EXPECT_EQ(load("agent: {id: x}\n").state_dir, "/var/lib/isitup-a");
  EXPECT_EQ(load("agent: {state_dir: /srv/s}\n").state_dir, "/srv/s");
}

struct error_case {
  const char* name;
  const char* yaml;
  const char* where;
  const char* message;
};

TEST_F(config_alert, errors_name_the_place_and_what_was_expected) {
  const std::vector<error_case> cases = {
      {"unknown key", "defaults:\n  alert: {failure_treshold: 2}\n", "t.yml:2:11",
       "unknown key 'failure_treshold' in defaults.alert (did you mean 'failure_threshold'?)"},
      {"zero threshold", "checks:\n  - {target: x, alert: {failure_threshold: 0}}\n", "t.yml:2:44",
       "checks[0].alert.failure_threshold: expected an integer from 1 to 1000, got '0'"},
      {"huge threshold", "defaults: {alert: {success_threshold: 1001}}\n", "t.yml:1:39",
       "expected an integer from 1 to 1000, got '1001'"},
      {"bad quorum", "defaults: {alert: {quorum: most}}\n", "t.yml:1:28",
       "defaults.alert.quorum: expected a number of locations (1 to 1000), 'majority' or 'all', "
       "got 'most'"},
      {"zero quorum", "defaults: {alert: {quorum: 0}}\n", "t.yml:1:28", "got '0'"},
      {"bad renotify", "defaults: {alert: {renotify: often}}\n", "t.yml:1:30",
       "defaults.alert.renotify: expected a duration"},
      {"bad enabled", "defaults: {alert: {enabled: maybe}}\n", "t.yml:1:29",
       "defaults.alert.enabled: expected true or false, got 'maybe'"},
      {"bad location_ttl", "defaults: {alert: {location_ttl: -1m}}\n", "t.yml:1:34",
       "defaults.alert.location_ttl: expected a duration"},
      {"notify not a list", "defaults: {alert: {notify: ops}}\n", "t.yml:1:28",
       "defaults.alert.notify: expected a list of sink names"},
      {"notify bad name", "defaults: {alert: {notify: [Ops]}}\n", "t.yml:1:29",
       "defaults.alert.notify[0]: expected a sink name ([a-z0-9_-]+), got 'Ops'"},
      {"notify twice", "defaults: {alert: {notify: [a, a]}}\nsinks: [{name: a, plugin: x}]\n",
       "t.yml:1:32", "'a' is listed twice"},
      {"unknown sink in a check",
       "checks:\n  - {name: shop, target: x, alert: {notify: [ops, opz]}}\nsinks:\n"
       "  - {name: ops, plugin: webhook_sink}\n",
       "t.yml:2:51", "check 'shop': notify names no sink 'opz' (did you mean 'ops'?) (sinks: ops)"},
      {"unknown sink from defaults",
       "defaults:\n  alert:\n    notify: [pager]\ndomains: [a.example]\n", "t.yml:3:14",
       "notify names no sink 'pager'"},
      {"alert not a mapping", "checks:\n  - {target: x, alert: yes}\n", "t.yml:2:24",
       "expected a mapping"},
      {"sink name", "sinks:\n  - {name: 'Ops!', plugin: stdout_sink}\n", "t.yml:2:12",
       "sinks[0].name: expected a sink name ([a-z0-9_-]+), got 'Ops!'"},
      {"duplicate sink name",
       "sinks:\n  - {name: a, plugin: stdout_sink}\n  - {name: a, plugin: stdout_sink}\n",
       "t.yml:3:12", "duplicate sink name 'a' (first at t.yml:2:12)"},
      {"default name taken",
       "sinks:\n  - {name: stdout_sink, plugin: kafka_sink}\n  - {plugin: stdout_sink}\n",
       "t.yml:3:5", "this sink's default name 'stdout_sink' is taken (at t.yml:2:12)"},
      {"relative state_dir", "agent: {state_dir: var/state}\n", "t.yml:1:20",
       "agent.state_dir: expected an absolute path, got 'var/state'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string error = load_error(c.yaml);
    EXPECT_THAT(error, StartsWith(std::string(c.where) + ": "));
    EXPECT_THAT(error, HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace isitup::config
