// eventually(): asks until true, asks once more at the deadline, and keeps to its interval.
#include "eventually.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace std::chrono_literals;
using isitup::test::eventually;

TEST(eventually, a_condition_already_true_is_asked_once) {
  int asked = 0;
  EXPECT_TRUE(eventually([&] { return ++asked > 0; }, 10s, 1s));
  EXPECT_EQ(asked, 1);
}

TEST(eventually, asks_until_the_condition_comes_true) {
  int asked = 0;
  // Generous: the wait ends on the third ask, never on the deadline.
  EXPECT_TRUE(eventually([&] { return ++asked == 3; }, 60s, 1ms));
  EXPECT_EQ(asked, 3);
}

TEST(eventually, a_condition_never_true_is_false_after_one_ask_at_or_past_the_deadline) {
  int asked = 0;
  std::chrono::steady_clock::time_point last_ask;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(eventually(
      [&] {
        ++asked;
        last_ask = std::chrono::steady_clock::now();
        return false;
      },
      300ms, 100ms));
  EXPECT_GE(last_ask - start, 300ms);
  // Sleeping may run long on a loaded machine, never short: at most one ask per interval, plus
  // the first one and the one at the deadline.
  EXPECT_GE(asked, 2);
  EXPECT_LE(asked, 5);
}

TEST(eventually, a_condition_that_comes_true_at_the_deadline_counts) {
  const auto deadline = std::chrono::steady_clock::now() + 200ms;
  // Polled every 10 s: only the last ask, at the deadline, can see it true.
  EXPECT_TRUE(eventually([&] { return std::chrono::steady_clock::now() >= deadline; }, 200ms, 10s));
}
