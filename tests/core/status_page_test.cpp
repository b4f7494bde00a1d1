#include <isitup/core/status_page.hpp>

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include <isitup/core/status_page_text.hpp>
#include "status_page_sample.hpp"

namespace isitup {
namespace {

constexpr int64_t now_ms = 1'796'200'000'000;  // 2026-12-02 08:26:40 UTC
constexpr int64_t day = 86'400'000, hour = 3'600'000, minute = 60'000;

std::string escaped(std::string_view s, std::size_t max = 4096) {
  std::string out;
  append_html_escaped(out, s, max);
  return out;
}

std::size_t count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + needle.size()))
    ++n;
  return n;
}

// The sequence of tags (names only) of a page: what a hostile value must not change.
std::vector<std::string> tags(const std::string& html) {
  static const std::regex tag("<(/?[A-Za-z!][A-Za-z0-9]*)");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1]);
  return out;
}

check_view plain_check(std::string name, status_state state, std::string group = "") {
  check_view c;
  c.name = std::move(name);
  c.plugin = "http_check";
  c.target = "https://example.test/";
  c.group = std::move(group);
  c.interval_ms = 30'000;
  c.state = state;
  c.state_since_ms = now_ms - 3'600'000;
  return c;
}

TEST(HtmlEscape, EscapesMarkupCharacters) {
  EXPECT_EQ(escaped("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(HtmlEscape, KeepsValidUtf8TabAndNewline) {
  EXPECT_EQ(escaped("caf\xc3\xa9 \xf0\x9f\x9a\x80\t\n"), "caf\xc3\xa9 \xf0\x9f\x9a\x80\t\n");
}

TEST(HtmlEscape, ReplacesInvalidUtf8AndControlCharacters) {
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(escaped("a\xff"
                    "b"),
            "a" + r + "b");
  EXPECT_EQ(escaped("\xc0\xaf"), r + r);                  // overlong '/'
  EXPECT_EQ(escaped("\xed\xa0\x80"), r + r + r);          // a surrogate
  EXPECT_EQ(escaped("\xe2\x82"), r + r);                  // truncated
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(escaped(std::string("x\0y", 3)), "x" + r + "y");
  EXPECT_EQ(escaped("\x1b[31m\x7f\xc2\x85"), r + "[31m" + r + r);
  EXPECT_EQ(escaped("\xc2\x80\xc2\x9f\xc2\xa0"), r + r + "\xc2\xa0");  // C1 ends; NBSP is text
}

TEST(HtmlEscape, CutsLongValuesAtACharacterBoundary) {
  EXPECT_EQ(escaped("abcdef", 3), "abc\xe2\x80\xa6");
  EXPECT_EQ(escaped("ab\xc3\xa9z", 3), "ab\xe2\x80\xa6");  // never half of the é
  EXPECT_EQ(escaped("abc", 3), "abc");
}

TEST(StatusText, PercentNeverRoundsUpToAFullHundred) {
  EXPECT_EQ(status_text::percent(1.0), "100%");
  EXPECT_EQ(status_text::percent(0.99999), "99.99%");
  EXPECT_EQ(status_text::percent(0.5), "50.00%");
  EXPECT_EQ(status_text::percent(0), "0%");
}

TEST(StatusText, DurationsAndTimes) {
  EXPECT_EQ(status_text::duration(45'000), "45 s");
  EXPECT_EQ(status_text::duration(12 * 60'000 + 5'000), "12 min");
  EXPECT_EQ(status_text::duration(3 * 3'600'000 + 5 * 60'000), "3 h 5 min");
  EXPECT_EQ(status_text::duration(2 * day + 4 * hour), "2 d 4 h");
  EXPECT_EQ(status_text::utc(now_ms), "2026-12-02 08:26 UTC");
  EXPECT_EQ(status_text::utc(now_ms, false), "2026-12-02");
  EXPECT_EQ(status_text::interval(30'000), "30 s");
  EXPECT_EQ(status_text::interval(300'000), "5 min");
}

TEST(StatusPage, OverallStateCountsDownChecks) {
  status_view v;
  v.generated_at_ms = now_ms;
  v.checks = {plain_check("a", status_state::up), plain_check("b", status_state::down),
              plain_check("c", status_state::up)};
  EXPECT_NE(render_status_page(v).find("<div class=\"ov down\" id=overall>1 of 3 checks down"),
            std::string::npos);
  v.checks[1].state = status_state::up;
  EXPECT_NE(render_status_page(v).find("<div class=\"ov up\" id=overall>All 3 checks up"),
            std::string::npos);
  v.checks[1].state = status_state::unknown;
  EXPECT_NE(render_status_page(v).find("2 of 3 checks up, the others have no result yet"),
            std::string::npos);
  v.checks.clear();
  EXPECT_NE(render_status_page(v).find("<div class=\"ov unknown\" id=overall>No checks</div>"),
            std::string::npos);
  v.checks = {plain_check("a", status_state::up), plain_check("b", status_state::unknown),
              plain_check("c", status_state::up)};
  EXPECT_NE(render_status_page(v).find("2 of 3 checks up, the others have no result yet"),
            std::string::npos);
}

TEST(StatusPage, IsOneSelfContainedDocumentWithoutScript) {
  const std::string page = render_status_page(testing::sample_status_view(20, now_ms));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<meta name=viewport"), std::string::npos);
  EXPECT_NE(page.find("<title>isitup status</title>"), std::string::npos);
  EXPECT_NE(page.find("<h1>isitup status</h1>"), std::string::npos);
  for (const char* forbidden :
       {"<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import", "onload="})
    EXPECT_EQ(page.find(forbidden), std::string::npos) << forbidden;
  EXPECT_EQ(count(page, "<article "), 20u);
  EXPECT_EQ(count(page, "</article>"), 20u);
}

TEST(StatusPage, RefreshesItselfOnlyWhenAsked) {
  status_view v;
  v.generated_at_ms = now_ms;
  EXPECT_EQ(render_status_page(v).find("http-equiv=refresh"), std::string::npos);
  v.refresh_seconds = 60;
  EXPECT_NE(render_status_page(v).find("<meta http-equiv=refresh content=60>"), std::string::npos);
}

TEST(StatusPage, ShowsStateUptimeBarAndPlotPerCheck) {
  status_view v;
  v.generated_at_ms = now_ms;
  check_view c = plain_check("api", status_state::up);
  c.uptime.h24 = 0.99999;
  c.uptime.d7 = 0.5;
  const int64_t first = (now_ms / day - 2) * day;
  c.segments = {{first, first + day, 0, 0},
                {first + day, first + 2 * day, 100, 100},
                {first + 2 * day, first + 3 * day, 100, 90}};
  c.latency = {{now_ms - 3'600'000, 100, 300}, {now_ms - 1'800'000, 120, 250}};
  v.checks.push_back(c);
  const std::string page = render_status_page(v);
  EXPECT_NE(page.find("<article class=up><h3>api<b>up</b></h3>"), std::string::npos);
  EXPECT_NE(page.find("24 h <b>99.99%</b>"), std::string::npos);
  EXPECT_NE(page.find("7 d <b>50.00%</b>"), std::string::npos);
  EXPECT_NE(page.find("30 d <b>\xe2\x80\x94</b>"), std::string::npos);  // no data: a dash
  EXPECT_EQ(count(page, "<rect "), 3u);
  EXPECT_NE(page.find("class=n><title>2026-11-30: no data</title>"), std::string::npos);
  EXPECT_NE(page.find("class=r><title>2026-12-02: 90.00% up (90 of 100)</title>"),
            std::string::npos);
  EXPECT_NE(page.find("<svg class=t"), std::string::npos);
  EXPECT_NE(page.find("p50</span> 120 ms, <span class=k95>p95</span> 250 ms"), std::string::npos);
  // Two points half an hour apart: one subpath, x in 15-min steps, y from the top (40) down.
  EXPECT_NE(page.find("<path class=z d=\"M92 0l2 7\"/>"), std::string::npos);
}

TEST(StatusPage, MergesFullyUpDaysIntoOneSegment) {
  status_view v;
  v.generated_at_ms = now_ms;
  check_view c = plain_check("api", status_state::up);
  const int64_t first = (now_ms / day - 89) * day;
  for (int d = 0; d < 90; ++d)
    c.segments.push_back({first + d * day, first + (d + 1) * day, 10, 10});
  c.segments[40].up = 5;
  v.checks.push_back(c);
  const std::string page = render_status_page(v);
  EXPECT_EQ(count(page, "<rect "), 3u);
  EXPECT_NE(page.find("<title>2026-09-04 \xe2\x80\x93 2026-10-13: 100% up (400 of 400)</title>"),
            std::string::npos);
}

TEST(StatusPage, NoLatencyDataSaysSoInsteadOfAPlot) {
  status_view v;
  v.generated_at_ms = now_ms;
  check_view c = plain_check("api", status_state::up);
  c.latency = {{now_ms - 2 * day, 1, 2}};  // older than 24 h
  v.checks.push_back(c);
  const std::string page = render_status_page(v);
  EXPECT_EQ(page.find("<svg class=t"), std::string::npos);
  EXPECT_NE(page.find("No response times in the last 24 h."), std::string::npos);
}

TEST(StatusPage, GroupsInOrderOfFirstAppearanceUngroupedLast) {
  status_view v;
  v.generated_at_ms = now_ms;
  v.checks = {plain_check("x", status_state::up), plain_check("b1", status_state::up, "beta"),
              plain_check("a1", status_state::down, "alpha"),
              plain_check("b2", status_state::up, "beta")};
  const std::string page = render_status_page(v);
  const std::size_t beta = page.find("<h2>beta <span class=m>2 of 2 up</span>");
  const std::size_t alpha = page.find("<h2>alpha <span class=m>0 of 1 up</span>");
  const std::size_t other = page.find("<h2>Other checks <span class=m>1 of 1 up</span>");
  ASSERT_NE(beta, std::string::npos);
  ASSERT_NE(alpha, std::string::npos);
  ASSERT_NE(other, std::string::npos);
  EXPECT_LT(beta, alpha);
  EXPECT_LT(alpha, other);
  EXPECT_LT(page.find(">b2<"), alpha);
}

TEST(StatusPage, HalfHourlySegmentsSayTheirTime) {
  status_view v;
  v.generated_at_ms = now_ms;
  check_view c = plain_check("api", status_state::up);
  const int64_t half = 1'800'000, first = (now_ms / half - 47) * half;
  for (int k = 0; k < 48; ++k)
    c.segments.push_back({first + k * half, first + (k + 1) * half, 60, k == 47 ? 59u : 60u});
  v.checks.push_back(c);
  const std::string page = render_status_page(v);
  EXPECT_NE(page.find("viewBox=\"0 0 48 10\""), std::string::npos);
  EXPECT_NE(page.find("aria-label=\"Uptime per 30 min, oldest first\""), std::string::npos);
  EXPECT_NE(page.find("<title>2026-12-01 08:30 UTC \xe2\x80\x93 2026-12-02 07:59 UTC: 100% up "
                      "(2,820 of 2,820)</title>"),
            std::string::npos);
  EXPECT_NE(page.find("<title>2026-12-02 08:00 UTC: 98.33% up (59 of 60)</title>"),
            std::string::npos);
}

TEST(StatusPage, ManyGroupsStayInOrder) {
  status_view v;
  v.generated_at_ms = now_ms;
  for (int i = 0; i < 2000; ++i)
    v.checks.push_back(
        plain_check("c" + std::to_string(i), status_state::up, "g" + std::to_string(i % 1000)));
  const std::string page = render_status_page(v);
  EXPECT_LT(page.find("<h2>g0 <span class=m>2 of 2 up"), page.find("<h2>g1 <span class=m>"));
  EXPECT_LT(page.find(">c1000<"), page.find("<h2>g1 <span class=m>"));
  EXPECT_EQ(count(page, "<section class=grp>"), 1000u);
}

TEST(StatusPage, IncidentsOpenFirstWithDurationAndCause) {
  status_view v;
  v.generated_at_ms = now_ms;
  v.checks = {plain_check("web", status_state::down), plain_check("db", status_state::up)};
  v.incidents = {
      {"1", "db", "timeout", "no answer", now_ms - day, now_ms - day + 15 * minute, {}},
      {"2", "web", "http_status", "503", now_ms - 2 * hour - 5 * minute, 0, {"eu", "us"}}};
  const std::string page = render_status_page(v);
  const std::size_t open = page.find(
      "<li class=down><b>web</b> down for 2 h 5 min, since 2026-12-02 06:21 UTC: <span "
      "class=e>http_status \xe2\x80\x94 503</span> <span class=m>(at eu, us)</span></li>");
  const std::size_t resolved =
      page.find("<li><b>db</b> was down 15 min, from 2026-12-01 08:26 UTC");
  ASSERT_NE(open, std::string::npos);
  ASSERT_NE(resolved, std::string::npos);
  EXPECT_LT(open, resolved);
  EXPECT_NE(page.find("<div class=e>Incident open since 2026-12-02 06:21 UTC"), std::string::npos);
}

TEST(StatusPage, HostileValuesCannotChangeTheMarkup) {
  const auto view = [](const std::string& evil) {
    status_view v;
    v.generated_at_ms = now_ms;
    v.title = evil;
    v.agent = evil;
    v.location = evil;
    check_view c = plain_check(evil, status_state::down, evil);
    c.plugin = evil;
    c.target = evil;
    c.last = last_result_view{now_ms, false, evil, evil, std::nullopt, std::nullopt};
    c.latency = {{now_ms - 1000, 1, 2}};
    v.checks = {c, plain_check("ok", status_state::up, evil)};
    v.incidents = {{evil, evil, evil, evil, now_ms - 1000, 0, {evil}},
                   {evil, evil, evil, evil, now_ms - 9000, now_ms - 5000, {evil, evil}}};
    return v;
  };
  const std::string benign = render_status_page(view("benign"));
  const std::string hostile_text =
      "</title></style></h3><script>alert('x')</script><img src=x onerror=alert(1)>"
      "<svg onload=alert(1)><!--\"' \xff\x1b&amp;";
  const std::string hostile = render_status_page(view(hostile_text));
  EXPECT_EQ(tags(hostile), tags(benign));
  EXPECT_EQ(hostile.find("<script"), std::string::npos);
  EXPECT_EQ(hostile.find('\xff'), std::string::npos);
  EXPECT_EQ(hostile.find('\x1b'), std::string::npos);
  EXPECT_NE(hostile.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(hostile.find("&amp;amp;"), std::string::npos);
}

TEST(StatusPage, LongHostileValuesAreCut) {
  status_view v;
  v.generated_at_ms = now_ms;
  check_view c = plain_check(std::string(100'000, 'n'), status_state::down);
  c.last = last_result_view{now_ms,       false,       "kind", std::string(1'000'000, 'm'),
                            std::nullopt, std::nullopt};
  v.checks.push_back(c);
  EXPECT_LT(render_status_page(v).size(), 10'000u);
}

// 1,000 checks with 90 days of history and a 24 h plot each make a dense page (one SVG per
// check) under 500 KB of HTML, before compression (which takes it to about a tenth). The time
// it takes is measured in bench/status_page; the bound here only catches a blunder.
TEST(StatusPage, AThousandChecksStayUnder500KB) {
  const status_view v = testing::sample_status_view(1000, now_ms);
  for (const check_view& c : v.checks) {
    ASSERT_EQ(c.segments.size(), 90u);
    ASSERT_EQ(c.latency.size(), 48u);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string page = render_status_page(v);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_LT(page.size(), 500'000u) << page.size();
  uLongf packed_size = compressBound(static_cast<uLong>(page.size()));
  std::vector<Bytef> packed(packed_size);
  ASSERT_EQ(compress2(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(page.data()),
                      static_cast<uLong>(page.size()), 6),
            Z_OK);
  EXPECT_LT(packed_size, 100'000u) << packed_size;
  EXPECT_EQ(count(page, "<article "), 1000u);
  EXPECT_EQ(count(page, "<svg viewBox=\"0 0 90 56\" preserveAspectRatio=none><title>"), 1000u);
  EXPECT_EQ(count(page, "<path d=\"M"), 2000u);  // p95 and p50 of every check
  EXPECT_NE(page.find("11 of 1,000 checks down"), std::string::npos);
  // Each day below the bar's main colour keeps its figure in the tooltip.
  const check_view& first = v.checks[0];
  std::size_t off_days = 0;
  for (const status_segment& s : first.segments) off_days += s.up < s.total;
  const std::size_t card = page.find("<article class=up><h3>" + first.name);
  ASSERT_NE(card, std::string::npos);
  const std::string svg = page.substr(card, page.find("</article>", card) - card);
  EXPECT_EQ(count(svg, "<rect x="), off_days) << svg;
  EXPECT_NE(svg.find(", else \xe2\x89\xa5"
                     "99.9%; p50 "),
            std::string::npos)
      << svg;
}

TEST(StatusPage, ADenseBarListsItsOffDaysAndDrawsMostlyGreyBarsGrey) {
  status_view v;
  v.generated_at_ms = now_ms;
  const int64_t first = (now_ms / day - 89) * day;
  for (int i = 0; i < 101; ++i) {
    check_view c = plain_check("c" + std::to_string(i), status_state::up);
    for (int d = 0; d < 90; ++d)
      c.segments.push_back({first + d * day, first + (d + 1) * day, 0, 0});
    v.checks.push_back(std::move(c));
  }
  // c0: 5 days of data at the end, two of them with failures.
  for (int d = 85; d < 90; ++d) v.checks[0].segments[d].total = v.checks[0].segments[d].up = 100;
  v.checks[0].segments[87].up = 90;
  v.checks[0].segments[88].up = 90;
  const std::string page = render_status_page(v);
  const std::size_t card = page.find("<article class=up><h3>c0<b>");
  ASSERT_NE(card, std::string::npos);
  const std::string c0 = page.substr(card, page.find("</article>", card) - card);
  EXPECT_NE(c0.find("<rect width=90 class=n /><rect x=85 width=1.8 class=g /><rect x=87 "
                    "width=1.8 class=r /><rect x=89 class=g />"),
            std::string::npos)
      << c0;
  EXPECT_NE(c0.find("<title>11-28\xe2\x80\x93"
                    "11-29 100%, 11-30\xe2\x80\x93"
                    "12-01 90.00%, "
                    "12-02 100%, else no data</title>"),
            std::string::npos)
      << c0;
}

TEST(StatusPage, AHundredChecksKeepTheFullCards) {
  const std::string page = render_status_page(testing::sample_status_view(100, now_ms));
  EXPECT_EQ(count(page, "<svg class=b "), 100u);
  EXPECT_EQ(count(page, "<svg class=t "), 100u);
  EXPECT_EQ(count(page, "<svg viewBox="), 0u);
}

}  // namespace
}  // namespace isitup
