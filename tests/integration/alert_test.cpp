// Incidents through the built isitup-agent: a local HTTP target that goes down and comes back,
// events printed by stdout_sink (json), a journal under agent.state_dir, kill -9 and restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "eventually.hpp"
#include "http_target_server.hpp"
#include "process.hpp"

using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;
using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::http_target_server;
using isitup::test::temp_dir;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";

struct event {
  std::string event_id, type, incident_id, check, plugin, target, at, opened_at, state;
  std::string error_kind, resolved_at;  // resolved_at "" when null
  bool duration_is_number = false;
  double duration_s = -1;
  std::vector<std::string> locations;
};

// The event lines (objects with an event_id) of an output; result lines are skipped.
std::vector<event> events_in(const std::string& out) {
  std::vector<event> evs;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (!d.IsObject() || !d.HasMember("event_id")) continue;
    event e;
    e.event_id = d["event_id"].GetString();
    e.type = d["type"].GetString();
    e.incident_id = d["incident_id"].GetString();
    e.check = d["check"].GetString();
    e.plugin = d["plugin"].GetString();
    e.target = d["target"].GetString();
    e.at = d["at"].GetString();
    e.opened_at = d["opened_at"].GetString();
    e.state = d["state"].GetString();
    if (d["resolved_at"].IsString()) e.resolved_at = d["resolved_at"].GetString();
    e.duration_is_number = d["duration_s"].IsNumber();
    if (e.duration_is_number) e.duration_s = d["duration_s"].GetDouble();
    if (d["error"].IsObject()) e.error_kind = d["error"]["kind"].GetString();
    for (const auto& l : d["locations"].GetArray()) e.locations.emplace_back(l.GetString());
    evs.push_back(e);
  }
  return evs;
}

int count_type(const std::vector<event>& evs, const std::string& type) {
  return static_cast<int>(
      std::count_if(evs.begin(), evs.end(), [&](const event& e) { return e.type == type; }));
}

class alerts : public ::testing::Test {
 protected:
  // An agent checking the target every 100 ms, events and results to stdout as JSON.
  std::string config(const std::string& extra_sinks = "") {
    return dir_.write("agent.yml", R"(agent: {id: a1, location: lab, state_dir: )" +
                                       (dir_ / "state").string() + R"(}
defaults:
  interval: 100ms
  timeout: 1s
  alert: {failure_threshold: 3, success_threshold: 2}
checks:
  - {name: shop, target: ")" + target_.url("/") +
                                       R"("}
sinks:
  - {plugin: stdout_sink}
)" + extra_sinks);
  }
  std::unique_ptr<child_process> start(const std::string& cfg,
                                       const std::string& plugins = ISITUP_PLUGIN_DIR) {
    return std::make_unique<child_process>(
        std::vector<std::string>{agent_bin, "-c", cfg, "-p", plugins});
  }

  temp_dir dir_;
  http_target_server target_;
};

TEST_F(alerts, down_then_up_gives_one_opened_and_one_resolved_event) {
  target_.set_status(503);
  auto agent = start(config());
  ASSERT_TRUE(
      eventually([&] { return count_type(events_in(agent->out()), "incident_opened"); }, 15s))
      << agent->err();
  std::this_thread::sleep_for(500ms);  // more down results: still one incident
  target_.set_status(200);
  ASSERT_TRUE(
      eventually([&] { return count_type(events_in(agent->out()), "incident_resolved"); }, 15s))
      << agent->err();
  std::this_thread::sleep_for(500ms);
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait(15s), 0) << agent->err();

  const auto evs = events_in(agent->out());
  ASSERT_EQ(evs.size(), 2u) << agent->out();
  const event& o = evs[0];
  const event& r = evs[1];
  EXPECT_EQ(o.type, "incident_opened");
  EXPECT_EQ(r.type, "incident_resolved");
  for (const event& e : evs) {
    EXPECT_EQ(e.check, "shop");
    EXPECT_EQ(e.plugin, "http_check");
    EXPECT_EQ(e.target, target_.url("/"));
    EXPECT_EQ(e.error_kind, "http_status");
    EXPECT_THAT(e.locations, ::testing::ElementsAre("lab"));
    EXPECT_EQ(e.event_id.size(), 32u);
    EXPECT_EQ(e.incident_id, o.incident_id);
  }
  EXPECT_NE(o.event_id, r.event_id);
  EXPECT_EQ(o.state, "down");
  EXPECT_EQ(o.resolved_at, "");
  EXPECT_FALSE(o.duration_is_number);
  EXPECT_LT(o.opened_at, o.at);  // the first down result, not the third that decided it
  EXPECT_EQ(r.state, "up");
  EXPECT_EQ(r.opened_at, o.opened_at);
  EXPECT_GT(r.resolved_at, o.at);
  EXPECT_TRUE(r.duration_is_number);
  EXPECT_GT(r.duration_s, 0.5);
}

