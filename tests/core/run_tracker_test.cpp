// run_tracker: the watchdog's deadlines come back earliest first whatever order they were
// watched in, each once; the count of runs out and whether an end should wake a waiter.
#include <isitup/core/run_tracker.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace isitup {
namespace {

TEST(run_tracker, expired_runs_come_back_earliest_first_and_only_once_due) {
  run_tracker t;
  std::vector<run_ctx> runs(6);
  const std::vector<int64_t> deadlines{3000, 1000, 5000, 1000, 4000, 2000};
  for (std::size_t i = 0; i < runs.size(); ++i) {
    runs[i].check = static_cast<uint32_t>(i);
    t.watch(&runs[i], deadlines[i]);
  }
  EXPECT_EQ(t.next_deadline(), 1000);
  EXPECT_EQ(t.take_expired(999), nullptr);
  std::vector<int64_t> seen;
  while (run_ctx* r = t.take_expired(4000)) seen.push_back(deadlines[r->check]);
  EXPECT_EQ(seen, (std::vector<int64_t>{1000, 1000, 2000, 3000, 4000}));
  EXPECT_EQ(t.next_deadline(), 5000);
  // Watched again later (a blocking run still queued): due at its new deadline.
  t.watch(&runs[1], 4500);
  EXPECT_EQ(t.take_expired(4600), &runs[1]);
  EXPECT_EQ(t.take_expired(4600), nullptr);
  EXPECT_EQ(t.take_expired(5000), &runs[2]);
  EXPECT_FALSE(t.next_deadline().has_value());
}

TEST(run_tracker, deadlines_in_and_out_of_order_interleave_earliest_first_past_a_regrowth) {
  // Two timeouts (1 s and 3 s) started 1 ms apart: each run's deadline is later than the one
  // before of its timeout, not of the other's, so both the in-order ring (grown past its first
  // capacity while entries wrap around) and the out-of-order heap hold entries.
  run_tracker t;
  std::vector<run_ctx> runs(600);
  std::vector<int64_t> deadlines, seen;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto start = static_cast<int64_t>(i);
    deadlines.push_back(start + (i % 3 == 0 ? 1000 : 3000));
    runs[i].check = static_cast<uint32_t>(i);
    t.watch(&runs[i], deadlines.back());
    if (i == 200)  // take the first ones due while more are watched after them
      while (run_ctx* r = t.take_expired(1100)) seen.push_back(deadlines[r->check]);
  }
  ASSERT_FALSE(seen.empty());
  while (run_ctx* r = t.take_expired(2000)) seen.push_back(deadlines[r->check]);
  while (run_ctx* r = t.take_expired(1'000'000)) seen.push_back(deadlines[r->check]);
  std::vector<int64_t> want = deadlines;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);
  EXPECT_FALSE(t.next_deadline().has_value());
  // The ring wraps: take some, watch more in order, all come back in order.
  for (std::size_t i = 0; i < 100; ++i) t.watch(&runs[i], 5000 + static_cast<int64_t>(i));
  for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(t.take_expired(6000), &runs[i]);
  for (std::size_t i = 100; i < 200; ++i) t.watch(&runs[i], 5000 + static_cast<int64_t>(i));
  for (std::size_t i = 40; i < 200; ++i) ASSERT_EQ(t.take_expired(6000), &runs[i]) << i;
  EXPECT_EQ(t.take_expired(6000), nullptr);
}

TEST(run_tracker, release_all_drops_the_watchdogs_reference_of_every_run) {
  run_tracker t;
  auto* kept = new run_ctx;  // refs_async: the plugin's and the watchdog's
  auto* last = new run_ctx;
  last->refs = 1;  // the plugin has completed: only the watchdog holds it
  t.watch(kept, 10);
  t.watch(last, 20);
  t.release_all();
  EXPECT_EQ(kept->refs.load(), 1);  // `last` was freed (ASan would see a leak otherwise)
  EXPECT_FALSE(t.next_deadline().has_value());
  kept->release();
}

TEST(run_tracker, an_end_wakes_only_once_someone_waits_for_runs_to_end) {
  run_tracker t;
  t.started();
  t.started();
  EXPECT_EQ(t.outstanding(), 2);
  EXPECT_FALSE(t.ended());
  t.wake_on_end();
  EXPECT_TRUE(t.ended());
  EXPECT_EQ(t.outstanding(), 0);
}

TEST(run_tracker, a_run_ends_once_whoever_ends_it_first) {
  run_ctx r;
  EXPECT_TRUE(r.end(run_state::ended_by_host));
  EXPECT_FALSE(r.end(run_state::completed));
  EXPECT_EQ(r.state.load(), run_state::ended_by_host);
}

}  // namespace
}  // namespace isitup
