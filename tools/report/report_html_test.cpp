// isitup-report --html against known data in a PostgreSQL server started by the fixture, then
// the page in a real browser (chromium-headless-shell): its DOM, no console message under the
// agent's Content-Security-Policy, and screenshots at desktop and phone sizes.
#include <gtest/gtest.h>

#include "report_test_data.hpp"

#include <cstdint>
#include <map>
#include <pqxx/pqxx>
#include <regex>

#include "browser.hpp"
#include "pg_schema.hpp"
#include "pg_server.hpp"
#include "process.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::browse;
using isitup::test::browser_path;
using isitup::test::browser_run;
using isitup::test::pg_server;
using isitup::test::temp_dir;

const std::string report_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-report";
const std::string now = "2026-11-27 18:00Z";
const std::string csp =
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
    "'unsafe-inline'; img-src data:\">";

pg_server& server() {
  static std::unique_ptr<pg_server> s;
  if (!s) s = std::make_unique<pg_server>();
  return *s;
}

std::string config_for(const std::string& table) {
  return "checks:\n  - {name: x, plugin: tcp_check, target: \"127.0.0.1:1\"}\n"
         "  - {name: shop, plugin: tcp_check, target: \"127.0.0.1:1\", group: Public, "
         "interval: 5m}\n"
         "  - {name: api, plugin: tcp_check, target: \"127.0.0.1:1\", group: Public, "
         "interval: 5m}\n"
         "sinks:\n  - plugin: pg_sink\n"
         "    options: {connection: \"${TEST_PG}\", schema: Status, table: \"" +
         table + "\"}\n";
}

// Four checks as of 18:00Z: shop (30 days every 5 min to 17:59, down 08:59-11:54 on 11-21, a
// resolved incident), api (30 days, down since 17:34, an open incident), www (90 days hourly, up),
// status (10 days every 5 min, every 97th result down).
void load_fleet(const std::string& table) {
  pqxx::connection c(server().conninfo());
  isitup::pg::migrate(c, {"Status", table});
  pqxx::work tx(c);
  isitup::report::testing::make_partitions(tx, {"Status", table});
  const std::string t = "\"Status\"." + tx.quote_name(table);
  const std::string cols =
      " (agent, check_name, plugin, target, scheduled_at, status, error_kind, error_message, "
      "total_ms) ";
  const std::string at =
      "timestamptz '" + now + "' - interval '1 minute' - k * interval '5 minutes'";
  tx.exec("INSERT INTO " + t + cols + "SELECT 'a', 'shop', 'http_check', " +
          "'https://shop.example.test/', " + at +
          ", CASE WHEN k BETWEEN 1800 AND 1835 THEN 'down' ELSE 'up' END,"
          " CASE WHEN k BETWEEN 1800 AND 1835 THEN 'http_status' END,"
          " CASE WHEN k BETWEEN 1800 AND 1835 THEN 'HTTP 503' END,"
          " 80 + (k % 7) * 15 + (k % 3) * 40 + (k / 12 % 24) * 4 FROM generate_series(0, 8639) k");
  tx.exec("INSERT INTO " + t + cols + "SELECT 'a', 'api', 'http_check', " +
          "'https://api.example.test/v1/health', " + at +
          ", CASE WHEN k < 6 THEN 'down' ELSE 'up' END,"
          " CASE WHEN k < 6 THEN 'connect_failed' END,"
          " CASE WHEN k < 6 THEN 'connection refused' END, 150 + (k % 11) * 9 + (k % 5) * 30"
          " FROM generate_series(0, 8639) k");
  tx.exec(
      "INSERT INTO " + t + cols + "SELECT 'a', 'www', 'tcp_check', 'www.example.test:443', " +
      "timestamptz '" + now +
      "' - k * interval '1 hour', 'up', NULL, NULL, 20 + k % 5 FROM generate_series(0, 2159) k");
  tx.exec("INSERT INTO " + t + cols + "SELECT 'a', 'status', 'http_check', " +
          "'https://status.example.test/', " + at +
          ", CASE WHEN k % 97 = 5 THEN 'down' ELSE 'up' END,"
          " CASE WHEN k % 97 = 5 THEN 'timeout' END, NULL, 300 + (k % 13) * 20"
          " FROM generate_series(0, 2879) k");
  tx.commit();
  isitup::report::testing::make_rollups(c, {"Status", table});
}

