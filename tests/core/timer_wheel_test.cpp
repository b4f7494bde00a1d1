#include <isitup/core/timer_wheel.hpp>
#include "reference_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <isitup/core/scheduler.hpp>
#include <isitup/core/timer_queue.hpp>
#include "timer_queue_testing.hpp"

namespace isitup {
namespace {

using test::expire_all;
using test::expiry;
using test::k_block;
using test::k_day;

using isitup::test::reference_queue;

// ---- the timer_queue contract: the map queue, and the wheel started at various instants ----

class QueueContract : public ::testing::TestWithParam<test::queue_case> {
 protected:
  std::unique_ptr<timer_queue> q = GetParam().make();
};

TEST_P(QueueContract, ExpiresInDueOrderOnlyUpToNow) {
  q->schedule(0, 300);
  q->schedule(1, 100);
  q->schedule(2, 200);
  q->schedule(3, 201);
  EXPECT_EQ(q->size(), 4u);
  EXPECT_EQ(q->next_due(), 100);
  EXPECT_EQ(expire_all(*q, 99), std::vector<expiry>{});
  EXPECT_EQ(expire_all(*q, 200), (std::vector<expiry>{{1, 100}, {2, 200}}));
  EXPECT_FALSE(q->armed(1));
  EXPECT_TRUE(q->armed(3));
  EXPECT_EQ(q->next_due(), 201);
  EXPECT_EQ(expire_all(*q, 1000), (std::vector<expiry>{{3, 201}, {0, 300}}));
  EXPECT_EQ(q->size(), 0u);
  EXPECT_EQ(q->next_due(), std::nullopt);
}

TEST_P(QueueContract, TiesExpireInArmingOrder) {
  for (uint32_t id : {5u, 2u, 7u, 0u}) q->schedule(id, 50);
  q->reschedule(2, 50);  // re-arming moves it behind the others
  EXPECT_EQ(expire_all(*q, 50), (std::vector<expiry>{{5, 50}, {7, 50}, {0, 50}, {2, 50}}));
}

TEST_P(QueueContract, CancelAndSparseIds) {
  q->schedule(0, 10);
  q->schedule(100000, 20);
  EXPECT_TRUE(q->cancel(0));
  EXPECT_FALSE(q->cancel(0));
  EXPECT_FALSE(q->cancel(99999));
  EXPECT_FALSE(q->armed(99999));
  EXPECT_EQ(q->size(), 1u);
  EXPECT_EQ(q->next_due(), 20);
  EXPECT_EQ(expire_all(*q, 100), (std::vector<expiry>{{100000, 20}}));
  q->schedule(0, 130);  // a cancelled id can be armed again
  EXPECT_EQ(expire_all(*q, 200), (std::vector<expiry>{{0, 130}}));
}

TEST_P(QueueContract, RescheduleArmedAndUnarmed) {
  q->schedule(0, 10);
  q->schedule(1, 20);
  q->reschedule(0, 30);  // armed: moves later
  q->reschedule(2, 5);   // unarmed: arms
  EXPECT_EQ(q->size(), 3u);
  EXPECT_EQ(q->next_due(), 5);
  q->reschedule(1, 1);  // armed: moves earlier
  EXPECT_EQ(expire_all(*q, 100), (std::vector<expiry>{{1, 1}, {2, 5}, {0, 30}}));
}

TEST_P(QueueContract, ZeroDelayAndPastDue) {
  expire_all(*q, 1000);
  q->schedule(0, 1000);  // the instant just expired: due now
  q->schedule(1, 1001);
  q->schedule(2, -5);  // long past
  EXPECT_EQ(q->next_due(), -5);
  EXPECT_EQ(expire_all(*q, 1000), (std::vector<expiry>{{2, -5}, {0, 1000}}));
  EXPECT_EQ(expire_all(*q, 1001), (std::vector<expiry>{{1, 1001}}));
}

TEST_P(QueueContract, FarFutureAndLevelBoundaries) {
  const int64_t t0 = (GetParam().start_ms / k_block + 1) * k_block;  // a block boundary
  const std::vector<int64_t> dues{t0 - 1,
                                  t0,
                                  t0 + 1,
                                  t0 + k_block - 1,
                                  t0 + k_block,
                                  t0 + 2 * k_block - 1,
                                  t0 + 2 * k_block,
                                  t0 + (k_block << 16) - 1,  // the last block of level 1
                                  t0 + (k_block << 16),      // the first beyond it
                                  t0 + 60 * k_day,           // beyond 49.7 days
                                  t0 + 3650 * k_day};        // ten years
  for (uint32_t i = 0; i < dues.size(); ++i) q->schedule(i, dues[dues.size() - 1 - i]);
  std::vector<expiry> got;
  int calls = 0;
  while (q->size() > 0 && calls < 100) {  // hop from next_due to next_due
    const int64_t next = *q->next_due();
    const auto batch = expire_all(*q, next);
    ASSERT_EQ(batch.size(), 1u) << "at " << next;
    EXPECT_EQ(batch[0].second, next);
    got.push_back(batch[0]);
    ++calls;
  }
  ASSERT_EQ(got.size(), dues.size());
  for (uint32_t i = 0; i < dues.size(); ++i) {
    EXPECT_EQ(got[i], expiry(static_cast<uint32_t>(dues.size() - 1 - i), dues[i])) << i;
  }
}

TEST_P(QueueContract, ExpireCallbackMayArmCancelAndReschedule) {
  q->schedule(0, 10);
  q->schedule(1, 20);
  q->schedule(2, 30);
  q->schedule(3, 40);
  std::vector<expiry> seen;
  const std::size_t n = q->expire(50, [&](uint32_t id, int64_t due_ms) {
    seen.emplace_back(id, due_ms);
    if (id == 0 && due_ms == 10) {
      q->schedule(0, 15);   // itself again, still <= now: expires in this call, before 1
      q->cancel(2);         // a later due timer: must not expire
      q->schedule(4, 45);   // new, <= now: expires in this call
      q->schedule(5, 51);   // new, > now: stays armed
      q->reschedule(3, 5);  // earlier than the one expiring now: expires next
      q->schedule(6, 10);   // the tick expiring now: after the rest of it
    }
  });
  EXPECT_EQ(seen, (std::vector<expiry>{{0, 10}, {3, 5}, {6, 10}, {0, 15}, {1, 20}, {4, 45}}));
  EXPECT_EQ(n, 6u);
  EXPECT_FALSE(q->armed(2));
  EXPECT_TRUE(q->armed(5));
  EXPECT_EQ(q->next_due(), 51);
}

TEST_P(QueueContract, ACallbackThatThrowsLeavesTheRestArmed) {
  const int64_t t = GetParam().start_ms + 100;
  for (uint32_t id = 0; id < 40; ++id) q->schedule(id, t);  // more than one chunk of ids
  q->schedule(40, t + 1);
  std::vector<uint32_t> seen;
  EXPECT_THROW(q->expire(t + 1,
                         [&](uint32_t id, int64_t) {
                           seen.push_back(id);
                           if (id == 20) throw std::runtime_error("fire failed");
                         }),
               std::runtime_error);
  EXPECT_FALSE(q->armed(20));  // disarmed before its callback, like every expiry
  EXPECT_EQ(q->size(), 20u);
  q->cancel(30);
  std::vector<expiry> rest = expire_all(*q, t + 1);
  for (const auto& [id, due] : rest) seen.push_back(id);
  std::vector<uint32_t> want;
  for (uint32_t id = 0; id <= 40; ++id) {
    if (id != 30) want.push_back(id);
  }
  EXPECT_EQ(seen, want);
  EXPECT_EQ(q->size(), 0u);
}

TEST_P(QueueContract, MovedDownTimersKeepArmingOrderOverDirectOnes) {
  // 0 is armed while its block is two blocks away (level 1); 1 is armed for the same instant
  // once that block is next (level 0 directly). 0 must still expire first.
  const int64_t b = (GetParam().start_ms / k_block + 3) * k_block;
  expire_all(*q, b - 3 * k_block);
  q->schedule(0, b + 77);
  q->schedule(2, b + 5 * k_block);   // stays in level 1 throughout
  expire_all(*q, b - k_block + 10);  // block b is next: 0 starts moving down
  q->schedule(1, b + 77);
  EXPECT_EQ(q->next_due(), b + 77);
  EXPECT_EQ(expire_all(*q, b + 77), (std::vector<expiry>{{0, b + 77}, {1, b + 77}}));
  EXPECT_EQ(q->next_due(), b + 5 * k_block);
}

TEST_P(QueueContract, LongIdleAndCatchUp) {
  const int64_t s = GetParam().start_ms;
  q->schedule(0, s + 40 * k_day);
  q->schedule(1, s + 5000);
  EXPECT_EQ(expire_all(*q, s + 10 * k_day), (std::vector<expiry>{{1, s + 5000}}));
  EXPECT_EQ(q->next_due(), s + 40 * k_day);
  EXPECT_EQ(expire_all(*q, s + 40 * k_day - 1), std::vector<expiry>{});
  EXPECT_EQ(expire_all(*q, s + 400 * k_day), (std::vector<expiry>{{0, s + 40 * k_day}}));
}

INSTANTIATE_TEST_SUITE_P(Queues, QueueContract, ::testing::ValuesIn(test::every_queue()),
                         [](const auto& info) { return info.param.name; });

// ---- random operations against the reference ----

struct random_regime {
  std::string name;
  uint32_t ids;
  std::function<int64_t(std::mt19937_64&, int64_t now)> due;  // where timers are armed
  std::function<int64_t(std::mt19937_64&)> step;              // how far expire() advances
  std::function<int64_t(std::mt19937_64&)> interval;          // of recurring timers
};

void run_against_reference(const random_regime& r, uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  int64_t now = 1'790'000'000'000 + static_cast<int64_t>(rng() % 100000);
  auto q = make_timer_wheel(now);
  reference_queue ref;
  std::size_t total_expired = 0;
  for (int op = 0; op < ops; ++op) {
    const uint32_t id = static_cast<uint32_t>(rng() % r.ids);
    const int64_t due = r.due(rng, now);
    switch (rng() % 8) {
      case 0:
      case 1:
        if (!ref.armed(id)) {
          q->schedule(id, due);
          ref.arm(id, due);
        }
        break;
      case 6: {
        const int64_t interval = r.interval(rng);
        if (!ref.armed(id)) {
          q->schedule_recurring(id, due, interval);
          ref.arm(id, due, interval);
        }
        break;
      }
      case 2:
        ASSERT_EQ(q->cancel(id), ref.disarm(id)) << "op " << op;
        break;
      case 3:
        q->reschedule(id, due);
        ref.arm(id, due);
        break;
      case 4:
      case 5: {
        now += r.step(rng);
        // Callbacks re-arm, cancel and move timers, deterministically from (id, due): one-shot
        // and recurring, the expiring one itself included (a recurring timer is already
        // re-armed when its callback runs, so cancelling it stops it). Bounded per call (the
        // same budget for both queues), so chains of re-arms end.
        int budget_got = 300, budget_want = 300;
        auto react = [&r, now](int& budget, auto arm, auto arm_every, auto disarm, uint32_t fired,
                               int64_t fired_due) {
          if (--budget < 0) return;
          if (fired % 5 == 0) arm(fired, fired_due + 1 + (fired_due & 0xffff));
          if (fired % 7 == 1) arm((fired + 1) % r.ids, now + (fired_due & 0x3f) - 20);
          if (fired % 11 == 2) disarm((fired + 3) % r.ids);
          if (fired % 13 == 3) arm((fired + 5) % r.ids, now);  // this very instant
          if (fired % 17 == 4) disarm(fired);
          if (fired % 19 == 6)
            arm_every((fired + 7) % r.ids, now + (fired_due & 0xff) - 100, 1 + (fired_due & 0xfff));
        };
        std::vector<expiry> got, want;
        const std::size_t n_got = q->expire(now, [&](uint32_t i, int64_t d) {
          got.emplace_back(i, d);
          react(
              budget_got, [&](uint32_t x, int64_t t) { q->reschedule(x, t); },
              [&](uint32_t x, int64_t t, int64_t every) {
                q->cancel(x);
                q->schedule_recurring(x, t, every);
              },
              [&](uint32_t x) { q->cancel(x); }, i, d);
        });
        const std::size_t n_want = ref.expire(now, [&](uint32_t i, int64_t d) {
          want.emplace_back(i, d);
          react(
              budget_want, [&](uint32_t x, int64_t t) { ref.arm(x, t); },
              [&](uint32_t x, int64_t t, int64_t every) { ref.arm(x, t, every); },
              [&](uint32_t x) { ref.disarm(x); }, i, d);
        });
        ASSERT_EQ(got, want) << r.name << " op " << op << " now " << now;
        ASSERT_EQ(n_got, n_want);
        total_expired += n_got;
        break;
      }
      default:
        ASSERT_EQ(q->armed(id), ref.armed(id)) << "op " << op;
        break;
    }
    ASSERT_EQ(q->size(), ref.size()) << r.name << " op " << op;
    ASSERT_EQ(q->next_due(), ref.next_due()) << r.name << " op " << op;
    ASSERT_EQ(q->missed_periods(), ref.missed_periods()) << r.name << " op " << op;
  }
  EXPECT_GT(total_expired, static_cast<std::size_t>(ops / 20)) << r.name;
  EXPECT_GT(ref.missed_periods(), 0u) << r.name;  // recurring timers were expired late too
}

int64_t uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {  // [lo, hi]
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

TEST(TimerWheel, MatchesReferenceOnRandomOperations) {
  const std::vector<random_regime> regimes{
      // Dense: many ties, some in the past, small steps.
      {"dense", 64, [](auto& g, int64_t now) { return now - 20 + uniform(g, 0, 199) / 10 * 10; },
       [](auto& g) { return uniform(g, 0, 59); }, [](auto& g) { return uniform(g, 1, 50); }},
      // Checks: seconds to a minute ahead, steps up to a few seconds (level 0 and block edges).
      {"checks", 256, [](auto& g, int64_t now) { return now + uniform(g, 1, 70000); },
       [](auto& g) { return uniform(g, 0, 3000); },
       [](auto& g) { return uniform(g, 0, 3) ? uniform(g, 1000, 70000) : uniform(g, 1, 999); }},
      // Around block boundaries, minutes ahead: exercises the level-1 slots moving down.
      {"boundaries", 256,
       [](auto& g, int64_t now) {
         return (now / k_block + uniform(g, 0, 4)) * k_block + uniform(g, -3, 3);
       },
       [](auto& g) { return uniform(g, 0, 1) ? uniform(g, 0, 500) : uniform(g, 0, 3 * k_block); },
       [](auto& g) { return uniform(g, 0, 2) * k_block + uniform(g, -3, 3) + 4; }},
      // Everything: past, far future beyond level 1, long idle jumps.
      {"wide", 128,
       [](auto& g, int64_t now) {
         switch (uniform(g, 0, 4)) {
           case 0:
             return now - uniform(g, 0, 5 * k_block);
           case 1:
             return now + uniform(g, 0, 1000);
           case 2:
             return now + uniform(g, 0, 100 * k_block);
           case 3:
             return now + uniform(g, 0, 80 * k_day);
           default:
             return now + (int64_t{1} << 32) + uniform(g, -2 * k_block, 2 * k_block);
         }
       },
       [](auto& g) {
         switch (uniform(g, 0, 3)) {
           case 0:
             return uniform(g, 0, 10);
           case 1:
             return uniform(g, 0, 2 * k_block);
           case 2:
             return uniform(g, 0, 30 * k_day);
           default:
             return uniform(g, 0, 200);
         }
       },
       [](auto& g) {  // past 2^29 ms the wheel keeps intervals in a side table
         switch (uniform(g, 0, 3)) {
           case 0:
             return uniform(g, 1, 100);
           case 1:
             return uniform(g, 1, 100 * k_block);
           case 2:
             return (int64_t{1} << 29) + uniform(g, -3, 3);
           default:
             return uniform(g, 1, 200 * k_day);
         }
       }},
  };
  for (const auto& r : regimes) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      SCOPED_TRACE(r.name + " seed " + std::to_string(seed));
      run_against_reference(r, seed * 7919 + r.ids, 6000);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(TimerWheel, ManyTimersInOneMovingSlotStayExact) {
  // 50,000 timers in one level-1 slot (one block, ~4 minutes ahead), walked through tick by
  // tick in irregular steps while it moves down; order and count must match the reference.
  std::mt19937_64 rng(42);
  const int64_t start = 100 * k_block + 17;
  auto q = make_timer_wheel(start);
  reference_queue ref;
  const int64_t target_block = (start / k_block + 4) * k_block;
  for (uint32_t id = 0; id < 50000; ++id) {
    const int64_t due = target_block + uniform(rng, 0, k_block - 1) / 8 * 8;
    q->schedule(id, due);
    ref.arm(id, due);
  }
  int64_t now = start;
  std::vector<expiry> got, want;
  while (q->size() > 0) {
    now += uniform(rng, 1, 4000);
    q->expire(now, [&](uint32_t i, int64_t d) { got.emplace_back(i, d); });
    ref.expire(now, [&](uint32_t i, int64_t d) { want.emplace_back(i, d); });
    ASSERT_EQ(q->next_due(), ref.next_due());
  }
  EXPECT_EQ(got.size(), 50000u);
  EXPECT_EQ(got, want);
}

TEST(TimerWheel, CrowdedRecurringTicksMatchReference) {
  // Tens of recurring timers per 1 ms tick, as at a million checks: expire() prefetches along
  // each slot and on into the next tick's slot, and re-arms on-time timers by a short path.
  // Callbacks cancel timers (emptying slots the prefetching has already read, whose chunks
  // are then reused), re-arm some every 1-2 ms (appending to the slot being expired or the
  // next one), and the clock sometimes jumps (late timers take the general path).
  std::mt19937_64 rng(7);
  const int64_t start = 1'790'000'000'000 + 12345;
  auto q = make_timer_wheel(start);
  reference_queue ref;
  constexpr uint32_t k_ids = 30000;
  for (uint32_t id = 0; id < k_ids; ++id) {
    const int64_t interval = uniform(rng, 200, 1200);
    const int64_t first = start + uniform(rng, 0, interval - 1);
    q->schedule_recurring(id, first, interval);
    ref.arm(id, first, interval);
  }
  int64_t now = start;
  std::size_t total = 0;
  for (int tick = 0; tick < 6000; ++tick) {
    now += uniform(rng, 0, 99) == 0 ? uniform(rng, 2, 400) : 1;
    auto react = [&](uint32_t fired, int64_t due, auto cancel, auto every) {
      const uint64_t h = static_cast<uint64_t>(fired * 2654435761u) ^ static_cast<uint64_t>(due);
      if (h % 29 == 0) cancel((fired + 1 + static_cast<uint32_t>(h % 97)) % k_ids);
      if (h % 31 == 1) every((fired + 3) % k_ids, now + 1, 1 + static_cast<int64_t>(h % 2));
      if (h % 37 == 2) every(fired, now + 1 + static_cast<int64_t>(h % 900), 200 + (h % 1000));
    };
    std::vector<expiry> got, want;
    const std::size_t n_got = q->expire(now, [&](uint32_t i, int64_t d) {
      got.emplace_back(i, d);
      react(
          i, d, [&](uint32_t x) { q->cancel(x); },
          [&](uint32_t x, int64_t t, int64_t e) {
            q->cancel(x);
            q->schedule_recurring(x, t, e);
          });
    });
    const std::size_t n_want = ref.expire(now, [&](uint32_t i, int64_t d) {
      want.emplace_back(i, d);
      react(
          i, d, [&](uint32_t x) { ref.disarm(x); },
          [&](uint32_t x, int64_t t, int64_t e) { ref.arm(x, t, e); });
    });
    ASSERT_EQ(got, want) << "tick " << tick << " now " << now;
    ASSERT_EQ(n_got, n_want);
    ASSERT_EQ(q->size(), ref.size()) << "tick " << tick;
    ASSERT_EQ(q->missed_periods(), ref.missed_periods()) << "tick " << tick;
    total += n_got;
  }
  ASSERT_EQ(q->next_due(), ref.next_due());
  EXPECT_GT(total, 6000u * 10);              // crowded ticks
  EXPECT_GT(ref.missed_periods(), 0u);       // the clock jumps made some late
  EXPECT_LT(q->size(), std::size_t{k_ids});  // callbacks cancelled some
}

// ---- the scheduler on the wheel ----

TEST(TimerWheel, SchedulerRearmsDriftFreeAndSkipsWhenLate) {
  constexpr int64_t interval = 1000;
  const int64_t start = 1'790'000'000'000;
  scheduler s(make_timer_wheel(start), 1);
  const uint32_t id = s.add("steady", interval, start);
  const int64_t first = *s.next_due();
  std::vector<int64_t> scheduled;
  for (int k = 0; k < 5000; ++k) {
    const int64_t now = *s.next_due() + (int64_t{37} * k) % (interval - 1);  // wake up a bit late
    s.run_due(now, [&](uint32_t fired, int64_t scheduled_ms) {
      EXPECT_EQ(fired, id);
      scheduled.push_back(scheduled_ms);
      s.finished(fired);
    });
  }
  ASSERT_EQ(scheduled.size(), 5000u);
  for (int k = 0; k < 5000; ++k) ASSERT_EQ(scheduled[k], first + k * interval) << "k " << k;
  EXPECT_EQ(s.stats().skipped_late, 0u);

  // A stall of ten periods: one run for the latest grid point, ten counted as late.
  const int64_t after = first + 5000 * interval + 10 * interval + 1;
  s.run_due(after, [&](uint32_t fired, int64_t scheduled_ms) {
    scheduled.push_back(scheduled_ms);
    s.finished(fired);
  });
  EXPECT_EQ(scheduled.back(), first + 5010 * interval);
  EXPECT_EQ(s.stats().skipped_late, 10u);
  EXPECT_EQ(s.next_due(), first + 5011 * interval);
}

TEST(TimerWheel, SchedulerMatchesMapQueueOnManyChecks) {
  // The same 3,000 checks (intervals 1 s .. 3 min) on both queues over 10 simulated minutes
  // with irregular wake-ups: identical fire sequences and stats.
  const int64_t start = 1'790'000'000'000;
  auto run = [&](std::unique_ptr<timer_queue> tq) {
    scheduler s(std::move(tq), 1 << 20);
    for (int i = 0; i < 3000; ++i) {
      s.add("c" + std::to_string(i), 1000 + (i * 7919) % 179000, start);
    }
    std::vector<expiry> fired;
    std::mt19937_64 rng(9);
    for (int64_t now = start; now < start + 600'000; now += uniform(rng, 1, 2500)) {
      s.run_due(now, [&](uint32_t id, int64_t at) {
        fired.emplace_back(id, at);
        if (id % 3 != 0) s.finished(id);  // a third stay busy once fired
      });
    }
    const scheduler_stats st = s.stats();
    return std::make_pair(fired, std::vector<uint64_t>{st.fired, st.skipped_busy, st.skipped_late});
  };
  const auto wheel = run(make_timer_wheel(start));
  const auto map = run(make_map_timer_queue());
  EXPECT_GT(wheel.first.size(), 10000u);
  EXPECT_EQ(wheel.first, map.first);
  EXPECT_EQ(wheel.second, map.second);
}

}  // namespace
}  // namespace isitup
