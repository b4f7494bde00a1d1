// Incidents on a writer through real processes: a probe agent checks a local HTTP target and
// produces to the development Kafka broker; the writer (kafka_sink source -> pg_sink, with
// webhook_sink as the notifier) keeps the alert state in PostgreSQL with the rows. The writer
// is killed with SIGKILL twice while the target is down and twice while it recovers, at
// points drawn from a seeded generator, for two outages. Afterwards PostgreSQL holds exactly
// one incident per outage, both resolved, opened at a down result; the receiver got every
// transition at least once, and duplicates only with the same event id and body.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "eventually.hpp"
#include "http_target_server.hpp"
#include "kafka_broker.hpp"
#include "pg_server.hpp"
#include "process.hpp"
#include "webhook_receiver.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::http_target_server;
using isitup::test::kafka_broker;
using isitup::test::kafka_broker_options;
using isitup::test::pg_server;
using isitup::test::temp_dir;
using isitup::test::webhook_receiver;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string report_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-report";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
// Each wait runs psql (a process per ask).
constexpr auto poll_every = 100ms;
const std::string fast_client =
    R"({reconnect.backoff.max.ms: "500", session.timeout.ms: "3000", heartbeat.interval.ms: "500"})";

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.insert(l);
  return out;
}

class pg_alerts : public ::testing::Test {
 protected:
  pg_alerts() : broker_(kafka_broker_options{1, {"results:1"}}) {}

  std::string probe_config() {
    return dir_.write("probe.yml",
                      "agent: {id: probe-1, location: lab}\n"
                      "defaults: {interval: 100ms, timeout: 1s}\n"
                      "checks:\n  - {name: shop, plugin: http_check, target: \"" +
                          target_.url("/") +
                          "\"}\n"
                          "sinks:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
                          broker_.bootstrap() + "\", topic: results, properties: " + fast_client +
                          "}\n");
  }
  std::string writer_config() {
    return dir_.write(
        "writer.yml",
        "agent: {id: writer-1}\n"
        "defaults:\n  alert: {failure_threshold: 3, success_threshold: 2, notify: [ops]}\n"
        "sources:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
            broker_.bootstrap() +
            "\", topic: results, group: writers, batch_delay: 50ms, properties: " + fast_client +
            "}\n"
            "sinks:\n  - plugin: pg_sink\n"
            "    options: {connection: \"" +
            pg_.uri() +
            "\", table: results, batch_delay: 20ms, connect_timeout: 2s, "
            "reconnect_backoff_max: 500ms}\n"
            "  - {name: ops, plugin: webhook_sink, options: {url: \"" +
            receiver_.url() + "\"}}\n");
  }
  std::unique_ptr<child_process> start(const std::string& cfg) {
    return std::make_unique<child_process>(
        std::vector<std::string>{agent_bin, "-c", cfg, "-p", plugin_dir});
  }
  std::string psql(const std::string& sql) { return pg_.psql(sql); }
  int count(const std::string& sql) {
    const std::string out = psql(sql);
    return out.empty() ? -1 : std::stoi(out);
  }
  bool has_tables() {
    return psql("SELECT count(*) FROM pg_tables WHERE tablename = 'results_incidents'") == "1\n";
  }

  temp_dir dir_;
  pg_server pg_;
  kafka_broker broker_;
  http_target_server target_;
  webhook_receiver receiver_;
};

