// pg_sink against a real PostgreSQL server (one per binary, started by the fixture): every
// field and type, idempotent replays and concurrent writers, name validation, migrations.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "pg_maintenance.hpp"
#include "pg_schema.hpp"
#include "pg_test_util.hpp"
#include "pg_writer.hpp"

namespace isitup::pg::testing {
namespace {

using sdk::testing::fake_host;
using sdk::testing::sink_under_test;

TEST(pg_sink_names, hostile_names_are_refused_at_config_time) {
  const std::string hostile[] = {"results\"; DROP TABLE x; --",
                                 std::string(64, 'a'),
                                 "",
                                 "résultats",
                                 "результаты",
                                 "a.b",
                                 "tab\tle",
                                 "1results",
                                 "pg_results",
                                 "trailing "};
  fake_host host;
  for (const std::string& name : hostile) {
    for (const char* key : {"table", "schema"}) {
      sdk::testing::option_map o{{"connection", "postgresql://u@127.0.0.1:1/db"}, {key, name}};
      sink_under_test sink(host, isitup_plugin_entry(), o);
      EXPECT_FALSE(sink.ok()) << key << " = " << name;
      EXPECT_NE(sink.error().find(key), std::string::npos) << sink.error();
    }
  }
  // 48 bytes is the longest table name (the open incidents view adds 15), 63 the longest schema
  // name.
  EXPECT_THROW(validate_name(std::string(49, 't'), "table", max_table_bytes),
               std::invalid_argument);
  EXPECT_NO_THROW(validate_name(std::string(48, 't'), "table", max_table_bytes));
  EXPECT_NO_THROW(validate_name(std::string(63, 's'), "schema", max_schema_bytes));
}

TEST(pg_sink_names, bad_connection_and_options_are_refused_at_config_time) {
  fake_host host;
  {
    sink_under_test sink(host, isitup_plugin_entry(), {{"connection", "host='unterminated"}});
    EXPECT_FALSE(sink.ok());
    EXPECT_NE(sink.error().find("connection"), std::string::npos) << sink.error();
  }
  {
    sink_under_test sink(host, isitup_plugin_entry(),
                         {{"connection", "host=x"}, {"sslmode", "sometimes"}});
    EXPECT_FALSE(sink.ok());
    EXPECT_NE(sink.error().find("sslmode: expected one of \"disable\", \"allow\", \"prefer\", "
                                "\"require\", \"verify-ca\", \"verify-full\", got \"sometimes\""),
              std::string::npos)
        << sink.error();
  }
  // The password never needs to be in the text: values are quoted for libpq.
  const std::string info = build_conninfo("postgresql://u:p%27w@h:5432/d", "verify-full", 3000);
  EXPECT_NE(info.find("password='p\\'w'"), std::string::npos) << info;
  EXPECT_NE(info.find("sslmode='verify-full'"), std::string::npos) << info;
  EXPECT_NE(info.find("connect_timeout='3'"), std::string::npos) << info;
}

// Each range is the option's declaration (pg_sink_options.hpp, --describe-plugin shows it);
// its ends are accepted. The agent reports these at the option's file:line:column.
TEST(pg_sink_names, values_outside_their_declared_range_are_config_errors) {
  fake_host host;
  const auto error = [&](const char* name, const char* value) {
    sink_under_test sink(host, isitup_plugin_entry(), {{"connection", "host=x"}, {name, value}});
    return sink.ok() ? std::string() : sink.error();
  };
  const auto refused = [&](const char* name, const char* value, const std::string& why) {
    const std::string e = error(name, value);
    EXPECT_NE(e.find(why), std::string::npos) << name << " = " << value << ": " << e;
  };
  refused("batch_size", "0", "batch_size: expected 1..1000000, got 0");
  refused("batch_size", "1000001", "batch_size: expected 1..1000000, got 1000001");
  EXPECT_EQ(error("batch_size", "1"), "");
  EXPECT_EQ(error("batch_size", "1000000"), "");
  refused("batch_delay", "61m", "batch_delay: expected 0ms..1h, got 61m");
  EXPECT_EQ(error("batch_delay", "1h"), "");
  refused("statement_timeout", "0s", "statement_timeout: expected 1ms..1d, got 0ms");
  refused("statement_timeout", "25h", "statement_timeout: expected 1ms..1d, got 25h");
  EXPECT_EQ(error("statement_timeout", "24h"), "");
  refused("connect_timeout", "2h", "connect_timeout: expected 0ms..1h, got 2h");
  EXPECT_EQ(error("connect_timeout", "0s"), "");
  refused("reconnect_backoff_max", "0s", "reconnect_backoff_max: expected 1ms..1h, got 0ms");
  EXPECT_EQ(error("reconnect_backoff_max", "1h"), "");
  refused("partition_interval", "30m", "partition_interval: expected 1h..31d, got 30m");
  refused("partition_interval", "32d", "partition_interval: expected 1h..31d, got 32d");
  refused("partition_interval", "5h", "partition_interval: expected whole hours dividing a day");
  sink_under_test longest(
      host, isitup_plugin_entry(),
      {{"connection", "host=x"}, {"partition_interval", "31d"}, {"retention", "0"}});
  EXPECT_TRUE(longest.ok()) << longest.error();
  refused("retention", "30m", "retention: expected 0 (keep everything) or a duration");
  refused("retention", "2h", "retention: must be 0 or at least partition_interval");
  refused("rollup_retention", "soon", "rollup_retention: expected 0 (keep everything)");
  refused("table", "isitup_migrations", "table: isitup_migrations is the migrations table's name");
  EXPECT_EQ(error("sslmode", "verify-full"), "");
}

TEST(pg_sink_names, connection_options_that_load_code_are_refused_at_config_time) {
  fake_host host;
  for (const std::string& connection :
       {std::string("host=127.0.0.1 sslkey=dynamic:/tmp/evil.so"),
        std::string("postgresql://u@127.0.0.1/db?sslmode=require&sslkey=pkcs11%3Aslot0")}) {
    sink_under_test sink(host, isitup_plugin_entry(), {{"connection", connection}});
    EXPECT_FALSE(sink.ok()) << connection;
    EXPECT_NE(sink.error().find("sslkey names an OpenSSL engine"), std::string::npos)
        << sink.error();
    EXPECT_EQ(sink.error().find("evil"), std::string::npos) << "no value in the error";
  }
  sink_under_test file_key(host, isitup_plugin_entry(),
                           {{"connection", "host=127.0.0.1 sslkey=/etc/isitup/client.key"}});
  EXPECT_TRUE(file_key.ok()) << file_key.error();
}

TEST(pg_sink_names, a_search_path_in_the_connection_options_cannot_replace_functions) {
  // Someone who may create functions in a schema the connection's `options` put first.
  server().psql(
      "CREATE SCHEMA IF NOT EXISTS hijack; "
      "CREATE OR REPLACE FUNCTION hijack.set_config(text, text, boolean) RETURNS text "
      "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked set_config'; END$$; "
      "CREATE OR REPLACE FUNCTION hijack.md5(text) RETURNS text "
      "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked md5'; END$$");
  fake_host host;
  host.to_json = [](const isitup_record_v1&) { return std::string("{}"); };
  sink_under_test sink(
      host, isitup_plugin_entry(),
      test_options("public", "search_path",
                   {{"connection",
                     server().conninfo() + " options='-c search_path=hijack,pg_catalog,public'"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<record> rs{make_record(1), make_record(2)};
  rs[1].scheduled_at_ms = -62'167'219'200'000;  // rejected: md5 of its text is computed
  const batch b(rs);
  const auto o = sink.write(b.pointers);
  EXPECT_EQ(o.status, ISITUP_OK) << o.message;
  EXPECT_EQ(server().psql("SELECT count(*) FROM search_path"), "1\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM search_path_rejects"), "1\n");
}

TEST(pg_sink_names, legal_unusual_names_work_quoted) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(),
                       test_options("Mixed Schema-1", "Check Results 2026"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const batch b = batch::range(0, 50);
  const auto o = sink.write(b.pointers);
  ASSERT_TRUE(o.done);
  ASSERT_EQ(o.status, ISITUP_OK) << o.message;
  EXPECT_EQ(count_and_checksum("\"Mixed Schema-1\".\"Check Results 2026\"").first, 50);
  EXPECT_EQ(server().psql("SELECT count(*) FROM \"Mixed Schema-1\".\"Check Results 2026_latest\""),
            "10\n");
}

TEST(pg_sink, every_field_lands_with_its_type_and_exact_milliseconds) {
  record full = make_record(1);
  full.location = "eu-west";
  full.scheduled_at_ms = nov_27_2026_18h + 123;
  full.started_at_ms = nov_27_2026_18h + 999;
  full.up = false;
  full.error_kind = "http_status";
  full.error_message = "HTTP 503, expected 200\t\"quoted\" \\ back\nslash";
  full.http_code = 503;
  full.http_version = "1.1";
  full.http_bytes = 5'000'000'000;
  full.dns_ms = 1.2;
  full.connect_ms = 3.4;
  full.tls_ms = 12.0;
  full.ttfb_ms = 40.1;
  full.total_ms = 41.0 + 1.0 / 3;
  full.regex_match = 0;
  full.tls_not_after_ms = 1'803'945'600'001;  // 2027-03-01T00:00:00.001Z
  full.tls_days_left = -2;
  full.redirects = 3;
  full.ip = "2001:db8::7";
  full.extra_json = R"({"region":"eu","n":[1,2]})";

  record bare;  // every optional field absent
  bare.agent = "probe-1";
  bare.check = "bare";
  bare.plugin = "tcp_check";
  bare.target = "x";
  bare.scheduled_at_ms = -1;  // 1969-12-31T23:59:59.999Z: before the epoch
  bare.up = true;

  record odd = make_record(2);  // values the database would refuse are made safe
  odd.check = std::string("bad\xff utf8");
  odd.ip = "not-an-ip";
  odd.extra_json = "[1,2]";

  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "fields"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const batch b({full, bare, odd});
  const auto o = sink.write(b.pointers);
  ASSERT_EQ(o.status, ISITUP_OK) << o.message;

  pqxx::connection c(server().conninfo());
  pqxx::read_transaction tx(c);
  // Types, as the table declares them.
  const std::map<std::string, std::string> types{{"agent", "text"},
                                                 {"location", "text"},
                                                 {"check_name", "text"},
                                                 {"plugin", "text"},
                                                 {"target", "text"},
                                                 {"scheduled_at", "timestamp with time zone"},
                                                 {"started_at", "timestamp with time zone"},
                                                 {"status", "text"},
                                                 {"error_kind", "text"},
                                                 {"error_message", "text"},
                                                 {"http_code", "integer"},
                                                 {"http_version", "text"},
                                                 {"http_bytes", "bigint"},
                                                 {"dns_ms", "double precision"},
                                                 {"connect_ms", "double precision"},
                                                 {"tls_ms", "double precision"},
                                                 {"ttfb_ms", "double precision"},
                                                 {"total_ms", "double precision"},
                                                 {"regex_match", "boolean"},
                                                 {"tls_not_after", "timestamp with time zone"},
                                                 {"tls_days_left", "integer"},
                                                 {"redirects", "integer"},
                                                 {"ip", "inet"},
                                                 {"extra", "jsonb"}};
  const pqxx::result cols = tx.exec(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
      "'public' AND table_name = 'fields'");
  ASSERT_EQ(cols.size(), types.size());
  for (const auto& row : cols)
    EXPECT_EQ(types.at(row[0].as<std::string>()), row[1].as<std::string>()) << row[0].c_str();

  const auto epoch_ms = [](const char* col) {
    return std::string("(extract(epoch FROM ") + col + ") * 1000)::bigint";
  };
  const pqxx::row f = tx.exec1(
      "SELECT agent, location, check_name, plugin, target, " + epoch_ms("scheduled_at") + ", " +
      epoch_ms("started_at") +
      ", status, error_kind, error_message, http_code, http_version, http_bytes, dns_ms, "
      "connect_ms, tls_ms, ttfb_ms, total_ms, regex_match, " +
      epoch_ms("tls_not_after") +
      ", tls_days_left, redirects, host(ip), extra->>'region', jsonb_array_length(extra->'n') "
      "FROM fields WHERE check_name = 'check-1'");
  EXPECT_EQ(f[0].as<std::string>(), "probe-1");
  EXPECT_EQ(f[1].as<std::string>(), "eu-west");
  EXPECT_EQ(f[2].as<std::string>(), "check-1");
  EXPECT_EQ(f[3].as<std::string>(), "tcp_check");
  EXPECT_EQ(f[4].as<std::string>(), full.target);
  EXPECT_EQ(f[5].as<int64_t>(), full.scheduled_at_ms);
  EXPECT_EQ(f[6].as<int64_t>(), full.started_at_ms);
  EXPECT_EQ(f[7].as<std::string>(), "down");
  EXPECT_EQ(f[8].as<std::string>(), "http_status");
  EXPECT_EQ(f[9].as<std::string>(), full.error_message);
  EXPECT_EQ(f[10].as<int>(), 503);
  EXPECT_EQ(f[11].as<std::string>(), "1.1");
  EXPECT_EQ(f[12].as<int64_t>(), 5'000'000'000);
  EXPECT_EQ(f[13].as<double>(), 1.2);
  EXPECT_EQ(f[14].as<double>(), 3.4);
  EXPECT_EQ(f[15].as<double>(), 12.0);
  EXPECT_EQ(f[16].as<double>(), 40.1);
  EXPECT_EQ(f[17].as<double>(), full.total_ms);  // bit-exact
  EXPECT_EQ(f[18].as<bool>(), false);
  EXPECT_EQ(f[19].as<int64_t>(), full.tls_not_after_ms);
  EXPECT_EQ(f[20].as<int>(), -2);
  EXPECT_EQ(f[21].as<int>(), 3);
  EXPECT_EQ(f[22].as<std::string>(), "2001:db8::7");
  EXPECT_EQ(f[23].as<std::string>(), "eu");
  EXPECT_EQ(f[24].as<int>(), 2);
  EXPECT_EQ(tx.exec1("SELECT to_char(scheduled_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS.MS') FROM fields WHERE check_name = 'check-1'")[0]
                .as<std::string>(),
            "2026-11-27T18:00:00.123");

  // Absent fields are NULL; an up result carries no error.
  const pqxx::row n = tx.exec1(
      "SELECT " + epoch_ms("scheduled_at") +
      ", num_nulls(location, started_at, error_kind, error_message, http_code, http_version, "
      "http_bytes, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, regex_match, tls_not_after, "
      "tls_days_left, redirects, ip, extra), status FROM fields WHERE check_name = 'bare'");
  EXPECT_EQ(n[0].as<int64_t>(), -1);
  EXPECT_EQ(n[1].as<int>(), 18);
  EXPECT_EQ(n[2].as<std::string>(), "up");

  // Invalid UTF-8 repaired, an ip that is not one and an extra that is not an object: NULL.
  const pqxx::row x = tx.exec1(
      "SELECT check_name, ip IS NULL, extra IS NULL FROM fields WHERE plugin = "
      "'tcp_check' AND check_name LIKE 'bad%'");
  EXPECT_EQ(x[0].as<std::string>(), "bad\xEF\xBF\xBD utf8");
  EXPECT_TRUE(x[1].as<bool>());
  EXPECT_TRUE(x[2].as<bool>());
  EXPECT_EQ(host.counter("invalid_values"), 2);
  EXPECT_EQ(host.counter("repaired_text"), 1);
}

TEST(pg_sink, the_same_batch_three_times_changes_nothing) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "replay"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const batch b = batch::range(0, 1000);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  const auto first = count_and_checksum("replay");
  EXPECT_EQ(first.first, 1000);
  for (int i = 0; i < 2; ++i) {
    const auto o = sink.write(b.pointers);
    ASSERT_EQ(o.status, ISITUP_OK) << o.message;
    EXPECT_EQ(count_and_checksum("replay"), first);
  }
  EXPECT_EQ(host.counter("rows_written"), 3000);
  EXPECT_EQ(host.counter("rows_inserted"), 1000);
}

TEST(pg_sink, two_writers_with_overlapping_batches_leave_what_one_writer_leaves) {
  constexpr int n = 3000, step = 250;
  fake_host host;
  {
    sink_under_test reference(host, isitup_plugin_entry(), test_options("public", "one_writer"));
    ASSERT_TRUE(reference.ok()) << reference.error();
    const batch all = batch::range(0, n);
    ASSERT_EQ(reference.write(all.pointers).status, ISITUP_OK);
  }
  const auto expected = count_and_checksum("one_writer");
  ASSERT_EQ(expected.first, n);

  // A writes [0, 2n/3), B writes [n/3, n), both in batches, at the same time, and B goes
  // backwards so that the overlap is written by both in opposite orders.
  sink_under_test a(host, isitup_plugin_entry(), test_options("public", "two_writers"));
  sink_under_test b(host, isitup_plugin_entry(), test_options("public", "two_writers"));
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<batch> for_a, for_b;
  for (int i = 0; i < 2 * n / 3; i += step) for_a.push_back(batch::range(i, i + step));
  for (int i = n - step; i >= n / 3; i -= step) for_b.push_back(batch::range(i, i + step));
  int failures = 0;
  std::mutex mu;
  const auto run = [&](sink_under_test& s, const std::vector<batch>& batches) {
    for (const batch& x : batches) {
      const auto o = write_like_host(s, x);
      if (o.status != ISITUP_OK) {
        std::lock_guard lock(mu);
        ++failures;
      }
    }
  };
  std::thread ta([&] { run(a, for_a); });
  std::thread tb([&] { run(b, for_b); });
  ta.join();
  tb.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(count_and_checksum("two_writers"), expected);
}

TEST(pg_sink, a_batch_larger_than_batch_size_is_split_and_reported_once) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(),
                       test_options("public", "split", {{"batch_size", "300"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const batch b = batch::range(0, 1000);
  const auto o = sink.write(b.pointers);
  ASSERT_EQ(o.status, ISITUP_OK) << o.message;
  EXPECT_EQ(count_and_checksum("split").first, 1000);
  EXPECT_EQ(sink.flush(), static_cast<uint32_t>(ISITUP_OK));
}

// The schema objects of a table: columns, indexes, views, and the recorded migrations.
std::string catalog_snapshot(const std::string& schema) {
  return server().psql(
      "SELECT string_agg(x, ',' ORDER BY x) FROM ("
      " SELECT 'col:' || table_name || '.' || column_name || ':' || data_type AS x"
      "  FROM information_schema.columns WHERE table_schema = '" +
      schema +
      "'"
      " UNION ALL SELECT 'idx:' || indexname || ':' || indexdef FROM pg_indexes"
      "  WHERE schemaname = '" +
      schema +
      "'"
      " UNION ALL SELECT 'view:' || viewname FROM pg_views WHERE schemaname = '" +
      schema +
      "'"
      " UNION ALL SELECT 'mig:' || table_name || ':' || version || ':' || applied_at"
      "  FROM \"" +
      schema + "\".isitup_migrations) s");
}

TEST(pg_sink_migrations, a_database_at_migration_1_is_upgraded_and_rerunning_is_a_no_op) {
  const table_names names{"upgrade", "results"};
  {
    pqxx::connection c(server().conninfo());
    EXPECT_EQ(migrate(c, names, 1), 1);
    EXPECT_EQ(current_migration(c, names), 1);
    pqxx::work tx(c);
    tx.exec(
        "INSERT INTO upgrade.results (agent, check_name, plugin, target, scheduled_at, status) "
        "VALUES ('old', 'kept', 'tcp_check', 'x', '2026-01-01T00:00:00Z', 'up')");
    tx.commit();
  }
  EXPECT_EQ(
      server().psql(
          "SELECT count(*) FROM pg_indexes WHERE schemaname = 'upgrade' AND tablename = 'results'"),
      "1\n");  // the primary key only

  fake_host host;
  {
    sink_under_test sink(host, isitup_plugin_entry(), test_options("upgrade", "results"));
    ASSERT_TRUE(sink.ok()) << sink.error();
    const batch b = batch::range(0, 20);
    ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  }
  pqxx::connection c(server().conninfo());
  EXPECT_EQ(current_migration(c, names), latest_migration());
  // The old row waits in results_unpartitioned until maintenance moves it (migration 6).
  EXPECT_EQ(server().psql("SELECT count(*) FROM upgrade.results"), "20\n");
  maintenance_options mo;
  mo.conninfo = server().conninfo();
  mo.names = names;
  mo.retention_ms = 0;
  EXPECT_EQ(pg_maintenance(mo).run(nov_27_2026_18h).moved, 1);
  EXPECT_EQ(server().psql("SELECT count(*) FROM upgrade.results"), "21\n");
  EXPECT_EQ(
      server().psql(
          "SELECT count(*) FROM pg_indexes WHERE schemaname = 'upgrade' AND tablename = 'results'"),
      "3\n");
  EXPECT_EQ(server().psql("SELECT string_agg(viewname, ',' ORDER BY viewname) FROM pg_views "
                          "WHERE schemaname = 'upgrade'"),
            "results_daily,results_hourly,results_incidents_open,results_latest\n");
  EXPECT_EQ(server().psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                          "upgrade.isitup_migrations"),
            "1,2,3,4,5,6,7,8,9\n");

  const std::string before = catalog_snapshot("upgrade");
  EXPECT_EQ(migrate(c, names), latest_migration());
  EXPECT_EQ(migrate(c, names), latest_migration());
  EXPECT_EQ(catalog_snapshot("upgrade"), before);
}

TEST(pg_sink_migrations, concurrent_first_starts_migrate_once) {
  const table_names names{"race", "results"};
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> errors{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      try {
        pqxx::connection c(server().conninfo());
        migrate(c, names);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++errors;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(server().psql("SELECT count(*) FROM race.isitup_migrations"),
            std::to_string(latest_migration()) + "\n");
}

TEST(pg_sink_views, latest_and_rollups_answer_from_the_results) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "viewed"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  // 10 checks, one result a second for 2 minutes: every 7th is down.
  const batch b = batch::range(0, 1200);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  // The hour and the day closed: the rollups the views read are made.
  maintenance_options m;
  m.conninfo = server().conninfo();
  m.names = {"public", "viewed"};
  maintenance_report r;
  pg_maintenance(m).roll_up(nov_27_2026_18h + int64_t{7} * 3'600'000, r);
  EXPECT_EQ(r.hours_rolled_up, 1);
  EXPECT_EQ(r.days_rolled_up, 1);
  // Latest per (agent, check): the last second of the stream.
  EXPECT_EQ(server().psql("SELECT count(*), min(scheduled_at), max(scheduled_at) FROM "
                          "viewed_latest"),
            "10|2026-11-27 18:01:59.007+00|2026-11-27 18:01:59.007+00\n");
  // One hour bucket; 1200 results of which i % 7 == 0 are down (172 of them).
  EXPECT_EQ(server().psql("SELECT sum(results), sum(up), count(*) FROM viewed_hourly"),
            "1200|1028|10\n");
  EXPECT_EQ(server().psql("SELECT uptime_pct, p50_ms FROM viewed_daily WHERE check_name = "
                          "'check-3'"),
            server().psql("SELECT round(100.0 * count(*) FILTER (WHERE status = 'up') / "
                          "count(*), 2), percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) "
                          "FILTER (WHERE status = 'up') FROM viewed WHERE check_name = "
                          "'check-3'"));
}

}  // namespace
}  // namespace isitup::pg::testing