void create_incidents(const std::string& table) {
  pqxx::connection c(server().conninfo());
  pqxx::work tx(c);
  const std::string t = "\"Status\"." + tx.quote_name(table + "_incidents");
  // pg_sink's migration 5 made the table (with the results table).
  tx.exec("INSERT INTO " + t +
          " (incident_id, check_name, plugin, target, opened_at, resolved_at, error_kind, "
          "error_message, locations) VALUES ('i1', 'api', 'http_check', 'x', '2026-11-27 17:34Z', "
          "NULL, 'connect_failed', 'connection refused', '[\"eu-west\"]'), ('i2', 'shop', "
          "'http_check', 'x', '2026-11-21 08:59Z', '2026-11-21 11:59Z', 'http_status', "
          "'HTTP 503', '[]'), ('i3', 'shop', 'http_check', 'x', '2026-10-01 10:00Z', "
          "'2026-10-01 11:00Z', 'old', 'older than 7 days', '[]')");
  tx.commit();
}

std::string report_html(const temp_dir& dir, const std::string& table) {
  const std::string cfg = dir.write(table + ".yml", config_for(table));
  const std::string out = (dir / (table + ".html")).string();
  const auto r = isitup::test::run({report_bin, "--config", cfg, "--now", now, "--html", out}, 60s,
                                   {"TEST_PG=" + server().uri()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  return isitup::test::read_file(out);
}

TEST(isitup_report_html, builds_the_status_page_from_the_results_table) {
  load_fleet("fleet");
  create_incidents("fleet");
  temp_dir dir;
  const std::string page = report_html(dir, "fleet");
  EXPECT_NE(page.find("<title>Status.fleet</title>"), std::string::npos);
  EXPECT_NE(page.find("1 of 4 checks down"), std::string::npos);
  EXPECT_NE(page.find("<h3>api<b>down</b></h3>"), std::string::npos);
  // Groups and intervals come from the config's checks of the same name.
  const std::size_t group = page.find("<h2>Public <span class=m>1 of 2 up</span></h2>");
  const std::size_t other = page.find("<h2>Other checks <span class=m>2 of 2 up</span></h2>");
  ASSERT_NE(group, std::string::npos);
  ASSERT_NE(other, std::string::npos);
  EXPECT_LT(group, page.find(">shop<", group));
  EXPECT_LT(page.find(">shop<", group), other);
  EXPECT_LT(other, page.find(">www<", group));
  EXPECT_NE(page.find("<h3>shop<b>up</b></h3>"), std::string::npos);
  // shop: 36 of 288 down on 11-21; 2,016 results in 7 d, 8,640 in 30 d, all up in 24 h.
  EXPECT_NE(page.find("<title>2026-11-21: 87.50% up (252 of 288)</title>"), std::string::npos);
  EXPECT_NE(page.find("<span>24 h <b>100%</b></span><span>7 d <b>98.21%</b></span><span>30 d "
                      "<b>99.58%</b></span><span>90 d <b>99.58%</b></span>"),
            std::string::npos);
  // api went down at 17:34; its incident is open, shop's resolved one is listed, i3 is too old.
  EXPECT_NE(
      page.find("https://api.example.test/v1/health \xc2\xb7 every 5 min \xc2\xb7 down for 26 min"),
      std::string::npos);
  EXPECT_NE(page.find("<li class=down><b>api</b> down for 26 min, since 2026-11-27 17:34 UTC: "
                      "<span class=e>connect_failed \xe2\x80\x94 connection refused</span> "
                      "<span class=m>(at eu-west)</span></li>"),
            std::string::npos);
  EXPECT_NE(page.find("<li><b>shop</b> was down 3 h, from 2026-11-21 08:59 UTC"),
            std::string::npos);
  EXPECT_EQ(page.find("older than 7 days"), std::string::npos);
  // Every check has 90 daily segments' worth of bar and a 24 h plot (www: hourly points).
  EXPECT_EQ(std::regex_search(page, std::regex("<svg class=b viewBox=\"0 0 90 10\"")), true);
  std::size_t plots = 0;
  for (std::size_t at = page.find("<svg class=t"); at != std::string::npos;
       at = page.find("<svg class=t", at + 1))
    ++plots;
  EXPECT_EQ(plots, 4u);
}

TEST(isitup_report_html, without_an_incidents_table_shows_none_and_escapes_hostile_values) {
  {
    pqxx::connection c(server().conninfo());
    isitup::pg::migrate(c, {"Status", "hostile"});
    pqxx::work tx(c);
    // A database whose incidents table is gone (or an alert state kept elsewhere).
    tx.exec("DROP TABLE \"Status\".\"hostile_incidents\" CASCADE");
    isitup::report::testing::make_partitions(tx, {"Status", "hostile"});
    tx.exec(
        "INSERT INTO \"Status\".\"hostile\" (agent, check_name, plugin, target, scheduled_at, "
        "status, error_kind, error_message) VALUES ('a', '<script>alert(1)</script>', "
        "'http_check', 'https://user:secret@h.test/', '2026-11-27 17:59Z', 'down', 'x', "
        "'<img src=x onerror=alert(1)>' || repeat('m', 5000))");
    tx.commit();
  }
  temp_dir dir;
  const std::string page = report_html(dir, "hostile");
  EXPECT_NE(page.find("No open or recent incidents."), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("secret"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("https://user:***@h.test/"), std::string::npos);
  EXPECT_LT(page.size(), 10'000u);
}

// --- the page in a real browser ---

// The page as the agent serves it: with its Content-Security-Policy (here as a meta tag).
std::string with_csp(const std::string& page) {
  std::string p = page;
  p.insert(p.find("<head>") + 6, csp);
  return p;
}

TEST(status_page_in_a_browser, shows_every_check_without_a_console_message_on_desktop_and_phone) {
  ASSERT_NO_THROW(browser_path());
  load_fleet("browser");
  create_incidents("browser");
  temp_dir dir;
  const std::string file = dir.write("page.html", with_csp(report_html(dir, "browser")));
  const std::string url = "file://" + file;

  const browser_run dom = browse({"--dump-dom"}, url);
  ASSERT_EQ(dom.code, 0);
  EXPECT_EQ(dom.console, "");
  EXPECT_NE(dom.out.find("1 of 4 checks down"), std::string::npos);
  const std::regex card(
      "<article class=\"(up|down)\"><h3>([a-z]+)<b>(up|down)</b></h3>.*?<b>[0-9.]+%</b>.*?<svg "
      "class=\"t\".*?<path class=\"z\" "
      "d=\"M[^\"]+\"></path>.*?</article>");
  std::map<std::string, std::string> states;
  for (auto it = std::sregex_iterator(dom.out.begin(), dom.out.end(), card);
       it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[1], (*it)[3]);
    states[(*it)[2]] = (*it)[3];
  }
  EXPECT_EQ(states, (std::map<std::string, std::string>{
                        {"api", "down"}, {"shop", "up"}, {"status", "up"}, {"www", "up"}}));

  // The console check catches what it should: a script and an outside image under the CSP.
  const std::string bad = dir.write(
      "bad.html", with_csp("<!DOCTYPE html><html><head></head><body><script>console.log(1)"
                           "</script><img src=\"http://127.0.0.1:1/x.png\"></body></html>"));
  const browser_run refused = browse({"--dump-dom"}, "file://" + bad);
  EXPECT_NE(refused.console.find("Content Security Policy"), std::string::npos) << refused.console;

  EXPECT_EQ(isitup::test::screenshot_problems("report", url), std::vector<std::string>{});
}

}  // namespace
