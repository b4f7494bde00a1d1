// completion_tickets: a ticket is redeemed once; every later or forged one is refused without
// touching the state it once stood for.
#include <isitup/core/completion_tickets.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using isitup::completion_tickets;

TEST(completion_tickets, a_ticket_is_redeemed_once_and_then_names_its_owner) {
  auto& t = completion_tickets::instance();
  int state = 0;
  const char* owner = completion_tickets::intern("some_plugin");
  void* ticket = t.issue(&state, owner);
  ASSERT_NE(ticket, nullptr);
  EXPECT_EQ(t.redeem(ticket).state, &state);
  const auto again = t.redeem(ticket);
  EXPECT_EQ(again.state, nullptr);
  EXPECT_EQ(again.owner, owner);
}

TEST(completion_tickets, a_reused_slot_does_not_answer_an_old_ticket) {
  auto& t = completion_tickets::instance();
  int a = 0, b = 0;
  void* old = t.issue(&a, "a");
  ASSERT_EQ(t.redeem(old).state, &a);
  // Issue until the slot comes round again (first in, first out).
  std::vector<void*> fresh;
  for (int i = 0; i < 100000; ++i) {
    void* n = t.issue(&b, "b");
    fresh.push_back(n);
    if ((reinterpret_cast<uintptr_t>(n) >> 32) == (reinterpret_cast<uintptr_t>(old) >> 32)) break;
    ASSERT_EQ(t.redeem(n).state, &b);
  }
  EXPECT_EQ(t.redeem(old).state, nullptr) << "the old ticket completes nothing new";
  EXPECT_EQ(t.redeem(fresh.back()).state, &b);
}

TEST(completion_tickets, forged_tickets_are_refused) {
  auto& t = completion_tickets::instance();
  for (uintptr_t forged : {uintptr_t{0}, uintptr_t{1}, uintptr_t{0xffffffff}, ~uintptr_t{0},
                           uintptr_t{1} << 62, (uintptr_t{5000000} << 32) | 1})
    EXPECT_EQ(t.redeem(reinterpret_cast<void*>(forged)).state, nullptr) << forged;
}

TEST(completion_tickets, racing_redeems_hand_the_state_to_exactly_one) {
  auto& t = completion_tickets::instance();
  int state = 0;
  for (int round = 0; round < 200; ++round) {
    void* ticket = t.issue(&state, "x");
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] {
        if (t.redeem(ticket).state) ++winners;
      });
    for (auto& th : threads) th.join();
    ASSERT_EQ(winners.load(), 1);
  }
}

}  // namespace
