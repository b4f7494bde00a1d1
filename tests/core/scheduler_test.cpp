#include <isitup/core/scheduler.hpp>
#include "reference_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <isitup/core/timer_queue.hpp>
#include "timer_queue_testing.hpp"

namespace isitup {
namespace {

using test::expire_all;
using test::expiry;

// ---- timer_queue: the map queue runs the contract in timer_wheel_test.cpp ----

using isitup::test::reference_queue;

TEST(MapTimerQueue, MatchesReferenceOnRandomOperations) {
  std::mt19937_64 rng(20261127);
  auto q = make_map_timer_queue();
  reference_queue ref;
  constexpr uint32_t k_ids = 64;
  int64_t now = 0;
  std::size_t total_expired = 0;
  auto pick = [&](uint64_t n) { return static_cast<int64_t>(rng() % n); };

  for (int op = 0; op < 5000; ++op) {
    const uint32_t id = static_cast<uint32_t>(rng() % k_ids);
    // Due times cluster, so ties are common; some are in the past.
    const int64_t due = now - 20 + pick(200) / 10 * 10;
    switch (pick(7)) {
      case 0:
      case 1:
        if (!ref.armed(id)) {
          q->schedule(id, due);
          ref.arm(id, due);
        }
        break;
      case 5:
        if (!ref.armed(id)) {
          const int64_t interval = 1 + pick(40);
          q->schedule_recurring(id, due, interval);
          ref.arm(id, due, interval);
        }
        break;
      case 2:
        ASSERT_EQ(q->cancel(id), ref.disarm(id)) << "op " << op;
        break;
      case 3:
        q->reschedule(id, due);
        ref.arm(id, due);
        break;
      case 4: {
        now += pick(60);
        // The callback re-arms some ids (a recurring one among them becomes a one-shot) and
        // stops others, deterministically from (id, due), in both queues.
        auto react = [now](auto& queue, auto arm, uint32_t fired, int64_t fired_due) {
          if (fired % 5 == 0 && fired_due % 3 == 0) arm(queue, fired, fired_due + 7);
          if (fired % 7 == 1) arm(queue, (fired + 1) % k_ids, now + 15);
          if (fired % 9 == 2) arm(queue, fired, INT64_MIN);  // stop
        };
        std::vector<expiry> got, want;
        const std::size_t n_got = q->expire(now, [&](uint32_t i, int64_t d) {
          got.emplace_back(i, d);
          react(
              *q,
              [](timer_queue& tq, uint32_t x, int64_t t) {
                t == INT64_MIN ? void(tq.cancel(x)) : tq.reschedule(x, t);
              },
              i, d);
        });
        const std::size_t n_want = ref.expire(now, [&](uint32_t i, int64_t d) {
          want.emplace_back(i, d);
          react(
              ref,
              [](reference_queue& r, uint32_t x, int64_t t) {
                t == INT64_MIN ? void(r.disarm(x)) : r.arm(x, t);
              },
              i, d);
        });
        ASSERT_EQ(got, want) << "op " << op;
        ASSERT_EQ(n_got, n_want);
        total_expired += n_got;
        break;
      }
      default:
        ASSERT_EQ(q->armed(id), ref.armed(id)) << "op " << op;
        break;
    }
    ASSERT_EQ(q->size(), ref.size()) << "op " << op;
    ASSERT_EQ(q->next_due(), ref.next_due()) << "op " << op;
    ASSERT_EQ(q->missed_periods(), ref.missed_periods()) << "op " << op;
  }
  EXPECT_GT(total_expired, 1000u);  // the comparison actually exercised expiry
  EXPECT_GT(ref.missed_periods(), 0u);
}

// ---- splay ----

TEST(SplayOffset, DeterministicAndInRange) {
  // Pinned: these values must not change between builds or releases, or every check's phase
  // shifts once after an upgrade.
  EXPECT_EQ(splay_offset("example.com", 60000), 37593);
  EXPECT_EQ(splay_offset("", 60000), 14342);
  EXPECT_EQ(splay_offset("example.com", 1), 0);
  for (int64_t interval : {1, 7, 1000, 60000, 86400000}) {
    for (int i = 0; i < 100; ++i) {
      const int64_t off = splay_offset("check-" + std::to_string(i), interval);
      EXPECT_GE(off, 0);
      EXPECT_LT(off, interval);
    }
  }
}

TEST(Scheduler, FirstRunIsOnThePhaseStrictlyAfterNow) {
  constexpr int64_t interval = 60000;
  const int64_t off = splay_offset("shop", interval);
  const int64_t base = 1'700'000'000'000 / interval * interval;  // a multiple of the interval

  for (int64_t now : {base, base + off - 1, base + off, base + off + 1, base + interval - 1}) {
    scheduler s(make_map_timer_queue(), 10);
    s.add("shop", interval, now);
    const int64_t due = *s.next_due();
    EXPECT_GT(due, now);
    EXPECT_LE(due, now + interval);
    EXPECT_EQ(due % interval, off);
  }
  scheduler s(make_map_timer_queue(), 10);
  s.add("shop", interval, base + off);  // exactly on the phase: the next one
  EXPECT_EQ(s.next_due(), base + off + interval);
}

TEST(Scheduler, SplaySpreadsFirstRunsOverTheInterval) {
  constexpr int64_t interval = 60000;
  constexpr int64_t now = 1'700'000'000'123;
  constexpr int k_checks = 10000;
  scheduler s(make_map_timer_queue(), 1);
  for (int i = 0; i < k_checks; ++i) {
    s.add("https://site-" + std::to_string(i) + ".example/", interval, now);
  }

  // Every first run is within one interval; finishing inside fire keeps capacity free.
  std::map<int64_t, int> per_ms;
  std::map<int64_t, int> first_thousand_per_phase_second;
  s.run_due(now + interval, [&](uint32_t id, int64_t scheduled_ms) {
    ++per_ms[scheduled_ms];
    if (id < 1000) ++first_thousand_per_phase_second[scheduled_ms % interval / 1000];
    s.finished(id);
  });
  EXPECT_EQ(s.stats().fired, static_cast<uint64_t>(k_checks));

  // 1000 checks: no one-second bucket holds more than 5% of them, and all 60 seconds are used.
  int max_per_second = 0;
  for (const auto& [second, n] : first_thousand_per_phase_second) {
    max_per_second = std::max(max_per_second, n);
  }
  EXPECT_LE(max_per_second, 50);
  EXPECT_EQ(first_thousand_per_phase_second.size(), 60u);
  // 10,000 checks do not pile up in the same millisecond (uniform: ~1 in 6 ms has one).
  int max_per_ms = 0;
  for (const auto& [ms, n] : per_ms) max_per_ms = std::max(max_per_ms, n);
  EXPECT_LE(max_per_ms, 6);
  EXPECT_GT(per_ms.size(), 8000u);
}

TEST(Scheduler, SameNameKeepsItsPhaseAcrossRestarts) {
  constexpr int64_t interval = 30000;
  const int64_t t0 = 1'700'000'000'000;
  scheduler before(make_map_timer_queue(), 1);
  before.add("db-primary", interval, t0);
  // A restarted agent, hours later, at an unrelated instant.
  scheduler after(make_map_timer_queue(), 1);
  after.add("db-primary", interval, t0 + int64_t{3} * 3600 * 1000 + 12345);
  EXPECT_EQ(*before.next_due() % interval, *after.next_due() % interval);
  // And a different name gets a different phase.
  scheduler other(make_map_timer_queue(), 1);
  other.add("db-replica", interval, t0);
  EXPECT_NE(*before.next_due(), *other.next_due());
}

TEST(Scheduler, RearmsDriftFreeOverTenThousandPeriods) {
  constexpr int64_t interval = 1000;
  scheduler s(make_map_timer_queue(), 1);
  const uint32_t id = s.add("steady", interval, 5'000'000);
  const int64_t first = *s.next_due();

  std::vector<int64_t> scheduled;
  for (int k = 0; k < 10000; ++k) {
    // Wake up late by a varying amount less than one interval, as a real loop would.
    const int64_t now = *s.next_due() + (int64_t{37} * k) % (interval - 1);
    s.run_due(now, [&](uint32_t fired, int64_t scheduled_ms) {
      EXPECT_EQ(fired, id);
      scheduled.push_back(scheduled_ms);
      s.finished(fired);
    });
  }
  ASSERT_EQ(scheduled.size(), 10000u);
  for (int k = 0; k < 10000; ++k) ASSERT_EQ(scheduled[k], first + k * interval) << "k " << k;
  EXPECT_EQ(s.next_due(), first + 10000 * interval);
  const scheduler_stats st = s.stats();
  EXPECT_EQ(st.fired, 10000u);
  EXPECT_EQ(st.skipped_late + st.skipped_busy + st.skipped_capacity, 0u);
}

TEST(Scheduler, SkipsARunWhileThePreviousOneIsInFlight) {
  constexpr int64_t interval = 10000;
  scheduler s(make_map_timer_queue(), 10);
  const uint32_t id = s.add("slow", interval, 0);
  const int64_t first = *s.next_due();
  std::vector<int64_t> fired;
  auto record = [&](uint32_t, int64_t scheduled_ms) { fired.push_back(scheduled_ms); };

  s.run_due(first, record);  // fires, and is not finished
  EXPECT_EQ(s.in_flight(), 1);
  s.run_due(first + interval, record);  // still running: skipped, not queued
  EXPECT_EQ(fired, std::vector<int64_t>{first});
  EXPECT_EQ(s.stats().skipped_busy, 1u);
  EXPECT_EQ(s.stats().fired, 1u);
  EXPECT_EQ(s.next_due(), first + 2 * interval);

  s.finished(id);
  EXPECT_EQ(s.in_flight(), 0);
  s.run_due(first + 2 * interval, record);  // the next period runs again
  EXPECT_EQ(fired, (std::vector<int64_t>{first, first + 2 * interval}));
  EXPECT_EQ(s.stats().skipped_busy, 1u);
  EXPECT_EQ(s.stats().skipped_late, 0u);
}

TEST(Scheduler, FarBehindFiresOnceForTheLatestPeriod) {
  constexpr int64_t interval = 5000;
  scheduler s(make_map_timer_queue(), 10);
  const uint32_t id = s.add("late", interval, 0);
  const int64_t first = *s.next_due();
  std::vector<int64_t> fired;
  auto record = [&](uint32_t f, int64_t scheduled_ms) {
    fired.push_back(scheduled_ms);
    s.finished(f);
  };

  // Ten intervals (and a bit) past the first due time: periods first .. first + 10i are due.
  s.run_due(first + 10 * interval + 123, record);
  EXPECT_EQ(fired, std::vector<int64_t>{first + 10 * interval});  // one run, on the grid
  EXPECT_EQ(s.stats().skipped_late, 10u);
  EXPECT_EQ(s.stats().fired, 1u);
  EXPECT_EQ(s.next_due(), first + 11 * interval);  // in the future, on the grid

  // Exactly on a grid point: that point runs, the three before it are late.
  s.run_due(first + 14 * interval, record);
  EXPECT_EQ(fired.back(), first + 14 * interval);
  EXPECT_EQ(s.stats().skipped_late, 13u);
  EXPECT_EQ(s.next_due(), first + 15 * interval);

  // Late and busy: the late periods still count, and the latest one is skipped as busy.
  s.run_due(first + 15 * interval, [&](uint32_t, int64_t) {});  // fires, not finished
  s.run_due(first + 18 * interval + 1, record);
  EXPECT_EQ(s.stats().skipped_late, 15u);
  EXPECT_EQ(s.stats().skipped_busy, 1u);
  EXPECT_EQ(fired.back(), first + 14 * interval);
  EXPECT_EQ(s.next_due(), first + 19 * interval);
  s.finished(id);
  EXPECT_EQ(s.in_flight(), 0);
}

TEST(Scheduler, BoundsRunsInFlight) {
  constexpr int64_t interval = 60000;
  scheduler s(make_map_timer_queue(), 2);
  const uint32_t a = s.add("a", interval, 0);
  const uint32_t b = s.add("b", interval, 0);
  const uint32_t c = s.add("c", interval, 0);
  std::vector<uint32_t> fired;
  auto record = [&](uint32_t id, int64_t) { fired.push_back(id); };

  s.run_due(interval, record);  // all three due once, none finished
  EXPECT_EQ(fired.size(), 2u);
  EXPECT_EQ(s.in_flight(), 2);
  EXPECT_EQ(s.stats().skipped_capacity, 1u);
  std::vector<uint32_t> all{a, b, c};
  const uint32_t left_out = *std::find_if(all.begin(), all.end(), [&](uint32_t id) {
    return std::find(fired.begin(), fired.end(), id) == fired.end();
  });

  s.finished(fired[0]);
  s.finished(fired[0]);  // a duplicate is ignored
  s.finished(left_out);  // not in flight: ignored, no underflow
  EXPECT_EQ(s.in_flight(), 1);

  const uint32_t still_running = fired[1];
  fired.clear();
  // All three due again: the one in flight is busy, two are idle but only one slot is free.
  s.run_due(2 * interval, record);
  EXPECT_EQ(s.in_flight(), 2);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_NE(fired[0], still_running);
  EXPECT_EQ(s.stats().skipped_busy, 1u);
  EXPECT_EQ(s.stats().skipped_capacity, 2u);
  EXPECT_EQ(s.stats().fired, 3u);
}

TEST(Scheduler, RemovedCheckNeverFiresAgain) {
  constexpr int64_t interval = 1000;
  scheduler s(make_map_timer_queue(), 10);
  const uint32_t gone = s.add("gone", interval, 0);
  const uint32_t kept = s.add("kept", interval, 0);
  s.remove(gone);
  s.remove(gone);   // twice: ignored
  s.remove(12345);  // unknown: ignored
  std::vector<uint32_t> fired;
  for (int64_t now = 0; now <= 10 * interval; now += interval / 2) {
    s.run_due(now, [&](uint32_t id, int64_t) {
      fired.push_back(id);
      s.finished(id);
    });
  }
  EXPECT_EQ(std::count(fired.begin(), fired.end(), gone), 0);
  EXPECT_GE(std::count(fired.begin(), fired.end(), kept), 9);
  s.remove(kept);
  EXPECT_EQ(s.next_due(), std::nullopt);
}

TEST(Scheduler, RemoveFromInsideFire) {
  constexpr int64_t interval = 1000;
  scheduler s(make_map_timer_queue(), 10);
  // Several checks all due by the first run_due; the first to fire removes itself and the rest.
  std::vector<uint32_t> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i) ids.push_back(s.add("c" + std::to_string(i), interval, 0));
  std::vector<uint32_t> fired;
  s.run_due(interval, [&](uint32_t id, int64_t) {
    fired.push_back(id);
    for (uint32_t other : ids) s.remove(other);
  });
  EXPECT_EQ(fired.size(), 1u);  // the others were cancelled before their turn
  EXPECT_EQ(s.next_due(), std::nullopt);
  EXPECT_EQ(s.in_flight(), 1);  // the removed check's run is still in flight...
  s.run_due(100 * interval, [&](uint32_t id, int64_t) { fired.push_back(id); });
  EXPECT_EQ(fired.size(), 1u);
  s.finished(fired[0]);  // ...and its finished() still counts
  EXPECT_EQ(s.in_flight(), 0);
  s.finished(fired[0]);
  EXPECT_EQ(s.in_flight(), 0);

