// The results table's storage against a real PostgreSQL server (one per binary): partitions
// created ahead and on demand, retention by dropping partitions, rollups (also after a kill),
// the history read from them, and stopping maintenance. Migration 6, the longest case, is in
// pg_migration_test.cpp, a binary of its own so that both run at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <atomic>
#include <random>

#include "pg_maintenance.hpp"
#include "pg_partitions.hpp"
#include "pg_rollups.hpp"
#include "pg_schema.hpp"
#include "pg_storage_util.hpp"
#include "pg_test_util.hpp"
#include "pg_writer.hpp"

namespace isitup::pg::testing {
namespace {

using sdk::testing::fake_host;
using sdk::testing::sink_under_test;

// "name:rows" per partition of `table` (in `schema`), by start.
std::string rows_per_partition(const std::string& schema, const std::string& table) {
  return server().psql(
      "SELECT string_agg(c.relname || ':' || coalesce(n, 0), ',' ORDER BY"
      " c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
      " LEFT JOIN (SELECT tableoid, count(*) n FROM \"" +
      schema + "\".\"" + table + "\" GROUP BY 1) r ON r.tableoid = c.oid WHERE i.inhparent = '\"" +
      schema + "\".\"" + table + "\"'::regclass");
}

TEST(pg_partitions, interval_and_retention_options_are_checked) {
  EXPECT_NO_THROW(validate_partition_interval(day_ms));
  EXPECT_NO_THROW(validate_partition_interval(6 * hour_ms));
  EXPECT_NO_THROW(validate_partition_interval(7 * day_ms));
  EXPECT_THROW(validate_partition_interval(5 * hour_ms), std::invalid_argument);
  EXPECT_THROW(validate_partition_interval(int64_t{90} * 60'000), std::invalid_argument);
  EXPECT_THROW(validate_partition_interval(32 * day_ms), std::invalid_argument);
  EXPECT_EQ(parse_retention("0", "retention"), 0);
  EXPECT_EQ(parse_retention("30d", "retention"), 30 * day_ms);
  EXPECT_THROW(parse_retention("5m", "retention"), std::invalid_argument);
  EXPECT_THROW(parse_retention("forever", "retention"), std::invalid_argument);
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(),
                       {{"connection", "host=x"}, {"partition_interval", "5h"}});
  EXPECT_FALSE(sink.ok());
  EXPECT_NE(sink.error().find("partition_interval"), std::string::npos) << sink.error();
}

TEST(pg_partitions, are_created_ahead_and_on_demand_for_late_and_early_rows) {
  const table_names names{"public", "ahead"};
  pg_maintenance m(maintenance_for(names));
  const maintenance_report r = m.run(nov_27_2026 + 18 * hour_ms);
  EXPECT_TRUE(r.skipped.empty()) << r.skipped.front();
  EXPECT_EQ(r.created, (std::vector<std::string>{"ahead_p20261127", "ahead_p20261128",
                                                 "ahead_p20261129", "ahead_p20261130"}));
  EXPECT_TRUE(m.run(nov_27_2026 + 19 * hour_ms).created.empty()) << "already there";

  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "ahead"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<record> rs{make_record(0), make_record(1), make_record(2)};
  rs[1].scheduled_at_ms = nov_27_2026 - 17 * day_ms + 5;     // late: 2026-11-10
  rs[2].scheduled_at_ms = nov_27_2026 + 35 * day_ms + 3600;  // early: 2027-01-01
  const batch b(rs);
  const auto o = sink.write(b.pointers);
  EXPECT_EQ(o.status, ISITUP_OK) << o.message;
  EXPECT_EQ(rows_per_partition("public", "ahead"),
            "ahead_p20261110:1,ahead_p20261127:1,ahead_p20261128:0,ahead_p20261129:0,"
            "ahead_p20261130:0,ahead_p20270101:1\n");
  EXPECT_TRUE(host.logged("created partition ahead_p20261110"));
  // The same rows again: nothing new, nothing created.
  EXPECT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  EXPECT_EQ(server().psql("SELECT count(*) FROM ahead"), "3\n");
}

TEST(pg_partitions, a_batch_spanning_midnight_lands_in_two_partitions) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "midnight"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<record> rs;
  for (int i = 0; i < 120; ++i) {  // 23:59:00 to 00:00:59, one a second
    record r = make_record(i, 4);
    r.scheduled_at_ms = nov_27_2026 + day_ms - 60'000 + int64_t{1000} * i;
    rs.push_back(r);
  }
  const batch b(rs);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  EXPECT_EQ(rows_per_partition("public", "midnight"),
            "midnight_p20261127:60,midnight_p20261128:60\n");
}

TEST(pg_partitions, hourly_partitions_are_named_by_hour) {
  const table_names names{"public", "hourly_parts"};
  maintenance_options o = maintenance_for(names);
  o.partition_interval_ms = 6 * hour_ms;
  o.partitions_ahead = 1;
  pg_maintenance m(o);
  EXPECT_EQ(m.run(nov_27_2026 + 13 * hour_ms).created,
            (std::vector<std::string>{"hourly_parts_p202611271200", "hourly_parts_p202611271800"}));
}

TEST(pg_retention, drops_whole_partitions_past_it_and_keeps_the_newer_ones) {
  const table_names names{"public", "kept"};
  fake_host host;
  {
    sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "kept"));
    ASSERT_TRUE(sink.ok()) << sink.error();
    std::vector<record> rs;
    for (int d = 0; d < 6; ++d)  // one result a day, 2026-11-22 to 2026-11-27, at noon
      for (int k = 0; k < 3; ++k) {
        record r = make_record(k, 3);
        r.scheduled_at_ms = nov_27_2026 - (5 - d) * day_ms + 12 * hour_ms;
        rs.push_back(r);
      }
    const batch b(rs);
    ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  }
  maintenance_options o = maintenance_for(names);
  o.retention_ms = 3 * day_ms;  // as of 2026-11-27 18:00: keep from 2026-11-24 18:00
  pg_maintenance m(o);
  const maintenance_report r = m.run(nov_27_2026 + 18 * hour_ms);
  ASSERT_TRUE(r.skipped.empty()) << r.skipped.front();
  std::vector<std::string> dropped;
  for (const partition_range& p : r.dropped) dropped.push_back(p.name);
  // 2026-11-24 ends after the cutoff: it stays (a partition is dropped whole or not at all).
  EXPECT_EQ(dropped, (std::vector<std::string>{"kept_p20261122", "kept_p20261123"}));
  EXPECT_EQ(server().psql("SELECT min(scheduled_at)::date, count(*) FROM kept"), "2026-11-24|12\n");
  EXPECT_TRUE(m.run(nov_27_2026 + 19 * hour_ms).dropped.empty());
  // 0 keeps everything.
  o.retention_ms = 0;
  EXPECT_TRUE(pg_maintenance(o).run(nov_27_2026 + 400 * day_ms).dropped.empty());
  EXPECT_EQ(server().psql("SELECT count(*) FROM kept"), "12\n");
}

