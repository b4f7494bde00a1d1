// The dense status page (more than 100 checks) in a real browser: 1,000 checks of the sample
// fleet (fixtures/status_page_sample.hpp) under the agent's Content-Security-Policy. Every
// card is there with its state, its four uptime figures and one SVG holding the bar, the plot
// and the tooltip; nothing is logged; a screenshot at phone and desktop width.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include <isitup/core/status_page.hpp>
#include "browser.hpp"
#include "process.hpp"
#include "status_page_sample.hpp"

namespace {

using isitup::test::browse;
using isitup::test::browser_run;

TEST(status_page_dense, a_thousand_checks_render_cleanly_in_a_browser) {
  ASSERT_NO_THROW(isitup::test::browser_path());
  std::string page = isitup::render_status_page(isitup::testing::sample_status_view(1000));
  page.insert(page.find("<head>") + 6,
              "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'; img-src data:\">");
  isitup::test::temp_dir dir;
  const std::string url = "file://" + dir.write("page.html", page);
  const browser_run dom = browse({"--dump-dom"}, url);
  ASSERT_EQ(dom.code, 0);
  EXPECT_EQ(dom.console, "");
  const std::regex card(
      "<article class=\"(up|down)\"><h3>service-[0-9]{4}\\.example\\.org<b>(up|down)</b></h3>"
      "(<div class=\"e\">.*?</div>)?<div class=\"d\">(<b>[0-9.]+%</b>){4}</div><svg "
      "viewBox=\"0 0 90 56\" preserveAspectRatio=\"none\"><title>[^<]+; p50 [0-9.]+ ms, p95 "
      "[0-9.]+ ms</title>(<rect [^>]+></rect>)*<path d=\"M[^\"]+\"></path><path "
      "d=\"M[^\"]+\"></path></svg></article>");
  std::size_t cards = 0, down = 0;
  for (auto it = std::sregex_iterator(dom.out.begin(), dom.out.end(), card);
       it != std::sregex_iterator(); ++it) {
    ++cards;
    EXPECT_EQ((*it)[1], (*it)[2]);
    down += (*it)[1] == "down";
  }
  EXPECT_EQ(cards, 1000u);
  EXPECT_EQ(down, 11u);

  EXPECT_EQ(isitup::test::screenshot_problems("dense", url), std::vector<std::string>{});
}

}  // namespace
