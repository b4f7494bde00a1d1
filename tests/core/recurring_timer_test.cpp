// Recurring timers (timer_queue::schedule_recurring) on every timer_queue implementation, and
// the wheel's bounded work when a crowd of far-future timers comes within reach.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <isitup/core/timer_queue.hpp>
#include <isitup/core/timer_wheel.hpp>
#include "reference_queue.hpp"
#include "timer_queue_testing.hpp"

namespace isitup {
namespace {

using test::expire_all;
using test::expiry;
using test::k_block;
using test::k_day;
using test::queue_case;

class Recurring : public ::testing::TestWithParam<queue_case> {
 protected:
  std::unique_ptr<timer_queue> q = GetParam().make();
  const int64_t s = GetParam().start_ms;
};

TEST_P(Recurring, RearmsOnItsGridAndCountsMissedPeriods) {
  q->schedule_recurring(0, s + 100, 1000);
  EXPECT_EQ(q->next_due(), s + 100);
  EXPECT_EQ(expire_all(*q, s + 100), (std::vector<expiry>{{0, s + 100}}));
  EXPECT_TRUE(q->armed(0));  // re-armed, not disarmed
  EXPECT_EQ(q->size(), 1u);
  EXPECT_EQ(q->next_due(), s + 1100);
  EXPECT_EQ(expire_all(*q, s + 1099), std::vector<expiry>{});
  EXPECT_EQ(expire_all(*q, s + 1105), (std::vector<expiry>{{0, s + 1100}}));  // on the grid
  EXPECT_EQ(q->missed_periods(), 0u);
  // Four periods late: one expiry for the latest grid point, three counted as missed.
  EXPECT_EQ(expire_all(*q, s + 5350), (std::vector<expiry>{{0, s + 5100}}));
  EXPECT_EQ(q->missed_periods(), 3u);
  EXPECT_EQ(q->next_due(), s + 6100);
  EXPECT_TRUE(q->cancel(0));
  EXPECT_FALSE(q->armed(0));
  EXPECT_EQ(q->next_due(), std::nullopt);
  EXPECT_THROW(q->schedule_recurring(1, s, 0), std::invalid_argument);
  EXPECT_THROW(q->schedule_recurring(1, s, -5), std::invalid_argument);
}

TEST_P(Recurring, OrdersAfterTimersAlreadyArmedForItsNextDue) {
  q->schedule_recurring(0, s + 10, 10);
  q->schedule(1, s + 20);  // armed before 0's re-arm for s + 20
  EXPECT_EQ(expire_all(*q, s + 10), (std::vector<expiry>{{0, s + 10}}));
  EXPECT_EQ(expire_all(*q, s + 20), (std::vector<expiry>{{1, s + 20}, {0, s + 20}}));
  // Expired late, in one call: the latest grid point only, in due order with the rest.
  q->schedule(2, s + 35);
  EXPECT_EQ(expire_all(*q, s + 55), (std::vector<expiry>{{0, s + 50}, {2, s + 35}}));
  EXPECT_EQ(q->missed_periods(), 2u);
}

TEST_P(Recurring, CallbackMayStopMoveOrReplaceItsOwnTimer) {
  q->schedule_recurring(0, s + 10, 100);
  q->schedule_recurring(1, s + 10, 100);
  q->schedule_recurring(2, s + 10, 100);
  std::vector<expiry> seen;
  q->expire(s + 10, [&](uint32_t id, int64_t due) {
    seen.emplace_back(id, due);
    if (id == 0) q->cancel(0);              // stops it
    if (id == 1) q->reschedule(1, s + 50);  // a one-shot from now on
    if (id == 2) {
      q->cancel(2);
      q->schedule_recurring(2, s + 30, 7);  // a new grid
    }
  });
  EXPECT_EQ(seen, (std::vector<expiry>{{0, s + 10}, {1, s + 10}, {2, s + 10}}));
  EXPECT_FALSE(q->armed(0));
  seen.clear();
  for (int64_t now = s + 11; now <= s + 60; ++now) {
    for (const expiry& e : expire_all(*q, now)) seen.push_back(e);
  }
  EXPECT_EQ(seen,
            (std::vector<expiry>{
                {2, s + 30}, {2, s + 37}, {2, s + 44}, {1, s + 50}, {2, s + 51}, {2, s + 58}}));
  EXPECT_FALSE(q->armed(1));
  EXPECT_EQ(q->next_due(), s + 65);
  EXPECT_EQ(q->missed_periods(), 0u);
}

TEST_P(Recurring, AnIntervalOfOneMillisecondAndPastFirstDue) {
  q->schedule_recurring(0, s - 50, 1);  // 50 periods in the past: the first expiry skips them
  EXPECT_EQ(expire_all(*q, s), (std::vector<expiry>{{0, s}}));
  EXPECT_EQ(q->missed_periods(), 50u);
  for (int64_t t = s + 1; t < s + 200; ++t)
    ASSERT_EQ(expire_all(*q, t), (std::vector<expiry>{{0, t}}));
  EXPECT_EQ(q->missed_periods(), 50u);
}

TEST_P(Recurring, LongIntervalsKeepTheirGrid) {
  // Around 2^29 ms (where the wheel's node runs out of bits), past 2^32, and years.
  const std::vector<int64_t> intervals{(int64_t{1} << 29) - 2, (int64_t{1} << 29) - 1,
                                       (int64_t{1} << 29), int64_t{1} << 33, 3650 * k_day};
  for (uint32_t i = 0; i < intervals.size(); ++i) q->schedule_recurring(i, s + i, intervals[i]);
  for (uint32_t i = 0; i < intervals.size(); ++i) {
    EXPECT_EQ(expire_all(*q, s + i), (std::vector<expiry>{{i, s + i}})) << i;
  }
  for (uint32_t i = 0; i < intervals.size(); ++i) {
    const int64_t second = s + i + intervals[i];
    EXPECT_EQ(expire_all(*q, second - 1), std::vector<expiry>{}) << i;
    EXPECT_EQ(expire_all(*q, second), (std::vector<expiry>{{i, second}})) << i;
    q->cancel(i);
  }
  // Re-armed with a short interval, an id that had a long one forgets it.
  q->schedule_recurring(3, s + 20 * k_day, 5);
  EXPECT_EQ(expire_all(*q, s + 20 * k_day + 12), (std::vector<expiry>{{3, s + 20 * k_day + 10}}));
  EXPECT_EQ(q->next_due(), s + 20 * k_day + 15);
}

INSTANTIATE_TEST_SUITE_P(Queues, Recurring, ::testing::ValuesIn(test::every_queue()),
                         [](const auto& info) { return info.param.name; });

TEST(TimerWheel, AFarCrowdEntersOverABlockNotInOneTick) {
  // 200,000 timers (half of them recurring) armed for one millisecond just beyond level 1's
  // 49.7 days. Ticking 1 ms at a time through the block in which they come within reach and
  // then the block in which they move down to level 0, no tick may move more than a few of
  // them (moving all of them in one tick took 7 ms of CPU); then they expire in arming order
  // like the reference (the recurring ones a period late: once, one period missed).
  const int64_t start = 1'790'000'000'000;
  auto q = make_timer_wheel(start);
  test::reference_queue ref;
  const int64_t crowd = (start / k_block + (int64_t{1} << 16) + 1) * k_block + 123;
  for (uint32_t id = 0; id < 200'000; ++id) {
    if (id % 2 == 0) {
      q->schedule(id, crowd);
      ref.arm(id, crowd);
    } else {
      q->schedule_recurring(id, crowd, 1000);
      ref.arm(id, crowd, 1000);
    }
  }
  // Level 1 only reaches 2^16 blocks ahead: tick through to the crowd's block.
  for (int64_t now = start; now < crowd; ++now) {
    ASSERT_EQ(q->expire(now, [](uint32_t, int64_t) {}), 0u);
    if (now - start == 2 * k_block) {
      // Entered level 1 over the first block and a half without a burst. A jump over whole
      // blocks (the clock standing still) may move what it passes; ticking may not.
      EXPECT_EQ(q->next_due(), crowd);
      ASSERT_LE(timer_wheel_most_moved(*q), 8u);
      now = crowd - 2 * k_block;  // skip the quiet days in one call
      ASSERT_EQ(q->expire(now, [](uint32_t, int64_t) {}), 0u);
      ASSERT_LE(timer_wheel_most_moved(*q), 8u);  // nothing passed: nothing moved
    }
  }
  EXPECT_LE(timer_wheel_most_moved(*q), 8u) << "the crowd moved down in a burst";
  EXPECT_EQ(q->next_due(), crowd);
  std::vector<expiry> got, want;
  q->expire(crowd + 1000, [&](uint32_t i, int64_t d) { got.emplace_back(i, d); });
  ref.expire(crowd + 1000, [&](uint32_t i, int64_t d) { want.emplace_back(i, d); });
  EXPECT_EQ(got.size(), 200'000u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(q->size(), 100'000u);
  EXPECT_EQ(q->missed_periods(), 100'000u);
  EXPECT_EQ(q->next_due(), crowd + 2000);
}

}  // namespace
}  // namespace isitup
