// Incidents on a writer through real processes: a probe agent checks a local HTTP target and
// produces to the development Kafka broker; the writer (kafka_sink source -> pg_sink, with
// webhook_sink as the notifier) keeps the alert state in PostgreSQL with the rows. The writer
// is killed with SIGKILL twice while the target is down and twice while it recovers, at
// points drawn from a seeded generator, for two outages. Afterwards PostgreSQL holds exactly
// one incident per outage, both resolved, opened at a down result; the receiver got every
// transition at least once, and duplicates only with the same event id and body.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstddef>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "alert_writers.hpp"
#include "eventually.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::eventually;

const std::string report_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-report";
// Each wait runs psql (a process per ask).
constexpr auto poll_every = 100ms;

using pg_alerts = isitup::test::alert_writers;

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
  expect_one_incident_per_outage(outages);
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents i WHERE NOT EXISTS (SELECT 1 FROM "
                  "results r WHERE r.check_name = i.check_name AND r.scheduled_at = i.opened_at "
                  "AND r.status = 'down')"),
            0);
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

  const std::size_t duplicates = expect_every_event_delivered();
  std::fprintf(stderr, "seed %u: %d kills, %zu deliveries, %zu duplicates\n", seed, kills,
               receiver_.requests().size(), duplicates);
}

}  // namespace
