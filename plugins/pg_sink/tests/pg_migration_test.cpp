// Migration 6 against a real PostgreSQL server (one per binary): a table of the schema before
// it, a million rows, converted to partitions once each, also while a writer keeps writing.
// A binary of its own (the million rows take most of the storage tests' time): it runs beside
// pg_storage_test.
#include <gtest/gtest.h>

#include <algorithm>

#include "pg_maintenance.hpp"
#include "pg_schema.hpp"
#include "pg_storage_util.hpp"
#include "pg_test_util.hpp"

namespace isitup::pg::testing {
namespace {

using sdk::testing::fake_host;
using sdk::testing::sink_under_test;

TEST(pg_migration_6, a_million_rows_of_the_old_schema_are_moved_once_each) {
  const table_names names{"convert", "results"};
  pqxx::connection c(server().conninfo());
  ASSERT_EQ(migrate(c, names, 1), 1);  // the indexes of migration 2 are built after the load
  // 1,000 checks x 1,000 results, one every 15 minutes: 10.4 days. Made by the server.
  server().psql(
      "INSERT INTO convert.results (agent, location, check_name, plugin, target, scheduled_at,"
      " status, error_kind, total_ms)"
      " SELECT 'probe-' || (i % 3), 'lab', 'check-' || (i % 1000), 'http_check', 'x',"
      " timestamptz '2026-11-17 00:00:00Z' + (i / 1000) * interval '15 minutes'"
      "   + (i % 1000) * interval '1 ms',"
      " CASE WHEN i % 11 = 0 THEN 'down' ELSE 'up' END,"
      " CASE WHEN i % 11 = 0 THEN 'timeout' END, (i % 997) * 0.5"
      " FROM generate_series(0, 999999) i");
  const std::string keys =
      "SELECT count(*), sum(hashtextextended(agent || check_name || scheduled_at::text, 0)"
      "::numeric), sum(total_ms) FROM convert.results";
  ASSERT_EQ(migrate(c, names, 5), 5);
  const std::string before = server().psql(keys);
  ASSERT_EQ(before.substr(0, 8), "1000000|");

  maintenance_options o = maintenance_for(names);
  o.retention_ms = 0;
  o.move_batch = 100'000;
  o.move_budget_ms = 600'000;
  pg_maintenance m(o);
  const maintenance_report r = m.run(nov_27_2026);  // migrates, then moves every row
  ASSERT_TRUE(r.skipped.empty()) << r.skipped.front();
  EXPECT_EQ(r.moved, 1'000'000);
  EXPECT_TRUE(r.moved_all);
  EXPECT_EQ(server().psql(keys), before);
  EXPECT_EQ(server().psql("SELECT count(*) FROM (SELECT DISTINCT agent, check_name, scheduled_at"
                          " FROM convert.results) k"),
            "1000000\n");
  EXPECT_EQ(server().psql("SELECT to_regclass('convert.results_unpartitioned') IS NULL, "
                          "(SELECT relkind FROM pg_class WHERE oid = 'convert.results'::regclass)"),
            "t|p\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                          "'convert.results'::regclass"),
            "14\n");  // 2026-11-17 to 2026-11-27, and 3 days ahead
  // Running it again is a no-op.
  EXPECT_EQ(migrate(c, names), latest_migration());
  const maintenance_report again = m.run(nov_27_2026);
  EXPECT_EQ(again.moved, 0);
  EXPECT_EQ(again.left_to_move, -1);
  EXPECT_EQ(server().psql(keys), before);
}

TEST(pg_migration_6, a_writer_keeps_writing_while_rows_are_moved) {
  const table_names names{"convert2", "results"};
  {
    pqxx::connection c(server().conninfo());
    ASSERT_EQ(migrate(c, names, 5), 5);
  }
  server().psql(
      "INSERT INTO convert2.results (agent, check_name, plugin, target, scheduled_at, status)"
      " SELECT 'probe-1', 'check-' || (i % 10), 'tcp_check', 'x',"
      " timestamptz '2026-11-27 18:00:00.007Z' + (i / 10) * interval '1 second', 'up'"
      " FROM generate_series(0, 49999) i");
  maintenance_options o = maintenance_for(names);
  o.retention_ms = 0;
  o.move_batch = 5'000;
  o.move_budget_ms = 0;  // one batch per run
  pg_maintenance m(o);
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("convert2", "results"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  int runs = 0, written_to = 0;
  for (; runs < 40; ++runs) {
    // The writer's rows have the old rows' keys (make_record) and then go beyond them.
    const batch b = batch::range(written_to, written_to + 5000);
    written_to += 5000;
    ASSERT_EQ(write_like_host(sink, b).status, ISITUP_OK);
    const maintenance_report r = m.run(nov_27_2026);
    ASSERT_TRUE(r.skipped.empty()) << r.skipped.front();
    if (r.left_to_move < 0) break;
  }
  EXPECT_LT(runs, 40);
  const int keys = std::max(50'000, written_to);
  EXPECT_EQ(server().psql("SELECT count(*), count(DISTINCT (agent, check_name, scheduled_at))"
                          " FROM convert2.results"),
            std::to_string(keys) + "|" + std::to_string(keys) + "\n");
}

}  // namespace
}  // namespace isitup::pg::testing
