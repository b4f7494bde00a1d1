// check_history (rings and buckets) and the Prometheus text writer, as units.
#include <isitup/core/check_history.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isitup/core/metrics_text.hpp>

namespace isitup {
namespace {

using ::testing::HasSubstr;

record result(int64_t at_ms, bool up, const std::string& kind = "", const std::string& msg = "") {
  record r;
  r.scheduled_at_ms = at_ms;
  r.up = up;
  r.error_kind = kind;
  r.error_message = msg;
  r.total_ms = 12.5;
  return r;
}

TEST(check_history, a_ring_keeps_the_newest_results_oldest_first) {
  check_ring ring({"c", "tcp_check", "h:1", "", 1000, 500}, 16);
  for (int i = 0; i < 40; ++i) ring.add(result(int64_t{1000} * i, true));
  const check_snapshot all = ring.snapshot();
  ASSERT_EQ(all.results.size(), 16u);
  EXPECT_EQ(all.results.front().at_ms, 24000);
  EXPECT_EQ(all.results.back().at_ms, 39000);
  EXPECT_EQ(all.total, 40u);
  EXPECT_EQ(all.capacity, 16u);
  const check_snapshot three = ring.snapshot(3);
  ASSERT_EQ(three.results.size(), 3u);
  EXPECT_EQ(three.results.front().at_ms, 37000);
  EXPECT_EQ(ring.last()->at_ms, 39000);
  EXPECT_FLOAT_EQ(ring.last()->total_ms, 12.5f);
  EXPECT_LT(ring.last()->dns_ms, 0);  // absent
  EXPECT_FALSE(check_ring({"e", "p", "t", "", 1, 1}, 4).last().has_value());
}

TEST(check_history, state_since_is_the_first_result_of_the_current_run) {
  check_ring ring({"c", "p", "t", "", 1000, 500}, 8);
  EXPECT_FALSE(ring.snapshot().up.has_value());
  ring.add(result(1000, true));
  ring.add(result(2000, true));
  EXPECT_EQ(ring.snapshot().state_since_ms, 1000);
  ring.add(result(3000, false, "connect_timeout_x", std::string(1000, 'm')));
  ring.add(result(4000, false, "connect", "refused"));
  const check_snapshot s = ring.snapshot();
  EXPECT_FALSE(*s.up);
  EXPECT_EQ(s.state_since_ms, 3000);
  EXPECT_EQ(s.last_error_message, "refused");
  EXPECT_STREQ(s.results[2].error_kind, "connect_timeout");  // cut to 15 bytes
  ring.add(result(5000, false, "x", std::string(1000, 'm')));
  EXPECT_EQ(ring.snapshot().last_error_message.size(), 256u);
}

TEST(check_history, buckets_count_per_half_hour_and_day) {
  check_ring ring({"c", "p", "t", "", 1000, 500}, 8);
  const int64_t day = check_ring::day_ms * 20000;  // a UTC midnight
  ring.add(result(day + 1, true));
  ring.add(result(day + 2, false));
  ring.add(result(day + check_ring::half_hour_ms, true));
  uint32_t halves = 0, days = 0;
  for (const auto& b : ring.snapshot().half_hours) {
    if (b.start_ms == day) {
      EXPECT_EQ(b.total, 2u);
      EXPECT_EQ(b.up, 1u);
    }
    halves += b.total;
  }
  EXPECT_EQ(halves, 3u);
  // 24 h later the first half hour's slot starts afresh; the day buckets keep both days.
  ring.add(result(day + check_ring::day_ms, true));
  const check_snapshot s = ring.snapshot();
  halves = 0;
  for (const auto& b : s.half_hours) halves += b.total;
  EXPECT_EQ(halves, 2u);
  for (const auto& b : s.days) {
    if (b.start_ms == day) {
      EXPECT_EQ(b.total, 3u);
      EXPECT_EQ(b.up, 2u);
    }
    days += b.total;
  }
  EXPECT_EQ(days, 4u);
  // 90 days later the same day slot starts afresh.
  ring.add(result(day + 90 * check_ring::day_ms, false));
  for (const auto& b : ring.snapshot().days) {
    if (b.start_ms == day + 90 * check_ring::day_ms) {
      EXPECT_EQ(b.total, 1u);
    }
    EXPECT_NE(b.start_ms, day);
  }
}

TEST(check_history, rings_are_kept_by_name_across_publishes) {
  check_history h;
  auto a = h.ring_for({"a", "p", "t", "", 1000, 500}, 2);
  auto b = h.ring_for({"b", "p", "t", "", 1000, 500}, 2);
  EXPECT_EQ(a->snapshot().capacity, 1024u);
  a->add(result(1, true));
  h.publish({a, b});
  EXPECT_EQ(h.rings().size(), 2u);
  auto again = h.ring_for({"a", "p", "t2", "G", 2000, 500}, 2);
  EXPECT_EQ(again, a);
  EXPECT_EQ(again->snapshot().info.target, "t2");
  EXPECT_EQ(again->snapshot().total, 1u);
  h.publish({again});
  EXPECT_EQ(h.find("b"), nullptr);
  EXPECT_EQ(h.find("a"), a);
  EXPECT_EQ(h.ring_for({"z", "p", "t", "", 1, 1}, 1'000'000)->snapshot().capacity, 16u);
}

TEST(metrics_text, families_samples_and_escaping) {
  prom_writer w;
  w.family("x_total", "counter", "Things.");
  w.sample("x_total", {{"name", "a\"b\\c\nd"}}, 3);
  w.sample("y", 0.25);
  EXPECT_EQ(w.text(),
            "# HELP x_total Things.\n# TYPE x_total counter\n"
            "x_total{name=\"a\\\"b\\\\c\\nd\"} 3\ny 0.25\n");
  latency_histogram h;
  h.observe_ms(0);
  h.observe_ms(3);
  h.observe_ms(60000);
  prom_writer hw;
  h.write(hw, "l");
  EXPECT_THAT(hw.text(), HasSubstr("l_bucket{le=\"0.001\"} 1\n"));
  EXPECT_THAT(hw.text(), HasSubstr("l_bucket{le=\"0.005\"} 2\n"));
  EXPECT_THAT(hw.text(), HasSubstr("l_bucket{le=\"10\"} 2\n"));
  EXPECT_THAT(hw.text(), HasSubstr("l_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(hw.text(), HasSubstr("l_sum 60.003\nl_count 3\n"));
}

}  // namespace
}  // namespace isitup
