#include <isitup/core/status_from_history.hpp>

#include <gtest/gtest.h>

#include <isitup/core/status_page.hpp>

namespace isitup {
namespace {

constexpr int64_t day = 86'400'000, hour = 3'600'000, half = 1'800'000;
constexpr int64_t today = 1'796'169'600'000;  // 2026-12-02 00:00 UTC
constexpr int64_t now_ms = today + 10 * hour;

record result(int64_t at, bool up, double total_ms, const std::string& kind = "",
              const std::string& message = "") {
  record r;
  r.check = "shop";
  r.scheduled_at_ms = at;
  r.up = up;
  r.total_ms = total_ms;
  r.error_kind = kind;
  r.error_message = message;
  if (up) r.http_code = 200;
  return r;
}

check_info shop_info() {
  return {"shop", "http_check", "https://shop.test/", "Public", 60'000, 5'000};
}

TEST(StatusFromHistory, ABrandNewCheckIsUnknownWithEmptyBars) {
  check_ring ring(shop_info(), 16);
  const status_view v = status_from_history({ring.snapshot()}, {}, now_ms, "a1", "eu");
  ASSERT_EQ(v.checks.size(), 1u);
  const check_view& c = v.checks[0];
  EXPECT_EQ(c.state, status_state::unknown);
  EXPECT_FALSE(c.last);
  EXPECT_FALSE(c.uptime.h24);
  ASSERT_EQ(c.segments.size(), 90u);
  EXPECT_EQ(c.segments.back().start_ms, today);
  EXPECT_EQ(c.segments.front().start_ms, today - 89 * day);
  EXPECT_EQ(c.segments.back().total, 0u);
  EXPECT_TRUE(c.latency.empty());
  EXPECT_EQ(v.agent, "a1");
  EXPECT_EQ(v.location, "eu");
  EXPECT_EQ(c.group, "Public");
}

TEST(StatusFromHistory, StateUptimeSegmentsAndLatencyFromTheRing) {
  check_ring ring(shop_info(), 1024);
  // 8 days ago: 2 results, 1 up (outside 7 d, inside 30 d).
  ring.add(result(today - 8 * day + 1000, true, 10));
  ring.add(result(today - 8 * day + 2000, false, -1, "connect", "refused"));
  // Yesterday: 4 up. Today: up just after 01:00 (10 and 30 ms) and at 01:10 (20 ms), then down
  // at 09:30.
  for (int k = 0; k < 4; ++k) ring.add(result(today - day + k * int64_t{60'000}, true, 100));
  ring.add(result(today + 3'600'000 + 1000, true, 10));
  ring.add(result(today + 3'600'000 + 2000, true, 30));
  ring.add(result(today + 3'600'000 + 600'000, true, 20));
  ring.add(result(today + 9 * hour + half, false, -1, "http_status", "HTTP 503"));
  const status_view v = status_from_history({ring.snapshot()}, {}, now_ms, "", "");
  const check_view& c = v.checks[0];
  EXPECT_EQ(c.state, status_state::down);
  EXPECT_EQ(c.state_since_ms, today + 9 * hour + half);
  ASSERT_TRUE(c.last);
  EXPECT_FALSE(c.last->up);
  EXPECT_EQ(c.last->error_kind, "http_status");
  EXPECT_EQ(c.last->error_message, "HTTP 503");
  // 24 h = the half hours from yesterday 10:30: yesterday's results (00:00-00:03) are outside.
  EXPECT_DOUBLE_EQ(*c.uptime.h24, 3.0 / 4);
  EXPECT_DOUBLE_EQ(*c.uptime.d7, 7.0 / 8);
  EXPECT_DOUBLE_EQ(*c.uptime.d30, 8.0 / 10);
  EXPECT_DOUBLE_EQ(*c.uptime.d90, 8.0 / 10);
  EXPECT_EQ(c.segments[89].total, 4u);
  EXPECT_EQ(c.segments[89].up, 3u);
  EXPECT_EQ(c.segments[88].total, 4u);
  EXPECT_EQ(c.segments[81].total, 2u);
  EXPECT_EQ(c.segments[81].up, 1u);
  // One half hour with three up results (10, 30, 20 ms): p50 20, p95 29 (interpolated).
  ASSERT_EQ(c.latency.size(), 1u);
  EXPECT_EQ(c.latency[0].at_ms, today + hour);  // the half hour (01:00, 01:30]
  EXPECT_DOUBLE_EQ(c.latency[0].p50_ms, 20);
  EXPECT_DOUBLE_EQ(c.latency[0].p95_ms, 29);
  // And the page shows it.
  const std::string page = render_status_page(v);
  EXPECT_NE(page.find("<h3>shop<b>down</b></h3>"), std::string::npos);
  EXPECT_NE(page.find("24 h <b>75.00%</b>"), std::string::npos);
}

}  // namespace
}  // namespace isitup
