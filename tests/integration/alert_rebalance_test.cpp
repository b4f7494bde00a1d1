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

#include <cstddef>
#include <memory>
#include <string>

#include "alert_writers.hpp"
#include "eventually.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::child_process;
using isitup::test::eventually;

// Each wait runs psql (a process per ask) or reads a writer's log.
constexpr auto poll_every = 100ms;

// Whether this writer holds the partition now, by its log: assigned after the last revocation.
bool owns(const child_process& w) {
  const std::string err = w.err();
  const auto assigned = err.rfind("assigned partitions [0] of results");
  const auto revoked = err.rfind("partitions [0] of results revoked");
  return assigned != std::string::npos && (revoked == std::string::npos || revoked < assigned);
}

using alert_rebalance = isitup::test::alert_writers;

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

  expect_one_incident_per_outage(outages);
  const std::size_t duplicates = expect_every_event_delivered();
  std::fprintf(stderr, "%zu deliveries, %zu duplicates\n", receiver_.requests().size(), duplicates);
}

}  // namespace
