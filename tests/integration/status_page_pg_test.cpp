// The status page of an agent writing to PostgreSQL shows the history PostgreSQL has: 60 days
// of rows of a check this agent does not run (loaded by SQL, as a restore or a fleet's probes
// would have left them), rolled up by pg_sink's own maintenance and read back through
// read_history (ISITUP_SINK_HISTORY). Checked in the HTML and in chromium-headless-shell.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <isitup/util/clock.hpp>

#include <chrono>
#include <pqxx/pqxx>
#include <regex>
#include <string>

#include "browser.hpp"
#include "http_support.hpp"
#include "listener.hpp"
#include "pg_partitions.hpp"
#include "pg_schema.hpp"
#include "pg_server.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

constexpr int64_t minute_ms = 60'000, hour_ms = 60 * minute_ms, day_ms = 24 * hour_ms;

// The card of check `name` on the page (or DOM), or empty.
std::string card(const std::string& page, const std::string& name) {
  const auto at = page.find("<h3>" + name + "<b>");
  if (at == std::string::npos) return {};
  return page.substr(at, page.find("</article>", at) - at);
}

TEST(status_page_from_postgresql, shows_60_days_rolled_up_by_pg_sink) {
  ASSERT_NO_THROW(isitup::test::browser_path());
  isitup::test::pg_server server;
  const isitup::pg::table_names names{"public", "results"};
  // "archive": every 15 minutes from 60 days ago to over an hour ago, whole hours, the first of
  // each hour down: 75 % up in every hour and day; up ones took 50, 60 or 70 ms.
  const int64_t now = isitup::sdk::wall_ms(), first = (now - 60 * day_ms) / hour_ms * hour_ms;
  const int64_t last_hour_end = (now - 65 * minute_ms) / hour_ms * hour_ms;  // rolled up at once
  {
    pqxx::connection c(server.conninfo());
    isitup::pg::migrate(c, names);
    pqxx::work tx(c);
    const isitup::pg::quoted_names q(c, names);
    isitup::pg::ensure_partitions_between(tx, names, q, day_ms, first, now + 2 * day_ms);
    tx.exec("INSERT INTO " + q.table +
            " (agent, check_name, plugin, target, scheduled_at, status, total_ms)"
            " SELECT 'probe-1', 'archive', 'http_check', 'https://archive.test/',"
            " to_timestamp(" +
            std::to_string(first / 1000) +
            ") + k * interval '15 minutes', CASE WHEN k % 4 = 0 THEN 'down' ELSE 'up' END,"
            " CASE WHEN k % 4 = 0 THEN NULL ELSE 40 + (k % 4) * 10 END"
            " FROM generate_series(0, " +
            std::to_string((last_hour_end - first) / (15 * minute_ms) - 1) + ") k");
    // Rows loaded by SQL mark their hours for the rollups as the sink's own writes do.
    tx.exec("INSERT INTO " + q.rollup_todo +
            " (length, bucket) SELECT DISTINCT 'hour', date_trunc('hour', scheduled_at, 'UTC')"
            " FROM " +
            q.table);
    tx.commit();
  }

  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(
      "agent: {id: writer-1, http: {listen: \"127.0.0.1:0\"}}\n"
      "defaults: {interval: 200ms, timeout: 1s}\n"
      "checks: [{name: local, plugin: tcp_check, target: \"127.0.0.1:" +
      std::to_string(open.port()) +
      "\"}]\n"
      "sinks: [{name: store, plugin: pg_sink, options: {connection: \"" +
      server.uri() + "\", table: results}}]\n");
  // pg_sink's maintenance runs once it has connected: every marked hour and day rolled up.
  ASSERT_TRUE(isitup::test::eventually(
      [&] {
        return server.psql(
                   "SELECT count(*) FROM public.results_rollup_todo WHERE (length = 'hour' "
                   "AND bucket < now() - interval '2 hours') OR (length = 'day' AND bucket < "
                   "now() - interval '1 day 5 minutes')") == "0\n" &&
               server.psql(
                   "SELECT count(*) >= 59 FROM public.results_rollup_daily WHERE "
                   "check_name = 'archive'") == "t\n";
      },
      60s))
      << server.psql("SELECT length, count(*) FROM public.results_rollup_todo GROUP BY 1");

  const isitup::test::http_answer page = agent.get("/", "", 10s);
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("from sink store, read "));
  const std::string archive = card(page.body, "archive");
  ASSERT_FALSE(archive.empty()) << page.body.substr(0, 4000);
  for (const char* window : {"24 h", "7 d", "30 d", "90 d"})
    EXPECT_THAT(archive, HasSubstr(std::string(window) + " <b>75.00%</b>")) << archive;
  // Every whole day from PostgreSQL, 72 of 96 up; the plot from the hourly rollups.
  std::size_t whole_days = 0;
  for (std::size_t at = archive.find("75.00% up (72 of 96)"); at != std::string::npos;
       at = archive.find("75.00% up (72 of 96)", at + 1))
    ++whole_days;
  EXPECT_GE(whole_days, 58u) << archive;
  EXPECT_THAT(archive, HasSubstr("<span class=k50>p50</span> 60 ms, <span class=k95>p95</span> "
                                 "69 ms"));
  EXPECT_THAT(card(page.body, "local"), HasSubstr("<b>up</b>"));

  // The same in a browser, under the agent's own Content-Security-Policy header.
  const auto dom = isitup::test::browse({"--dump-dom"},
                                        "http://127.0.0.1:" + std::to_string(agent.port()) + "/");
  ASSERT_EQ(dom.code, 0);
  EXPECT_EQ(dom.console, "");
  const std::string shown = card(dom.out, "archive");
  EXPECT_TRUE(std::regex_search(
      shown, std::regex("<span>90 d <b>75\\.00%</b></span>.*<svg class=\"b\".*<svg class=\"t\"")))
      << shown;
  EXPECT_EQ(agent.stop(), 0);
}

}  // namespace