TEST_F(alerts, two_of_three_down_never_alerts_three_in_a_row_alerts_once_two_ups_recover) {
  // One answer per run: down, down, up five times (never three downs in a row at
  // failure_threshold 3); then five downs (one incident); then up, down, up, up (a lone up does
  // not recover at success_threshold 2, two do); then up for good.
  std::vector<int> script;
  for (int i = 0; i < 5; ++i) script.insert(script.end(), {503, 503, 200});
  script.insert(script.end(), {503, 503, 503, 503, 503, 200, 503, 200, 200});
  target_.script_statuses(script);
  auto agent = start(config());
  ASSERT_TRUE(eventually(
      [&] {
        return target_.requests() >= static_cast<long>(script.size()) + 3 &&
               count_type(events_in(agent->out()), "incident_resolved") > 0;
      },
      20s))
      << agent->err();
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait(15s), 0) << agent->err();
  const auto evs = events_in(agent->out());
  ASSERT_EQ(evs.size(), 2u) << agent->out();
  EXPECT_EQ(evs[0].type, "incident_opened");
  EXPECT_EQ(evs[1].type, "incident_resolved");
  EXPECT_EQ(evs[1].incident_id, evs[0].incident_id);
  EXPECT_LT(evs[0].opened_at, evs[0].at);  // opened at the first of the downs, decided at the third
}

TEST_F(alerts, kill_9_while_down_opens_nothing_again_and_resolves_once) {
  target_.set_status(503);
  const std::string cfg = config();
  std::string opened_id;
  {
    auto agent = start(cfg);
    ASSERT_TRUE(
        eventually([&] { return count_type(events_in(agent->out()), "incident_opened"); }, 15s))
        << agent->err();
    opened_id = events_in(agent->out())[0].incident_id;
    std::this_thread::sleep_for(300ms);  // the delivery mark is written after the print
    agent->signal(SIGKILL);
    agent->wait(5s);
  }
  {
    auto agent = start(cfg);  // still down
    std::this_thread::sleep_for(1500ms);
    ASSERT_TRUE(agent->running()) << agent->err();
    EXPECT_EQ(events_in(agent->out()).size(), 0u) << agent->out();
    target_.set_status(200);
    ASSERT_TRUE(
        eventually([&] { return count_type(events_in(agent->out()), "incident_resolved"); }, 15s))
        << agent->err();
    const auto evs = events_in(agent->out());
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].incident_id, opened_id);
    std::this_thread::sleep_for(300ms);  // the delivery mark is written after the print
    agent->signal(SIGKILL);
    agent->wait(5s);
  }
  auto agent = start(cfg);  // up: the resolve is not sent again, nothing new opens
  std::this_thread::sleep_for(1500ms);
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait(15s), 0) << agent->err();
  EXPECT_EQ(events_in(agent->out()).size(), 0u) << agent->out();
}