TEST_F(pg_alerts, kill_9_of_the_writer_while_down_and_recovering_keeps_one_incident_each) {
  const unsigned seed = std::random_device{}();
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> pause_ms(100, 900);
  SCOPED_TRACE("kill points drawn with seed " + std::to_string(seed));
  target_.set_status(200);
  auto probe = start(probe_config());
  const std::string writer_cfg = writer_config();
  auto writer = start(writer_cfg);
  ASSERT_TRUE(eventually([&] { return has_tables() && count("SELECT count(*) FROM results") > 3; },
                         30s, poll_every))
      << writer->err() << probe->err();
  int kills = 0;
  std::string stderr_of_killed;
  auto kill_and_restart = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(gen)));
    writer->signal(SIGKILL);
    writer->wait(5s);
    stderr_of_killed += writer->err();
    ++kills;
    writer = start(writer_cfg);
  };
  constexpr int outages = 2;
  for (int k = 1; k <= outages; ++k) {
    target_.set_status(503);
    kill_and_restart();
    kill_and_restart();
    ASSERT_TRUE(eventually(
        [&] { return count("SELECT count(*) FROM results_incidents_open") == 1; }, 30s, poll_every))
        << writer->err();
    if (k == outages) {  // isitup-report on the writer's config lists the open incident
      const auto r = isitup::test::run({report_bin, "--config", writer_cfg}, 30s);
      EXPECT_EQ(r.code, 0) << r.err;
      EXPECT_NE(r.out.find("Open incidents: 1\n"), std::string::npos) << r.out;
      std::fprintf(stderr, "%s\n%s\n", r.out.c_str(),
                   psql("SELECT incident_id, check_name, opened_at, open_for, error_kind, "
                        "locations FROM results_incidents_open")
                       .c_str());
    }
    target_.set_status(200);
    kill_and_restart();
    kill_and_restart();
    ASSERT_TRUE(eventually(
        [&] {
          return count("SELECT count(*) FROM results_incidents_open") == 0 &&
                 count("SELECT count(*) FROM results_incidents") == k;
        },
        30s, poll_every))
        << psql("SELECT * FROM results_incidents") << writer->err();
  }
  // Everything the writer committed is sent and marked.
  ASSERT_TRUE(eventually(
      [&] { return count("SELECT count(*) FROM results_outbox WHERE delivered_at IS NULL") == 0; },
      30s, poll_every))
      << psql("SELECT * FROM results_outbox") << writer->err();
  writer->signal(SIGTERM);
  EXPECT_EQ(writer->wait(30s), 0) << writer->err();
  probe->signal(SIGTERM);
  probe->wait(30s);
  EXPECT_EQ(kills, 4 * outages);

  // Exactly one incident row per outage, each opened and resolved by one event, opened at a
  // down result of the check.
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents"), outages);
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents WHERE resolved_at IS NULL OR "
                  "opened_event_id IS NULL OR resolved_event_id IS NULL OR resolved_at <= "
                  "opened_at"),
            0)
      << psql("SELECT * FROM results_incidents");
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents i WHERE NOT EXISTS (SELECT 1 FROM "
                  "results r WHERE r.check_name = i.check_name AND r.scheduled_at = i.opened_at "
                  "AND r.status = 'down')"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM results_events"), 2 * outages);
  EXPECT_EQ(count("SELECT count(*) FROM results_alert_state"), 1);
  const auto report = isitup::test::run({report_bin, "--config", writer_cfg}, 30s);
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_NE(report.out.find("Open incidents: 0\n"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("Incidents per check (last 5 each): 2\n"), std::string::npos)
      << report.out;
  std::fprintf(stderr, "%s\n%s\n", report.out.c_str(),
               psql("SELECT incident_id, opened_at, resolved_at, error_kind, locations FROM "
                    "results_incidents ORDER BY opened_at")
                   .c_str());

  // The receiver: every stored event at least once; duplicates carry the same id and body.
  const std::set<std::string> stored =
      lines(psql("SELECT event_id FROM results_events ORDER BY seq"));
  std::map<std::string, std::string> body_of;
  std::size_t duplicates = 0;
  for (const auto& r : receiver_.requests()) {
    const std::string id = r.header("x-isitup-event-id");
    EXPECT_EQ(stored.count(id), 1u) << "an event PostgreSQL does not hold: " << id;
    const auto [it, fresh] = body_of.emplace(id, r.body);
    if (!fresh) {
      ++duplicates;
      EXPECT_EQ(it->second, r.body) << "a duplicate of " << id << " with another body";
    }
  }
  EXPECT_EQ(body_of.size(), stored.size());
  std::fprintf(stderr, "seed %u: %d kills, %zu deliveries, %zu duplicates\n", seed, kills,
               receiver_.requests().size(), duplicates);
}

}  // namespace
