// The agent's status page (`/`) in a real browser: checks up and down against a local nginx,
// the page loaded over HTTP with the agent's own Content-Security-Policy header, its DOM, no
// console message, and screenshots at desktop and phone sizes.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "browser.hpp"
#include "http_support.hpp"
#include "listener.hpp"
#include "test_servers.hpp"

namespace {

using isitup::test::browse;
using isitup::test::browser_run;

const std::string csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

TEST(status_page_from_the_agent, shows_checks_up_and_down_in_a_browser) {
  ASSERT_NO_THROW(isitup::test::browser_path());
  const isitup::http::testing::nginx_server nginx;
  ASSERT_TRUE(nginx.ok()) << nginx.error();
  const std::string site = "http://127.0.0.1:" + std::to_string(nginx.http_port);
  isitup::test::tcp_listener db;
  isitup::test::http_agent agent(
      "agent:\n  id: web1\n  http: {listen: \"127.0.0.1:0\"}\n"
      "defaults: {interval: 200ms, timeout: 1s}\n"
      "checks:\n"
      "  - {name: shop, plugin: http_check, target: \"" +
      site + "/" +
      "\", group: Public}\n"
      "  - {name: api, plugin: http_check, target: \"" +
      site + "/500" +
      "\", group: Public}\n"
      "  - {name: db, plugin: tcp_check, target: \"127.0.0.1:" +
      std::to_string(db.port()) +
      "\"}\n"
      "  - {name: gone, plugin: tcp_check, target: \"127.0.0.1:" +
      std::to_string(isitup::test::unused_port()) + "\"}\n");

  // Every check has a result, and the two down ones an open incident.
  isitup::test::http_answer page;
  ASSERT_TRUE(isitup::test::eventually([&] {
    page = agent.get("/");
    return page.status == 200 && page.body.find("2 of 4 checks down") != std::string::npos &&
           page.body.find("<article class=unknown") == std::string::npos &&
           page.body.find("<li class=down><b>api</b>") != std::string::npos &&
           page.body.find("<li class=down><b>gone</b>") != std::string::npos;
  })) << page.status
      << "\n"
      << page.body.substr(0, 2000);
  EXPECT_NE(page.content_type.find("text/html"), std::string::npos) << page.content_type;
  EXPECT_EQ(page.csp, csp);

  const std::string url = "http://127.0.0.1:" + std::to_string(agent.port()) + "/";
  const browser_run dom = browse({"--dump-dom"}, url);
  ASSERT_EQ(dom.code, 0);
  EXPECT_EQ(dom.console, "");
  EXPECT_NE(dom.out.find("<li class=\"down\"><b>api</b> down for"), std::string::npos);
  // Per card: name and state, an uptime figure, the bar; a latency plot for the up checks (the
  // plot is of up results' times), the cause for the down ones.
  const std::regex head("^<article class=\"(up|down)\"><h3>([a-z]+)<b>(up|down)</b></h3>");
  std::map<std::string, std::string> states;
  for (std::size_t at = dom.out.find("<article"); at != std::string::npos;) {
    const std::size_t end = dom.out.find("</article>", at);
    ASSERT_NE(end, std::string::npos);
    const std::string card = dom.out.substr(at, end - at);
    at = dom.out.find("<article", end);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(card, m, head)) << card;
    EXPECT_EQ(m[1], m[3]);
    states[m[2]] = m[3];
    EXPECT_TRUE(std::regex_search(card, std::regex("<b>[0-9.]+%</b>"))) << card;
    EXPECT_NE(card.find("<svg class=\"b\""), std::string::npos) << card;
    if (m[3] == "up")
      EXPECT_TRUE(std::regex_search(card, std::regex("<svg class=\"t\".*<path class=\"z\" d=\"M")))
          << card;
    else
      EXPECT_NE(card.find("<div class=\"e\">"), std::string::npos) << card;
  }
  EXPECT_EQ(states, (std::map<std::string, std::string>{
                        {"api", "down"}, {"db", "up"}, {"gone", "down"}, {"shop", "up"}}));

  EXPECT_EQ(isitup::test::screenshot_problems("agent", url), std::vector<std::string>{});
  EXPECT_EQ(agent.stop(), 0);
}

}  // namespace
