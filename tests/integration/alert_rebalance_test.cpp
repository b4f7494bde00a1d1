// Incidents across a Kafka rebalance between two writers, through real processes: a probe agent
// checks a local HTTP target and produces to the development broker (one partition); two writer
// agents (kafka_sink source -> pg_sink, webhook_sink as the notifier) share one group, so one
// owns the partition and the other waits with the state it read at its start. The target goes
// down; once the owner stored the incident it is killed with SIGKILL and the waiting writer takes
// the partition: it must go on from the stored state (the incident stays the same one), not from
// what it had. The killed writer comes back and joins while the target recovers; then one writer
// leaves with SIGTERM. Twice. Afterwards PostgreSQL holds exactly one incident per outage, both
// resolved; the receiver got every transition at least once, duplicates with the same id and body.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <sstream>

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
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
// Each wait runs psql (a process per ask) or reads a writer's log.
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

// Whether this writer holds the partition now, by its log: assigned after the last revocation.
bool owns(const child_process& w) {
  const std::string err = w.err();
  const auto assigned = err.rfind("assigned partitions [0] of results");
  const auto revoked = err.rfind("partitions [0] of results revoked");
  return assigned != std::string::npos && (revoked == std::string::npos || revoked < assigned);
}

class alert_rebalance : public ::testing::Test {
 protected:
  alert_rebalance() : broker_(kafka_broker_options{1, {"results:1"}}) {}

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
  std::string writer_config(const std::string& id) {
    return dir_.write(
        id + ".yml",
        "agent: {id: " + id +
            "}\n"
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

TEST_F(alert_rebalance, a_new_owner_of_the_partition_goes_on_from_the_stored_incident) {
  target_.set_status(200);
  auto probe = start(probe_config());
  const std::string cfg[2] = {writer_config("writer-a"), writer_config("writer-b")};
  std::unique_ptr<child_process> w[2] = {start(cfg[0]), nullptr};
  ASSERT_TRUE(eventually([&] { return has_tables(); }, 30s, poll_every)) << w[0]->err();
  w[1] = start(cfg[1]);
  std::string logs;  // of writers that are gone
  auto all_logs = [&] { return logs + w[0]->err() + w[1]->err(); };
  ASSERT_TRUE(
      eventually([&] { return count("SELECT count(*) FROM results") > 3; }, 30s, poll_every))
      << all_logs() << probe->err();
  constexpr int outages = 2;
  for (int k = 1; k <= outages; ++k) {
    // Both are in the group; one owns the partition.
    int owner = -1;
    ASSERT_TRUE(eventually(
        [&] {
          owner = owns(*w[0]) ? 0 : owns(*w[1]) ? 1 : -1;
          return owner >= 0 &&
                 w[1 - owner]->err().find("assigned partitions [] of results") != std::string::npos;
        },
        30s, poll_every))
        << all_logs();
    target_.set_status(503);
    ASSERT_TRUE(eventually(
        [&] { return count("SELECT count(*) FROM results_incidents_open") == 1; }, 30s, poll_every))
        << all_logs();
    // The owner dies; the other writer, which read the state before this outage began, takes
    // the partition while the target is still down.
    w[owner]->signal(SIGKILL);
    w[owner]->wait(5s);
    logs += w[owner]->err();
    const int next = 1 - owner;
    ASSERT_TRUE(eventually([&] { return owns(*w[next]); }, 30s, poll_every)) << all_logs();
    const int rows = count("SELECT count(*) FROM results");
    ASSERT_TRUE(eventually([&] { return count("SELECT count(*) FROM results") > rows + 5; }, 30s,
                           poll_every))
        << all_logs();
    // The killed writer comes back (a rebalance) while the target recovers.
    w[owner] = start(cfg[owner]);
    target_.set_status(200);
    ASSERT_TRUE(eventually(
        [&] {
          return count("SELECT count(*) FROM results_incidents_open") == 0 &&
                 count("SELECT count(*) FROM results_incidents") == k;
        },
        30s, poll_every))
        << psql("SELECT * FROM results_incidents") << all_logs();
    // One writer leaves the group cleanly and comes back.
    w[next]->signal(SIGTERM);
    EXPECT_EQ(w[next]->wait(30s), 0) << w[next]->err();
    logs += w[next]->err();
    w[next] = start(cfg[next]);
  }
  ASSERT_TRUE(eventually(
      [&] { return count("SELECT count(*) FROM results_outbox WHERE delivered_at IS NULL") == 0; },
      30s, poll_every))
      << psql("SELECT * FROM results_outbox") << all_logs();
  for (auto& p : w) p->signal(SIGTERM);
  for (auto& p : w) EXPECT_EQ(p->wait(30s), 0) << p->err();
  logs += w[0]->err() + w[1]->err();
  probe->signal(SIGTERM);
  probe->wait(30s);
  EXPECT_NE(logs.find("alerts: partitions assigned: state of 1 checks read again"),
            std::string::npos)
      << logs;

  // Exactly one incident per outage, resolved, each opened and resolved by one event.
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents"), outages)
      << psql("SELECT * FROM results_incidents");
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents WHERE resolved_at IS NULL OR "
                  "opened_event_id IS NULL OR resolved_event_id IS NULL OR resolved_at <= "
                  "opened_at"),
            0)
      << psql("SELECT * FROM results_incidents");
  EXPECT_EQ(count("SELECT count(*) FROM results_events"), 2 * outages)
      << psql("SELECT event_id, type, check_name, at FROM results_events");

  // The receiver: every stored event at least once; duplicates carry the same id and body.
  const std::set<std::string> stored = lines(psql("SELECT event_id FROM results_events"));
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
  std::fprintf(stderr, "%zu deliveries, %zu duplicates\n", receiver_.requests().size(), duplicates);
}

}  // namespace
