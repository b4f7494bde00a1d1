// The agent's status page with a sink that answers history (ISITUP_SINK_HISTORY), through the
// real binary: the test plugin made_up_history (tests/plugins/history_sink.cpp) stands in for
// a database; pg_sink's own test covers the real one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "http_support.hpp"
#include "listener.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

// The card of check `name` on the page, or empty.
std::string card(const std::string& page, const std::string& name) {
  const auto at = page.find("<h3>" + name + "<b>");
  if (at == std::string::npos) return {};
  const auto end = page.find("</article>", at);
  return page.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

TEST(http_history, the_page_shows_90_days_from_the_sink_and_asks_it_once_per_30_s) {
  isitup::test::temp_dir dir;
  const auto plugins = dir / "plugins";
  std::filesystem::create_directory(plugins);
  std::filesystem::copy_file(std::string(ISITUP_TEST_PLUGIN_DIR) + "/made_up_history.so",
                             plugins / "made_up_history.so");
  std::filesystem::copy_file(std::string(ISITUP_PLUGIN_DIR) + "/tcp_check.so",
                             plugins / "tcp_check.so");
  const std::string calls = (dir / "calls.txt").string();
  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(
      "agent: {id: w1, http: {listen: \"127.0.0.1:0\"}}\n"
      "defaults: {interval: 100ms, timeout: 1s}\n"
      "checks: [{name: local, plugin: tcp_check, target: \"127.0.0.1:" +
          std::to_string(open.port()) +
          "\"}]\n"
          "sinks: [{name: store, plugin: made_up_history, options: {calls: \"" +
          calls + "\"}}]\n",
      plugins.string());
  ASSERT_TRUE(isitup::test::eventually(
      [&] { return card(agent.get("/").body, "local").find(">up<") != std::string::npos; }));
  const std::string page = agent.get("/").body;
  EXPECT_THAT(page, HasSubstr("History of 2 checks from sink store, read "));
  // "stored" exists only in the sink: 75 % a day, all up in the last 24 hours.
  const std::string stored = card(page, "stored");
  ASSERT_FALSE(stored.empty()) << page;
  EXPECT_THAT(stored, HasSubstr("90 d <b>75.00%</b>"));
  EXPECT_THAT(stored, HasSubstr("7 d <b>75.00%</b>"));
  EXPECT_THAT(stored, HasSubstr("24 h <b>100%</b>"));
  EXPECT_THAT(stored, HasSubstr(">up<"));  // the last two hours had results up
  EXPECT_THAT(stored, HasSubstr("p50</span> 20 ms"));
  // "local": 89 days of the sink plus today's results from memory (the sink has none today).
  const std::string local = card(page, "local");
  EXPECT_THAT(local, HasSubstr("90 d <b>100%</b>"));
  // The 89 stored days are one green run from the oldest day (memory alone has only today;
  // today is empty when the agent's first results came before the read).
  EXPECT_TRUE(std::regex_search(local, std::regex("<rect x=0 width=8[89]\\.8 class=g>"))) << local;
  // Two pages, one read of days and hours (cached for 30 s).
  std::ifstream in(calls);
  std::stringstream text;
  text << in.rdbuf();
  const std::string lines = text.str();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2) << lines;
  EXPECT_THAT(lines, HasSubstr(" 86400000\n"));
  EXPECT_THAT(lines, HasSubstr(" 3600000\n"));
  EXPECT_EQ(agent.stop(), 0);
}

}  // namespace