  // Re-adding the same name gives a new id on the same phase, and it fires.
  const uint32_t again = s.add("c0", interval, 100 * interval);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), again), 0);
  EXPECT_EQ(*s.next_due() % interval, splay_offset("c0", interval));
  std::vector<uint32_t> fired_again;
  s.run_due(102 * interval, [&](uint32_t id, int64_t) { fired_again.push_back(id); });
  EXPECT_EQ(fired_again, std::vector<uint32_t>{again});
}

TEST(Scheduler, AddFromInsideFireRunsOnItsOwnPhase) {
  constexpr int64_t interval = 1000;
  scheduler s(make_map_timer_queue(), 10);
  s.add("parent", interval, 0);
  uint32_t child = UINT32_MAX;
  std::vector<std::pair<uint32_t, int64_t>> fired;
  auto record = [&](uint32_t id, int64_t scheduled_ms) {
    fired.emplace_back(id, scheduled_ms);
    if (child == UINT32_MAX) child = s.add("child", interval, scheduled_ms);
    s.finished(id);
  };
  s.run_due(interval, record);
  ASSERT_EQ(fired.size(), 1u);  // the child is due strictly later, not in this call
  s.run_due(3 * interval, record);
  int child_runs = 0;
  for (const auto& [id, at] : fired) {
    if (id == child) {
      ++child_runs;
      EXPECT_EQ(at % interval, splay_offset("child", interval));
    }
  }
  EXPECT_EQ(child_runs, 1);
}