// Randomized results of 4 agents (3 locations and none) x 12 checks every 5 minutes over 3
// days up to 2026-11-27, shuffled.
std::vector<record> random_results(std::mt19937& rng) {
  const char* locations[] = {"eu-west", "us-east", "eu-west", ""};
  const char* kinds[] = {"dns", "connect", "timeout", "http_status", ""};
  std::vector<record> rs;
  for (int agent = 0; agent < 4; ++agent)
    for (int check = 0; check < 12; ++check)
      for (int slot = 0; slot < 3 * 288; ++slot) {
        if (rng() % 10 == 0) continue;  // a missed run
        record r;
        r.agent = "probe-" + std::to_string(agent);
        r.location = locations[agent];
        r.check = "check-" + std::to_string(check);
        r.plugin = "http_check";
        r.target = "x";
        r.scheduled_at_ms = nov_27_2026 - 3 * day_ms + int64_t{300'000} * slot +
                            int64_t{1000} * agent + int64_t{7} * check;
        r.up = rng() % 100 < 85;
        if (!r.up) {
          r.error_kind = kinds[rng() % 5];
          r.error_message = "failed";
        }
        if (rng() % 20 != 0) r.total_ms = static_cast<double>(rng() % 100'000) / 100.0;
        rs.push_back(r);
      }
  std::shuffle(rs.begin(), rs.end(), rng);
  return rs;
}

void write_all(pg_writer& w, const std::vector<record>& rs, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; i += 2000) {
    const batch b(
        std::vector<record>(rs.begin() + static_cast<std::ptrdiff_t>(i),
                            rs.begin() + static_cast<std::ptrdiff_t>(std::min(to, i + 2000))));
    w.write(b.pointers);
  }
}

// Rows of the rollup table `rollup` that differ from the aggregates computed here from the
// raw rows of `table` per (check, location, date_trunc(unit)), both ways; 0 when equal.
std::string rollup_differences(const std::string& table, const std::string& rollup,
                               const std::string& unit) {
  const std::string expected =
      "SELECT check_name, loc, bucket, count(*) AS results,"
      " count(*) FILTER (WHERE status = 'up') AS up,"
      " count(*) FILTER (WHERE status = 'up')::float8 / count(*) AS uptime,"
      " percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up') p50,"
      " percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up') p95,"
      " max(total_ms) FILTER (WHERE status = 'up') mx,"
      " (SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM (SELECT coalesce(x.error_kind,"
      " 'unknown') k, count(*) n FROM " +
      table +
      " x WHERE x.status = 'down' AND x.check_name = t.check_name AND coalesce(x.location, '')"
      " = t.loc AND date_trunc('" +
      unit +
      "', x.scheduled_at, 'UTC') = t.bucket GROUP BY 1) e) errors FROM (SELECT *,"
      " coalesce(location, '') AS loc, date_trunc('" +
      unit +
      "', scheduled_at, 'UTC') AS bucket"
      " FROM " +
      table + ") t GROUP BY check_name, loc, bucket";
  const std::string stored =
      "SELECT check_name, location, bucket, results, up, uptime, p50_ms, p95_ms, max_ms, errors "
      "FROM " +
      rollup;
  return server().psql("SELECT count(*) FROM ((" + expected + " EXCEPT " + stored +
                       ") UNION ALL (" + stored + " EXCEPT " + expected + ")) d");
}

TEST(pg_rollups, equal_the_aggregates_of_the_raw_rows_with_late_rows_and_after_kill_9) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const table_names names{"public", "rolled"};
  writer_options wo;
  wo.conninfo = server().conninfo();
  wo.names = names;
  pg_writer w(wo);
  const std::vector<record> rs = random_results(rng);
  const std::size_t n = rs.size();
  // 60 % first; rolled up as of 2026-11-27 12:00 (the last hours still open).
  write_all(w, rs, 0, n * 6 / 10);
  maintenance_options mo = maintenance_for(names);
  mo.retention_ms = 0;
  pg_maintenance m(mo);
  maintenance_report r;
  m.roll_up(nov_27_2026 - 12 * hour_ms, r);
  EXPECT_EQ(r.hours_rolled_up, 60 - 1);  // 2026-11-24 00:00 to 2026-11-26 10:00 (+2 min grace)
  EXPECT_EQ(r.days_rolled_up, 2);
  // 10 % more: late rows of hours already rolled up. Replaying all of it changes nothing.
  write_all(w, rs, 0, n * 7 / 10);
  m.roll_up(nov_27_2026 + hour_ms, r);
  EXPECT_EQ(rollup_differences("public.rolled", "public.rolled_rollup_hourly", "hour"), "0\n");
  EXPECT_EQ(rollup_differences("public.rolled", "public.rolled_rollup_daily", "day"), "0\n");

  // The rest in three parts, each followed by a maintenance process killed with SIGKILL at a
  // random moment while it rolls up.
  // A quiet machine may finish a roll-up before the kill: the last 30 % comes in six slices,
  // the first three killed after 50-450 ms, later ones sooner until a kill lands mid-way.
  int killed_mid_way = 0;
  std::size_t written_to = n * 7 / 10;
  for (int part = 0; part < 6 && (part < 3 || killed_mid_way == 0); ++part) {
    const std::size_t next = n * (15 + part) / 20;
    write_all(w, rs, written_to, next);
    written_to = next;
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        pg_maintenance killed(mo);
        maintenance_report ignored;
        killed.roll_up(nov_27_2026 + hour_ms, ignored);
      } catch (...) {
        _exit(2);
      }
      _exit(0);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(part < 3 ? 50 + rng() % 400 : rng() % 60));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) {
      // Its connection ends with it; whatever it had not committed is rolled back.
      killed_mid_way += server().psql(
                            "SELECT count(*) > 0 FROM public.rolled_rollup_todo WHERE "
                            "bucket < '2026-11-27'") == "t\n";
    } else {
      EXPECT_EQ(WEXITSTATUS(status), 0);
    }
  }
  write_all(w, rs, written_to, n);
  EXPECT_GT(killed_mid_way, 0) << "no kill hit the maintenance while it was rolling up";
  maintenance_report last;
  m.roll_up(nov_27_2026 + hour_ms, last);
  EXPECT_EQ(server().psql("SELECT count(*) FROM public.rolled"), std::to_string(n) + "\n");
  EXPECT_EQ(rollup_differences("public.rolled", "public.rolled_rollup_hourly", "hour"), "0\n");
  EXPECT_EQ(rollup_differences("public.rolled", "public.rolled_rollup_daily", "day"), "0\n");
  // Once more: the same rollups.
  const std::string before = server().psql(
      "SELECT md5(string_agg(r::text, ',' ORDER BY check_name, location, bucket))"
      " FROM public.rolled_rollup_hourly r");
  server().psql(
      "INSERT INTO public.rolled_rollup_todo (length, bucket) SELECT 'hour', "
      "generate_series(timestamptz '2026-11-24', '2026-11-26 23:00', '1 hour')");
  m.roll_up(nov_27_2026 + hour_ms, last);
  EXPECT_EQ(server().psql("SELECT md5(string_agg(r::text, ',' ORDER BY check_name, location, "
                          "bucket)) FROM public.rolled_rollup_hourly r"),
            before);
}

