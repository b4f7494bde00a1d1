// plan_reload: which running checks a SIGHUP reload keeps, stops and starts.
#include <isitup/core/reload_plan.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace isitup {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

config::agent load(const std::string& yaml) { return config::load_string(yaml, "t.yml"); }

std::vector<const config::check*> running_of(const config::agent& a) {
  std::vector<const config::check*> out;
  for (const auto& c : a.checks) out.push_back(&c);
  return out;
}

const std::string base = R"(defaults: {interval: 30s, timeout: 5s}
checks:
  - {name: a, plugin: tcp_check, target: "h:1"}
  - {name: b, plugin: tcp_check, target: "h:2", options: {x: 1, y: [2, 3]}}
  - {name: c, plugin: tcp_check, target: "h:3"}
)";

TEST(reload_plan, identical_config_keeps_everything) {
  const config::agent now = load(base);
  // Written differently (flow vs block style, other lines): still the same checks.
  const config::agent next = load(R"(# a comment moves every line
defaults:
  interval: 30s
  timeout: 5s
checks:
  - {name: a, plugin: tcp_check, target: "h:1"}
  - name: b
    plugin: tcp_check
    target: "h:2"
    options:
      x: 1
      y: [2, 3]
  - {name: c, plugin: tcp_check, target: "h:3", interval: 30s}
)");
  const reload_plan p = plan_reload(running_of(now), next.checks);
  EXPECT_THAT(p.retire, IsEmpty());
  EXPECT_THAT(p.add, IsEmpty());
  EXPECT_EQ(p.unchanged, 3u);
}

TEST(reload_plan, removed_changed_and_added_checks) {
  const config::agent now = load(base);
  const config::agent next = load(R"(defaults: {interval: 30s, timeout: 5s}
checks:
  - {name: d, plugin: tcp_check, target: "h:4"}
  - {name: a, plugin: tcp_check, target: "h:1", interval: 10s}
  - {name: b, plugin: tcp_check, target: "h:2", options: {x: 1, y: [2, 3]}}
)");
  const reload_plan p = plan_reload(running_of(now), next.checks);
  // a changed (interval), c removed; d new; b unchanged.
  EXPECT_THAT(p.retire, UnorderedElementsAre(0u, 2u));
  EXPECT_THAT(p.add, ElementsAre(0u, 1u));
  EXPECT_EQ(p.unchanged, 1u);
  EXPECT_EQ(p.changed, 1u);
  EXPECT_EQ(p.added, 1u);
  EXPECT_EQ(p.removed, 1u);
}

TEST(reload_plan, every_field_of_a_check_counts) {
  const config::agent now = load(base);
  const char* variants[] = {
      R"({name: b, plugin: other_check, target: "h:2", options: {x: 1, y: [2, 3]}})",
      R"({name: b, plugin: tcp_check, target: "h:9", options: {x: 1, y: [2, 3]}})",
      R"({name: b, plugin: tcp_check, target: "h:2", timeout: 1s, options: {x: 1, y: [2, 3]}})",
      R"({name: b, plugin: tcp_check, target: "h:2", options: {x: 2, y: [2, 3]}})",
      R"({name: b, plugin: tcp_check, target: "h:2", options: {x: 1, y: [3, 2]}})",
      R"({name: b, plugin: tcp_check, target: "h:2"})",
      R"({name: b, plugin: tcp_check, target: "h:2", options: {x: 1, y: [2, 3]},
          alert: {failure_threshold: 5}})",
  };
  for (const char* v : variants) {
    SCOPED_TRACE(v);
    const config::agent next = load(std::string("checks:\n  - ") + v + "\n");
    EXPECT_FALSE(same_check(now.checks[1], next.checks[0]));
  }
}

TEST(reload_plan, retired_ids_are_skipped_and_a_returning_name_is_new) {
  const config::agent now = load(base);
  std::vector<const config::check*> running = running_of(now);
  running[0] = nullptr;  // "a" was retired by an earlier reload
  const reload_plan p = plan_reload(running, load(base).checks);
  EXPECT_THAT(p.retire, IsEmpty());
  EXPECT_THAT(p.add, ElementsAre(0u));
  EXPECT_EQ(p.added, 1u);
  EXPECT_EQ(p.unchanged, 2u);
}

TEST(reload_plan, names_what_only_a_restart_applies) {
  const config::agent now = load(base);
  EXPECT_THAT(restart_only_changes(now, load(base)), IsEmpty());
  const config::agent next =
      load(base + R"(agent: {id: other, max_in_flight: 7, max_in_flight_per_plugin: {tcp_check: 2}}
pipeline: {batch_size: 10}
sinks: [{plugin: stdout_sink, options: {format: text}}]
sources: [{plugin: kafka_sink}]
)");
  EXPECT_THAT(restart_only_changes(now, next),
              ElementsAre("agent.id", "agent.max_in_flight", "agent.max_in_flight_per_plugin",
                          "pipeline", "sinks", "sources"));
  std::string with_alert = base;
  with_alert.replace(0, with_alert.find('\n'),
                     "defaults: {interval: 30s, timeout: 5s, alert: {quorum: all}}");
  const config::agent renamed = load(with_alert + R"(agent: {state_dir: /var/lib/x}
sinks: [{name: out, plugin: stdout_sink}]
)");
  EXPECT_THAT(
      restart_only_changes(now, renamed),
      ElementsAre("sinks", "defaults.alert (for checks a source feeds)", "agent.state_dir"));
}

}  // namespace
}  // namespace isitup