TEST_F(alerts, events_not_delivered_before_a_kill_are_delivered_after_with_the_same_id) {
  const fs::path plugins = dir_ / "plugins";
  fs::create_directory(plugins);
  for (const char* name : {"http_check", "stdout_sink"})
    fs::copy_file(std::string(ISITUP_PLUGIN_DIR) + "/" + name + ".so",
                  plugins / (std::string(name) + ".so"));
  fs::copy_file(std::string(ISITUP_TEST_PLUGIN_DIR) + "/gated_sink.so", plugins / "gated_sink.so");
  const fs::path log = dir_ / "received.jsonl";
  const fs::path gate = dir_ / "gate";
  const std::string cfg = config("  - {plugin: gated_sink, options: {log: " + log.string() +
                                 ", gate: " + gate.string() + "}}\n");
  target_.set_status(503);
  std::string opened_id;
  {
    auto agent = start(cfg, plugins.string());
    ASSERT_TRUE(
        eventually([&] { return count_type(events_in(agent->out()), "incident_opened"); }, 15s))
        << agent->err();
    opened_id = events_in(agent->out())[0].event_id;
    // The gated sink is refusing it (its receiver is down).
    ASSERT_TRUE(eventually(
        [&] { return agent->err().find("events not delivered, will retry") != std::string::npos; },
        15s))
        << agent->err();
    agent->signal(SIGKILL);
    agent->wait(5s);
  }
  EXPECT_FALSE(fs::exists(log));
  std::ofstream(gate.string()) << "open\n";
  auto agent = start(cfg, plugins.string());
  ASSERT_TRUE(eventually(
      [&] { return fs::exists(log) && !events_in(isitup::test::read_file(log)).empty(); }, 15s))
      << agent->err();
  const auto received = events_in(isitup::test::read_file(log));
  ASSERT_GE(received.size(), 1u);
  EXPECT_EQ(received[0].event_id, opened_id);
  EXPECT_EQ(received[0].type, "incident_opened");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(events_in(agent->out()).size(), 0u)  // stdout_sink had it already
      << agent->out();
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait(15s), 0) << agent->err();
}

TEST_F(alerts, a_notifier_gets_only_the_events_of_checks_naming_it_and_no_results) {
  const fs::path plugins = dir_ / "plugins";
  fs::create_directory(plugins);
  for (const char* name : {"http_check", "stdout_sink"})
    fs::copy_file(std::string(ISITUP_PLUGIN_DIR) + "/" + name + ".so",
                  plugins / (std::string(name) + ".so"));
  fs::copy_file(std::string(ISITUP_TEST_PLUGIN_DIR) + "/gated_notifier.so",
                plugins / "gated_notifier.so");
  const fs::path log = dir_ / "pager.jsonl";
  const fs::path results = dir_ / "pager.results";
  std::ofstream((dir_ / "gate").string()) << "open\n";
  http_target_server other;
  other.set_status(500);
  target_.set_status(503);
  const std::string cfg = dir_.write("agent.yml", R"(agent: {id: a1, location: lab}
defaults: {interval: 100ms, timeout: 1s}
checks:
  - {name: shop, target: ")" + target_.url("/") + R"(", alert: {notify: [pager]}}
  - {name: blog, target: ")" + other.url("/") + R"("}
sinks:
  - {plugin: stdout_sink}
  - {name: pager, plugin: gated_notifier, options: {log: )" +
                                                      log.string() +
                                                      ", gate: " + (dir_ / "gate").string() +
                                                      ", results: " + results.string() + R"(}}
)");
  auto agent = start(cfg, plugins.string());
  ASSERT_TRUE(
      eventually([&] { return count_type(events_in(agent->out()), "incident_opened") == 2; }, 15s))
      << agent->err();
  ASSERT_TRUE(eventually([&] { return fs::exists(log); }, 15s)) << agent->err();
  std::this_thread::sleep_for(300ms);
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait(15s), 0) << agent->err();
  const auto paged = events_in(isitup::test::read_file(log));
  ASSERT_EQ(paged.size(), 1u);
  EXPECT_EQ(paged[0].check, "shop");
  EXPECT_EQ(paged[0].type, "incident_opened");
  EXPECT_FALSE(fs::exists(results)) << "a notifier was given results";
  EXPECT_NE(agent->out().find("\"check\":\"blog\""), std::string::npos);  // others get results
}

TEST_F(alerts, notify_naming_a_sink_that_takes_no_events_is_a_config_error) {
  const fs::path plugins = dir_ / "plugins";
  fs::create_directory(plugins);
  fs::copy_file(std::string(ISITUP_PLUGIN_DIR) + "/http_check.so", plugins / "http_check.so");
  fs::copy_file(std::string(ISITUP_TEST_PLUGIN_DIR) + "/old_sink.so", plugins / "old_sink.so");
  const std::string cfg = dir_.write("agent.yml", R"(checks:
  - {name: shop, target: "https://shop.example/", alert: {notify: [legacy]}}
sinks:
  - {name: legacy, plugin: old_sink}
)");
  const auto r = isitup::test::run({agent_bin, "--check-config", cfg, "-p", plugins.string()}, 30s);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(cfg + ":2:68: check 'shop': notify names sink 'legacy' (old_sink), which "
                             "takes no events"),
            std::string::npos)
      << r.err;
}

}  // namespace
