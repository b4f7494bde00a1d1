// Incidents on a probe-only agent (no PostgreSQL: the journal under agent.state_dir) through
// real processes: the agent checks a local HTTP target and notifies a local webhook receiver
// (webhook_sink). It is killed with SIGKILL twice while the target is down and twice while it
// recovers, at points drawn from a seeded generator, for two outages. Afterwards the receiver
// got exactly one incident per outage, each opened and resolved at least once, duplicates only
// with the same event id and body, and none left open. The webhook URL's password and the signing
// secret appear in no output of the agent.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "eventually.hpp"
#include "http_target_server.hpp"
#include "process.hpp"
#include "webhook_receiver.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::http_target_server;
using isitup::test::temp_dir;
using isitup::test::webhook_receiver;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";

struct delivered {
  std::string type, incident_id, body;
};

// Every request the receiver got, by event id (the first body; duplicates are checked to be
// the same).
std::map<std::string, delivered> by_event(const webhook_receiver& r, std::size_t& duplicates) {
  std::map<std::string, delivered> out;
  duplicates = 0;
  for (const auto& q : r.requests()) {
    rapidjson::Document d;
    d.Parse(q.body.c_str());
    if (!d.IsObject() || !d.HasMember("type") || !d.HasMember("incident_id")) {
      ADD_FAILURE() << "not an event: " << q.body;
      continue;
    }
    const auto [it, fresh] =
        out.emplace(q.header("x-isitup-event-id"),
                    delivered{d["type"].GetString(), d["incident_id"].GetString(), q.body});
    if (!fresh) {
      ++duplicates;
      EXPECT_EQ(it->second.body, q.body) << "a duplicate of " << it->first << " with another body";
    }
  }
  return out;
}

int count_type(const std::map<std::string, delivered>& evs, const std::string& type) {
  int n = 0;
  for (const auto& [id, e] : evs) n += e.type == type;
  return n;
}

TEST(alert_probe_kill, kill_9_while_down_and_recovering_keeps_one_incident_per_outage) {
  const unsigned seed = std::random_device{}();
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> pause_ms(100, 900);
  SCOPED_TRACE("kill points drawn with seed " + std::to_string(seed));
  temp_dir dir;
  http_target_server target;
  webhook_receiver receiver;
  target.set_status(200);
  // Neither the URL's password nor the signing secret may reach any output of the agent.
  const std::string password = "pw-never-logged-7731", secret = "secret-never-logged-5519";
  std::string with_userinfo = receiver.url();
  with_userinfo.insert(with_userinfo.find("//") + 2, "hooks:" + password + "@");
  const std::string cfg = dir.write(
      "probe.yml", "agent: {id: probe-1, location: lab, state_dir: " + (dir / "state").string() +
                       "}\n"
                       "defaults:\n  interval: 100ms\n  timeout: 1s\n"
                       "  alert: {failure_threshold: 3, success_threshold: 2, "
                       "notify: [ops]}\n"
                       "checks:\n  - {name: shop, plugin: http_check, target: \"" +
                       target.url("/") +
                       "\"}\n"
                       "sinks:\n  - {plugin: stdout_sink}\n"
                       "  - {name: ops, plugin: webhook_sink, options: {url: \"" +
                       with_userinfo + "\", secret: " + secret + "}}\n");
  auto start = [&] {
    return std::make_unique<child_process>(
        std::vector<std::string>{agent_bin, "-c", cfg, "-p", ISITUP_PLUGIN_DIR});
  };
  auto agent = start();
  int kills = 0;
  std::string logs;
  auto kill_and_restart = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(gen)));
    agent->signal(SIGKILL);
    agent->wait(5s);
    logs += agent->err() + agent->out();
    ++kills;
    agent = start();
  };
  std::size_t duplicates = 0;
  constexpr int outages = 2;
  for (int k = 1; k <= outages; ++k) {
    target.set_status(503);
    kill_and_restart();
    kill_and_restart();
    ASSERT_TRUE(eventually(
        [&] { return count_type(by_event(receiver, duplicates), "incident_opened") == k; }, 20s))
        << logs << agent->err();
    target.set_status(200);
    kill_and_restart();
    kill_and_restart();
    ASSERT_TRUE(eventually(
        [&] { return count_type(by_event(receiver, duplicates), "incident_resolved") == k; }, 20s))
        << logs << agent->err();
  }
  // Up for a while: nothing opens again, nothing is left to send.
  std::this_thread::sleep_for(1s);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(20s), 0) << agent->err();
  EXPECT_EQ(kills, 4 * outages);
  logs += agent->err() + agent->out();
  EXPECT_EQ(logs.find(password), std::string::npos);
  EXPECT_EQ(logs.find(secret), std::string::npos);
  for (const auto& r : receiver.requests())  // the receiver did get both
    EXPECT_NE(r.header("x-isitup-signature").find("sha256="), std::string::npos);

  const auto evs = by_event(receiver, duplicates);
  EXPECT_EQ(evs.size(), 2u * outages);
  EXPECT_EQ(count_type(evs, "incident_opened"), outages);
  EXPECT_EQ(count_type(evs, "incident_resolved"), outages);
  std::map<std::string, std::set<std::string>> types_of;  // incident -> its event types
  for (const auto& [id, e] : evs) types_of[e.incident_id].insert(e.type);
  EXPECT_EQ(types_of.size(), static_cast<std::size_t>(outages));
  for (const auto& [incident, types] : types_of)
    EXPECT_EQ(types, (std::set<std::string>{"incident_opened", "incident_resolved"}))
        << "incident " << incident << " is not both opened and resolved";
  std::fprintf(stderr, "seed %u: %d kills, %zu deliveries, %zu duplicates\n", seed, kills,
               receiver.requests().size(), duplicates);
}

}  // namespace
