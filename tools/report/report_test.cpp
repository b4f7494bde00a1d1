// isitup-report against a known data set in a PostgreSQL server started by the fixture.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <pqxx/pqxx>
#include <sstream>

#include "pg_schema.hpp"
#include "pg_server.hpp"
#include "process.hpp"
#include "report_test_data.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::pg_server;
using isitup::test::temp_dir;

const std::string report_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-report";

pg_server& server() {
  static std::unique_ptr<pg_server> s;
  if (!s) s = std::make_unique<pg_server>();
  return *s;
}

// Runs of spaces become one, so the expectation does not depend on column widths.
std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ' || out.empty() || out.back() != ' ') out += c;
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string config_for(const std::string& table) {
  return "checks:\n  - {name: x, plugin: tcp_check, target: \"127.0.0.1:1\"}\n"
         "sinks:\n  - plugin: stdout_sink\n  - plugin: pg_sink\n"
         "    options: {connection: \"${TEST_PG}\", schema: Reports, table: \"" +
         table + "\"}\n";
}

TEST(isitup_report, prints_one_line_per_check_for_a_known_data_set) {
  const isitup::pg::table_names names{"Reports", "known set"};
  {
    pqxx::connection c(server().conninfo());
    isitup::pg::migrate(c, names);
    pqxx::work tx(c);
    isitup::report::testing::make_partitions(tx, names);
    const std::string t = "\"Reports\".\"known set\"";
    const std::string cols =
        " (agent, check_name, plugin, target, scheduled_at, status, "
        "error_kind, error_message, total_ms) ";
    // shop: up every hour of the last day (10..240 ms), down once a day the 6 days before.
    tx.exec("INSERT INTO " + t + cols +
            "SELECT 'p', 'shop', 'http_check', 'x', timestamptz '2026-11-27 18:00Z' - k * "
            "interval '1 hour', 'up', NULL, NULL, 10.0 * (k + 1) FROM generate_series(0, 23) k");
    tx.exec("INSERT INTO " + t + cols +
            "SELECT 'p', 'shop', 'http_check', 'x', timestamptz '2026-11-27 17:00Z' - d * "
            "interval '1 day', 'down', 'http_status', 'HTTP 503', 5 FROM generate_series(1, 6) d");
    // api: down half an hour ago; old: one result 10 days ago.
    tx.exec("INSERT INTO " + t + cols +
            "VALUES ('p', 'api', 'http_check', 'x', '2026-11-27 17:30Z', 'down', 'dns', "
            "'no such host', NULL), ('p', 'old', 'tcp_check', 'x', '2026-11-17 18:00Z', 'up', "
            "NULL, NULL, 3)");
    // A DNS check, a ping and a certificate: their last result's key figures.
    tx.exec("INSERT INTO " + t +
            " (agent, check_name, plugin, target, scheduled_at, status, error_kind,"
            " error_message, total_ms, tls_days_left, extra) VALUES"
            " ('p', 'mx', 'dns_check', 'x', '2026-11-27 17:59Z', 'up', NULL, NULL, 0.4, NULL,"
            "  '{\"rcode\": \"NOERROR\", \"matching_answers\": 2}'),"
            " ('p', 'gw', 'icmp_check', 'x', '2026-11-27 17:59Z', 'up', NULL, NULL, 0.05, NULL,"
            "  '{\"loss_percent\": 33.333, \"rtt_avg_ms\": 0.048}'),"
            " ('p', 'cert', 'tls_check', 'x', '2026-11-27 17:59Z', 'up', NULL, NULL, 3, 41, NULL)");
    // Incidents: api open since 17:29; shop down twice, resolved each time.
    tx.exec(
        "INSERT INTO \"Reports\".\"known set_incidents\" (incident_id, check_name, plugin, "
        "target, opened_at, resolved_at, error_kind, error_message, locations) VALUES "
        "('i1', 'api', 'http_check', 'x', '2026-11-27 17:29Z', NULL, 'dns', 'no such host', "
        "'[\"eu-west\", \"us-east\"]'), "
        "('i2', 'shop', 'http_check', 'x', '2026-11-26 17:00Z', '2026-11-26 17:05Z', "
        "'http_status', 'HTTP 503', '[\"eu-west\"]'), "
        "('i3', 'shop', 'http_check', 'x', '2026-11-25 17:00Z', '2026-11-25 17:02:30Z', "
        "'http_status', 'HTTP 503', '[\"eu-west\"]')");
    tx.commit();
    isitup::report::testing::make_rollups(c, names);
  }
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", config_for("known set"));
  // auto_explain writes the plans of the report's statements to the server's log: the raw rows
  // it reads are only those of the partitions its time ranges need.
  const auto log_file = server().dir() / "server.log";
  const auto log_from = std::filesystem::file_size(log_file);
  const auto r = isitup::test::run(
      {report_bin, "--config", cfg, "--now", "2026-11-27 18:00Z"}, 60s,
      {"TEST_PG=" + server().uri(),
       "PGOPTIONS=-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
       " -c auto_explain.log_nested_statements=on"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(squeeze(r.out),
            "Reports.known set: 6 checks, as of 2026-11-27 18:00:00Z\n"
            "CHECK LAST AT UP 24H UP 7D P50 ms P95 ms FIGURES LAST ERROR (7 d)\n"
            "api down 2026-11-27 17:30:00Z 0.00% 0.00% - - - 2026-11-27 17:30:00Z dns: no such "
            "host\n"
            "cert up 2026-11-27 17:59:00Z 100.00% 100.00% 3.0 3.0 tls 41 days left -\n"
            "gw up 2026-11-27 17:59:00Z 100.00% 100.00% 0.1 0.1 loss 33.333%, rtt 0.048 ms -\n"
            "mx up 2026-11-27 17:59:00Z 100.00% 100.00% 0.4 0.4 NOERROR, 2 answers -\n"
            "old up 2026-11-17 18:00:00Z - - - - - -\n"
            "shop up 2026-11-27 18:00:00Z 100.00% 80.00% 125.0 240.0 - 2026-11-26 17:00:00Z "
            "http_status: HTTP 503\n"
            "\n"
            "Open incidents: 1\n"
            "CHECK OPENED OPEN FOR ERROR LOCATIONS\n"
            "api 2026-11-27 17:29:00Z 00:31:00 dns: no such host eu-west,us-east\n"
            "\n"
            "Incidents per check (last 5 each): 3\n"
            "CHECK OPENED RESOLVED DURATION ERROR\n"
            "api 2026-11-27 17:29:00Z open 00:31:00 dns: no such host\n"
            "shop 2026-11-26 17:00:00Z 2026-11-26 17:05:00Z 00:05:00 http_status: HTTP 503\n"
            "shop 2026-11-25 17:00:00Z 2026-11-25 17:02:30Z 00:02:30 http_status: HTTP 503\n");
  // Columns line up: every line has "UP 7D"'s last character at the same offset.
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 18u);
  const std::size_t end = lines[1].find("UP 7D") + 4;
  EXPECT_EQ(lines[2].substr(end - 4, 5), "0.00%");
  EXPECT_EQ(lines[7].substr(end - 5, 6), "80.00%");
  // Partitions are daily from 2026-08-01. The 7 days' last errors read 2026-11-20 to 11-27 and
  // the rows after the last hour rolled up only 2026-11-27: no other partition is in the plan
  // but for the latest result per check (the view's skip scan over the primary key and its probe,
  // alias r, visit each partition's indexes once per check: the latest may be in any of them).
  std::string plans;
  {
    std::ifstream in(log_file);
    in.seekg(static_cast<std::streamoff>(log_from));
    plans.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(plans.find("Query Text"), std::string::npos) << plans;
  int pruned_scans = 0;
  for (std::size_t at = plans.find("on \"known set_p"); at != std::string::npos;
       at = plans.find("on \"known set_p", at + 1)) {
    const std::string day = plans.substr(at + 15, 8);
    const std::string alias = plans.substr(plans.find("\" ", at + 15) + 2, 2);
    const std::size_t line = plans.rfind('\n', at);
    if (alias == "r_" || plans.substr(line, at - line).find("_pkey\"") != std::string::npos)
      continue;  // the latest view: its skip scan over the primary key, its lateral probe
    EXPECT_TRUE(day >= "20261120" && day <= "20261127") << day;
    ++pruned_scans;
  }
  EXPECT_GT(pruned_scans, 0);
  EXPECT_NE(plans.find("known set_p20261127"), std::string::npos) << plans;
  EXPECT_NE(plans.find("known set_p20261120"), std::string::npos) << plans;
}

TEST(isitup_report, a_missing_table_and_a_config_without_pg_sink_are_reported) {
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", config_for("never written"));
  const auto missing =
      isitup::test::run({report_bin, "--config", cfg}, 60s, {"TEST_PG=" + server().uri()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no results yet"), std::string::npos) << missing.err;

  // A pg_sink section is read as the agent reads it, each error at the option it names: the
  // declared types, pg_sink's own rules (names, ranges, a connection option that would load
  // code into the report).
  const auto expect_refused = [&](const std::string& options, const std::string& why) {
    const std::string yml =
        dir.write("bad.yml",
                  "checks:\n  - {name: x, plugin: tcp_check, target: \"127.0.0.1:1\"}\n"
                  "sinks:\n  - plugin: pg_sink\n    options: {" +
                      options + "}\n");
    const auto r = isitup::test::run({report_bin, "--config", yml}, 60s);
    EXPECT_EQ(r.code, 2) << options << ": " << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << options << ": " << r.err;
  };
  expect_refused("connection: \"host=x\", table: \"r\\\"; DROP TABLE x; --\"",
                 "bad.yml:5:44: sinks[0] (pg_sink) options: table: only ASCII letters");
  expect_refused("connection: \"host=x\", batch_size: lots",
                 "option 'batch_size': expected an integer, got 'lots'");
  expect_refused("connection: \"host=127.0.0.1 sslkey=dynamic:/tmp/evil.so\"",
                 "bad.yml:5:27: sinks[0] (pg_sink) options: connection: sslkey names an OpenSSL "
                 "engine");
  expect_refused("connection: \"host=x\", sslmode: sometimes",
                 "bad.yml:5:46: sinks[0] (pg_sink) options: sslmode: expected one of");
  expect_refused("connection: \"host=x\", retention: 2h",
                 "retention: must be 0 or at least partition_interval");

  const std::string none =
      dir.write("none.yml", "checks:\n  - {name: x, plugin: tcp_check, target: \"h:1\"}\n");
  const auto no_sink = isitup::test::run({report_bin, "--config", none}, 60s);
  EXPECT_EQ(no_sink.code, 2);
  EXPECT_NE(no_sink.err.find("no pg_sink"), std::string::npos) << no_sink.err;
}

}  // namespace