TEST(Scheduler, ManyChecksKeepTheirOwnIntervals) {
  // 2000 checks span several storage segments; each must keep its own interval and phase.
  constexpr int k_checks = 2000;
  scheduler s(make_map_timer_queue(), 1);
  auto interval_of = [](uint32_t id) { return int64_t{1000} + id; };
  auto name_of = [](uint32_t id) { return "m" + std::to_string(id); };
  for (uint32_t i = 0; i < k_checks; ++i) ASSERT_EQ(s.add(name_of(i), interval_of(i), 0), i);
  std::vector<int> runs(k_checks, 0);
  auto check = [&](uint32_t id, int64_t scheduled_ms) {
    ++runs[id];
    EXPECT_EQ(scheduled_ms % interval_of(id), splay_offset(name_of(id), interval_of(id)));
    s.finished(id);
  };
  for (int64_t now = 0; now <= 9000; now += 500) s.run_due(now, check);
  for (uint32_t i = 0; i < k_checks; ++i) {
    const int64_t interval = interval_of(i);
    const int64_t first =
        splay_offset(name_of(i), interval) == 0 ? interval : splay_offset(name_of(i), interval);
    ASSERT_EQ(runs[i], (9000 - first) / interval + 1) << "id " << i;
  }
  EXPECT_EQ(s.stats().skipped_late, 0u);
}