TEST(pg_retention, rows_older_than_it_are_not_stored_and_rollups_outlive_the_partitions) {
  const table_names names{"public", "aged"};
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(),
                       test_options("public", "aged", {{"retention", "10d"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const int64_t now = sdk::wall_ms();
  std::vector<record> rs{make_record(0), make_record(1), make_record(2)};
  rs[0].scheduled_at_ms = now - 11 * day_ms;  // past retention
  rs[1].scheduled_at_ms = now - 9 * day_ms;
  rs[2].scheduled_at_ms = now - 1 * day_ms;
  const batch b(rs);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  EXPECT_EQ(server().psql("SELECT count(*) FROM aged"), "2\n");
  EXPECT_EQ(host.counter("rows_past_retention"), 1);
  maintenance_options o = maintenance_for(names);
  o.retention_ms = 5 * day_ms;
  pg_maintenance m(o);
  const maintenance_report r = m.run(now);
  ASSERT_TRUE(r.skipped.empty()) << r.skipped.front();
  EXPECT_EQ(r.dropped.size(), 1u);
  EXPECT_EQ(server().psql("SELECT count(*) FROM aged"), "1\n");
  // The rolled-up hour of the dropped row stays.
  EXPECT_EQ(server().psql("SELECT count(*) FROM aged_rollup_hourly"), "2\n");
}

// "check|start_ms|results|up|p50|p95" per line, sorted, from the sink or from SQL.
std::string history_text(const std::vector<sdk::testing::history_row>& rows) {
  std::vector<std::string> lines;
  for (const auto& r : rows) {
    char p[64];
    std::snprintf(p, sizeof p, "%.3f|%.3f", r.p50_total_ms, r.p95_total_ms);
    lines.push_back(r.check + "|" + std::to_string(r.start_ms) + "|" + std::to_string(r.results) +
                    "|" + std::to_string(r.up) + "|" + p);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The same from the raw rows: per check and bucket (`unit` of `bucket_of`), sums over
// locations, p50/p95 the largest of those per location and `part` (hour or day).
std::string expected_history(const std::string& where, const std::string& bucket,
                             const std::string& part) {
  return server().psql(
      "SELECT string_agg(l, E'\\n' ORDER BY l) FROM (SELECT check_name || '|' ||"
      " (extract(epoch FROM b) * 1000)::bigint || '|' || sum(n) || '|' || sum(u) || '|' ||"
      " to_char(max(p50), 'FM999990.000') || '|' || to_char(max(p95), 'FM999990.000') AS l FROM"
      " (SELECT check_name, date_trunc('" +
      bucket +
      "', scheduled_at, 'UTC') AS b,"
      " count(*) AS n, count(*) FILTER (WHERE status = 'up') AS u,"
      " percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up') p50,"
      " percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up') p95"
      " FROM paged WHERE " +
      where + " GROUP BY check_name, location, date_trunc('" + part +
      "', scheduled_at, 'UTC'), 2) x GROUP BY check_name, b) y");
}

TEST(pg_history, answers_from_the_rollups_summed_over_locations_within_its_timeout) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "paged"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<record> rs;  // 2026-11-25 00:00 to 2026-11-27 05:50, every 10 minutes
  for (int slot = 0; slot < 2 * 144 + 36; ++slot)
    for (int k = 0; k < 6; ++k) {
      record r = make_record(slot * 6 + k, 3, k < 3 ? "probe-eu" : "probe-us");
      r.location = k < 3 ? "eu-west" : "us-east";
      r.scheduled_at_ms = nov_27_2026 - 2 * day_ms + int64_t{600'000} * slot + k;
      r.total_ms = 10.0 + (slot * 7 + k * 13) % 90;
      rs.push_back(r);
    }
  const batch b(rs);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  maintenance_report r;
  pg_maintenance(maintenance_for({"public", "paged"})).roll_up(nov_27_2026 + 7 * hour_ms, r);
  ASSERT_EQ(r.days_rolled_up, 2);  // 2026-11-27 is not over: its hours stand in for it

  const auto days = sink.read_history(nov_27_2026 - 2 * day_ms, nov_27_2026 + day_ms, day_ms);
  ASSERT_EQ(days.status, ISITUP_OK) << days.error;
  EXPECT_EQ(days.rows.size(), 9u);
  // Complete days from the days per location; 2026-11-27 from its hours per location.
  std::vector<std::string> lines;
  for (const std::string& t : {expected_history("scheduled_at < '2026-11-27'", "day", "day"),
                               expected_history("scheduled_at >= '2026-11-27'", "day", "hour")})
    for (std::size_t at = 0; at < t.size();) {
      const std::size_t end = t.find('\n', at);
      lines.push_back(t.substr(at, end + 1 - at));
      at = end + 1;
    }
  std::sort(lines.begin(), lines.end());
  std::string expected_days;
  for (const std::string& l : lines) expected_days += l;
  EXPECT_EQ(history_text(days.rows), expected_days);
  const auto hours = sink.read_history(nov_27_2026, nov_27_2026 + 6 * hour_ms, hour_ms);
  ASSERT_EQ(hours.status, ISITUP_OK) << hours.error;
  EXPECT_EQ(hours.rows.size(), 18u);
  EXPECT_EQ(history_text(hours.rows),
            expected_history("scheduled_at >= '2026-11-27'", "hour", "hour"));
  EXPECT_TRUE(host.problems().empty()) << host.problems().front();

  // Another length is refused; a database that does not answer in time is a retry, in time.
  EXPECT_EQ(sink.read_history(0, nov_27_2026, 60'000).status, ISITUP_RETRY);
  pqxx::connection blocker(server().conninfo());
  pqxx::work lock(blocker);
  lock.exec("LOCK TABLE paged_rollup_daily IN ACCESS EXCLUSIVE MODE");
  const auto started = std::chrono::steady_clock::now();
  const auto slow = sink.read_history(nov_27_2026 - 2 * day_ms, nov_27_2026, day_ms,
                                      std::chrono::milliseconds(300));
  EXPECT_EQ(slow.status, ISITUP_RETRY);
  EXPECT_NE(slow.error.find("statement timeout"), std::string::npos) << slow.error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  lock.abort();
  EXPECT_EQ(sink.read_history(nov_27_2026 - 2 * day_ms, nov_27_2026, day_ms).rows.size(), 6u);
}

TEST(pg_maintenance, stop_cancels_a_step_waiting_in_the_database) {
  const table_names names{"public", "stopped"};
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "stopped"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const batch b = batch::range(0, 100);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  pqxx::connection blocker(server().conninfo());
  pqxx::work lock(blocker);
  lock.exec("LOCK TABLE stopped_rollup_hourly IN ACCESS EXCLUSIVE MODE");
  pg_maintenance m(maintenance_for(names));  // statement_timeout 60 s
  std::atomic<bool> done{false};
  std::thread t([&] {
    maintenance_report r;
    try {
      m.roll_up(nov_27_2026 + 2 * day_ms, r);
    } catch (const std::exception&) {
    }
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(done.load()) << "the roll-up should be waiting for the lock";
  const auto asked = std::chrono::steady_clock::now();
  m.stop();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(5));
  maintenance_report after;
  EXPECT_THROW(m.roll_up(nov_27_2026 + 2 * day_ms, after), std::runtime_error);
}

}  // namespace
}  // namespace isitup::pg::testing
