// The status page's history from a sink (sink_history.hpp) merged with the agent's memory
// (status_from_history), through a fake sink's read_history as the agent calls it.
#include <isitup/core/sink_history.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <isitup/core/status_from_history.hpp>
#include <isitup/core/status_page.hpp>

namespace isitup {
namespace {

using namespace std::chrono_literals;

constexpr int64_t day = 86'400'000, hour = 3'600'000;
constexpr int64_t today = 1'796'169'600'000;  // 2026-12-02 00:00 UTC
constexpr int64_t now_ms = today + 10 * hour + 600'000;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

struct fake_bucket {
  std::string check;
  int64_t start_ms, length_ms;
  uint64_t results, up;
  double p50 = nan, p95 = nan;
};

// A sink's read_history over a fixed list: hands over every bucket of the asked length
// (whatever its start: the host must filter), or fails with `error`.
struct fake_sink {
  std::vector<fake_bucket> buckets;
  std::string error;
  std::vector<std::pair<int64_t, int64_t>> asked;  // (from, to) per call
  int64_t timeout_seen = 0;

  isitup_sink_ops_v1 ops() {
    isitup_sink_ops_v1 o{};
    o.struct_size = sizeof o;
    o.sink_flags = ISITUP_SINK_HISTORY;
    o.read_history = [](void* inst, int64_t from, int64_t to, int64_t length, isitup_history_fn fn,
                        void* ctx, int64_t timeout_ms, char* err, size_t cap) -> uint32_t {
      auto* s = static_cast<fake_sink*>(inst);
      s->asked.emplace_back(from, to);
      s->timeout_seen = timeout_ms;
      if (!s->error.empty()) {
        std::snprintf(err, cap, "%s", s->error.c_str());
        return ISITUP_RETRY;
      }
      for (const fake_bucket& b : s->buckets) {
        if (b.length_ms != length) continue;
        const isitup_history_bucket_v1 c{sizeof c,   b.check.data(), b.check.size(),
                                         b.start_ms, b.length_ms,    b.results,
                                         b.up,       b.p50,          b.p95};
        fn(ctx, &c);
      }
      return ISITUP_OK;
    };
    return o;
  }
  sink_history read(int64_t at = now_ms) {
    const isitup_sink_ops_v1 o = ops();
    return read_sink_history(o, this, "pg", at, 1500);
  }
};

record result(const std::string& check, int64_t at, bool up, double total_ms) {
  record r;
  r.check = check;
  r.scheduled_at_ms = at;
  r.up = up;
  r.total_ms = total_ms;
  if (!up) r.error_kind = "connect";
  return r;
}

check_info info(const std::string& name) {
  return {name, "http_check", "https://" + name + ".test/", "", 60'000, 5'000};
}

// shop: 60 days of 1,440 results, all up but 720 down the day before yesterday; the last 24
// hours with 60 results each (p50 40, p95 90) but one hour with 6 down.
fake_sink shop_sink() {
  fake_sink s;
  for (int64_t d = 59; d >= 0; --d)
    s.buckets.push_back({"shop", today - d * day, day, 1440, d == 2 ? 720u : 1440u});
  for (int64_t h = 23; h >= 0; --h)
    s.buckets.push_back(
        {"shop", today + 10 * hour - h * hour, hour, 60, h == 5 ? 54u : 60u, 40.0, 90.0});
  return s;
}

TEST(SinkHistory, AChecksWindowsSegmentsAndPlotComeFromTheSinkPlusWhatCameSince) {
  fake_sink sink = shop_sink();
  const int64_t asked = now_ms - 120'000;
  const sink_history h = sink.read(asked);
  ASSERT_TRUE(h.ok) << h.error;
  ASSERT_EQ(sink.asked.size(), 2u);
  EXPECT_EQ(sink.asked[0], std::make_pair(today - 89 * day, today + day));
  EXPECT_EQ(sink.asked[1], std::make_pair(today - 13 * hour, today + 11 * hour));
  EXPECT_EQ(sink.timeout_seen, 1500);

  // Memory: a ring that holds only the last minutes; two results after the sink was asked
  // (one down) and one before it (already in the sink: not counted again).
  check_ring ring(info("shop"), 64);
  ring.add(result("shop", asked - 60'000, true, 35));
  ring.add(result("shop", asked + 10'000, true, 30));
  ring.add(result("shop", asked + 70'000, false, -1));
  const status_view v = status_from_history({ring.snapshot()}, {}, now_ms, "w1", "", &h);
  ASSERT_EQ(v.checks.size(), 1u);
  const check_view& c = v.checks[0];
  EXPECT_EQ(c.state, status_state::down);  // memory's last result wins
  ASSERT_EQ(c.segments.size(), 90u);
  EXPECT_EQ(c.segments[89].start_ms, today);
  EXPECT_EQ(c.segments[89].total, 1442u);
  EXPECT_EQ(c.segments[89].up, 1441u);
  EXPECT_EQ(c.segments[87].up, 720u);
  EXPECT_EQ(c.segments[30].total, 1440u);  // 59 days ago
  EXPECT_EQ(c.segments[29].total, 0u);     // 60 days ago: no data
  const double all_days = 60 * 1440 + 2, up_days = all_days - 720 - 1;
  EXPECT_DOUBLE_EQ(*c.uptime.d90, up_days / all_days);
  EXPECT_DOUBLE_EQ(*c.uptime.d30, (30 * 1440 + 2 - 720 - 1) / (30.0 * 1440 + 2));
  EXPECT_DOUBLE_EQ(*c.uptime.d7, (7 * 1440 + 2 - 720 - 1) / (7.0 * 1440 + 2));
  EXPECT_DOUBLE_EQ(*c.uptime.h24, (24 * 60 + 2 - 6 - 1) / (24.0 * 60 + 2));
  // 24 hourly points from the sink; memory's half hour is not after the last of them.
  ASSERT_EQ(c.latency.size(), 24u);
  EXPECT_EQ(c.latency.front().at_ms, today + 10 * hour - 23 * hour);
  EXPECT_EQ(c.latency.back().at_ms, today + 10 * hour);
  EXPECT_DOUBLE_EQ(c.latency.back().p95_ms, 90);
  EXPECT_NE(v.history_note.find("History of 1 check from sink pg"), std::string::npos)
      << v.history_note;
  const std::string page = render_status_page(v);
  EXPECT_NE(page.find("History of 1 check from sink pg"), std::string::npos);
}

TEST(SinkHistory, ChecksOnlyTheSinkKnowsFollowWithStateFromIncidentsOrTheLastHours) {
  fake_sink sink;
  for (const char* name : {"b-writer", "a-writer", "c-quiet"})
    sink.buckets.push_back({name, today, day, 100, 50});
  sink.buckets.push_back({"a-writer", today + 10 * hour, hour, 10, 10, 20, 30});
  sink.buckets.push_back({"b-writer", today + 9 * hour, hour, 10, 0});
  sink.buckets.push_back({"c-quiet", today + 2 * hour, hour, 10, 0});  // not in the last 2 h
  const sink_history h = sink.read();
  check_ring local(info("local"), 16);
  local.add(result("local", now_ms - 1000, true, 12));
  incident_view open{"id1", "a-writer", "timeout", "no answer", now_ms - 300'000, 0, {"eu"}};
  const status_view v = status_from_history({local.snapshot()}, {open}, now_ms, "", "", &h);
  ASSERT_EQ(v.checks.size(), 4u);
  EXPECT_EQ(v.checks[0].name, "local");
  EXPECT_EQ(v.checks[0].state, status_state::up);
  EXPECT_EQ(v.checks[0].segments[89].total, 1u);  // memory only
  EXPECT_EQ(v.checks[1].name, "a-writer");
  EXPECT_EQ(v.checks[1].state, status_state::down);  // its incident, though the hour was up
  EXPECT_EQ(v.checks[1].state_since_ms, now_ms - 300'000);
  EXPECT_EQ(v.checks[2].name, "b-writer");
  EXPECT_EQ(v.checks[2].state, status_state::down);  // no result up in the last two hours
  EXPECT_EQ(v.checks[3].name, "c-quiet");
  EXPECT_EQ(v.checks[3].state, status_state::unknown);
  EXPECT_DOUBLE_EQ(*v.checks[3].uptime.d90, 0.5);
  EXPECT_NE(v.history_note.find("History of 3 checks"), std::string::npos) << v.history_note;
}

TEST(SinkHistory, HostileBucketsAreDroppedAndCounted) {
  fake_sink sink;
  sink.buckets = {
      {"ok", today, day, 10, 10},
      {"misaligned", today + 1, day, 10, 10},
      {"too-old", today - 90 * day, day, 10, 10},
      {"future", today + day, day, 10, 10},
      {"more-up", today, day, 10, 11},
      {"inf", today + 10 * hour, hour, 10, 10, std::numeric_limits<double>::infinity(), 1},
      {"negative", today + 10 * hour, hour, 10, 10, -5, 1},
      {std::string(sink_history::max_name + 1, 'x'), today, day, 10, 10},
      {"", today, day, 10, 10},
      {"empty", today, day, 0, 0},
      {"huge", today, day, uint64_t{1} << 40, 0},
  };
  sink_history h = sink.read();
  ASSERT_TRUE(h.ok);
  EXPECT_EQ(h.checks.size(), 1u);
  EXPECT_EQ(h.checks.count("ok"), 1u);
  EXPECT_EQ(h.dropped, sink.buckets.size() - 1);
  // A NUL inside a name is kept as given (the renderer escapes it); a bucket without a name
  // pointer is dropped.
  isitup_history_bucket_v1 b{sizeof b, nullptr, 3, today, day, 1, 1, nan, nan};
  h.add(b, day);
  EXPECT_EQ(h.dropped, sink.buckets.size());
}

TEST(SinkHistory, AtMostMaxChecksAreKept) {
  sink_history h = sink_history::for_time("pg", now_ms);
  for (std::size_t i = 0; i < sink_history::max_checks + 5; ++i) {
    const std::string name = "c" + std::to_string(i);
    const isitup_history_bucket_v1 b{sizeof b, name.data(), name.size(), today, day,
                                     1,        1,           nan,         nan};
    h.add(b, day);
  }
  EXPECT_EQ(h.checks.size(), sink_history::max_checks);
  EXPECT_EQ(h.dropped, 5u);
}

TEST(SinkHistory, AFailedReadShowsMemoryOnlyAndSaysWhy) {
  fake_sink sink = shop_sink();
  sink.error = "statement timeout <b>";
  const sink_history h = sink.read();
  EXPECT_FALSE(h.ok);
  EXPECT_TRUE(h.checks.empty());
  EXPECT_EQ(sink.asked.size(), 1u);  // the hours are not asked once the days failed
  check_ring ring(info("shop"), 16);
  ring.add(result("shop", now_ms - 1000, true, 12));
  const status_view v = status_from_history({ring.snapshot()}, {}, now_ms, "", "", &h);
  EXPECT_EQ(v.checks[0].segments[89].total, 1u);
  EXPECT_EQ(v.history_note,
            "History from sink pg unavailable (statement timeout <b>); memory only.");
  const std::string page = render_status_page(v);
  EXPECT_NE(page.find("statement timeout &lt;b&gt;"), std::string::npos);
  EXPECT_EQ(page.find("timeout <b>"), std::string::npos);
}

TEST(SinkHistoryCache, OneReadAtATimeCachedForItsMaxAge) {
  std::atomic<int64_t> clock{now_ms};
  std::atomic<int> calls{0}, in_read{0}, overlap{0};
  sink_history_cache cache(
      [&](int64_t at) {
        if (in_read.fetch_add(1) > 0) overlap.fetch_add(1);
        calls.fetch_add(1);
        std::this_thread::sleep_for(100ms);
        in_read.fetch_sub(1);
        sink_history h = sink_history::for_time("pg", at);
        h.ok = true;
        return h;
      },
      [&] { return clock.load(); }, 30s);
  std::vector<std::thread> pages;
  pages.reserve(6);
  std::atomic<int> answered{0};
  for (int i = 0; i < 6; ++i)
    pages.emplace_back([&] {
      if (cache.get(5s)) answered.fetch_add(1);
    });
  for (auto& t : pages) t.join();
  EXPECT_EQ(answered.load(), 6);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_NE(cache.get(0ms), nullptr);
  EXPECT_EQ(calls.load(), 1);  // still fresh
  clock += 31'000;
  const auto again = cache.get(5s);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->asked_at_ms, now_ms + 31'000);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(overlap.load(), 0);
}

TEST(SinkHistoryCache, APageWaitsNoLongerThanItsBoundForASlowSink) {
  std::atomic<bool> release{false};
  sink_history_cache cache(
      [&](int64_t at) {
        while (!release) std::this_thread::sleep_for(5ms);
        return sink_history::for_time("pg", at);
      },
      [] { return now_ms; });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(cache.get(50ms), nullptr);  // no answer yet: memory only
  EXPECT_EQ(cache.get(50ms), nullptr);  // the read still runs: not asked twice
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  release = true;
  EXPECT_NE(cache.get(5s), nullptr);
  EXPECT_EQ(cache.reads(), 1u);
}

}  // namespace
}  // namespace isitup