TEST(Scheduler, RejectsBadArguments) {
  EXPECT_THROW(scheduler(nullptr, 1), std::invalid_argument);
  EXPECT_THROW(scheduler(make_map_timer_queue(), 0), std::invalid_argument);
  scheduler s(make_map_timer_queue(), 1);
  EXPECT_THROW(s.add("x", 0, 0), std::invalid_argument);
  EXPECT_EQ(s.add("x", 1, 0), 0u);  // ids start at 0 after a rejected add
}

TEST(Scheduler, FinishedFromOtherThreadsWhileAdding) {
  // finished() runs on completion threads while the scheduler thread keeps adding checks
  // (growing the entry table). Meaningful under TSan; the counts must balance regardless.
  constexpr int64_t interval = 1000;
  scheduler s(make_map_timer_queue(), 1 << 20);
  for (int i = 0; i < 100; ++i) s.add("w" + std::to_string(i), interval, 0);
  std::vector<uint32_t> fired;
  s.run_due(interval, [&](uint32_t id, int64_t) { fired.push_back(id); });
  ASSERT_EQ(fired.size(), 100u);
  ASSERT_EQ(s.in_flight(), 100);

  std::thread completer([&] {
    for (uint32_t id : fired) s.finished(id);
    for (uint32_t id : fired) s.finished(id);  // duplicates, ignored
  });
  for (int i = 0; i < 5000; ++i) s.add("n" + std::to_string(i), interval, 0);
  completer.join();
  EXPECT_EQ(s.in_flight(), 0);
}

TEST(MonotonicClock, StartsAtWallClockAndNeverGoesBack) {
  const monotonic_clock clock;
  const int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  int64_t prev = clock.now_ms();
  EXPECT_LT(std::abs(prev - wall), 1000);
  for (int i = 0; i < 1000; ++i) {
    const int64_t t = clock.now_ms();
    ASSERT_GE(t, prev);
    prev = t;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(clock.now_ms() - prev, 4);
}

}  // namespace
}  // namespace isitup
