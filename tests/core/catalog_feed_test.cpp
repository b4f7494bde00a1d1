// catalog_feed: what a catalog plugin reports, queued for the scheduler thread, on a manual
// clock: changes are taken in batches, a revocation is applied at once and its caller
// waits for that, close() releases a waiting revocation.
#include "catalog_feed.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

namespace {

using isitup::catalog_change;
using isitup::catalog_feed;

struct fixture {
  std::atomic<int64_t> now{1000};
  std::atomic<int> wakes{0};
  catalog_feed feed{[this] { return now.load(); }, [this] { ++wakes; }};

  void entry(const char* key, const char* value, int32_t partition, int64_t offset) {
    isitup_catalog_entry_v1 e{};
    e.struct_size = sizeof e;
    e.key = key;
    e.key_len = std::strlen(key);
    e.value = value;
    e.value_len = value ? std::strlen(value) : 0;
    e.partition = partition;
    e.offset = offset;
    feed.events()->entry(feed.events()->ctx, &e);
  }
};

TEST(catalog_feed, a_burst_is_due_a_batch_after_its_first_change_and_wakes_once) {
  fixture f;
  EXPECT_FALSE(f.feed.next_due());
  const int32_t parts[] = {0, 3};
  f.feed.events()->assigned(f.feed.events()->ctx, parts, 2);
  f.entry("a", "{}", 0, 0);
  EXPECT_EQ(f.wakes.load(), 1) << "a change to a queue that is not empty woke the agent";
  EXPECT_FALSE(f.feed.due(1000 + catalog_feed::batch_ms - 1));
  EXPECT_TRUE(f.feed.due(1000 + catalog_feed::batch_ms));
  // More messages do not push it back.
  for (int64_t t = 1010; t <= 1100; t += 10) {
    f.now = t;
    f.entry("b", "{}", 3, t);
  }
  EXPECT_EQ(f.feed.next_due(), std::optional<int64_t>(1000 + catalog_feed::batch_ms));
  EXPECT_EQ(f.wakes.load(), 1);
  uint64_t generation = 0;
  const auto changes = f.feed.take(generation);
  ASSERT_EQ(changes.size(), 12u);
  EXPECT_EQ(changes[0].what, catalog_change::kind::assigned);
  EXPECT_EQ(changes[0].partitions, (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(changes[1].key, "a");
  EXPECT_EQ(changes[1].value, std::optional<std::string>("{}"));
  EXPECT_EQ(generation, 12u);
  EXPECT_FALSE(f.feed.next_due());
}

TEST(catalog_feed, the_first_assignment_after_a_loss_is_due_at_once) {
  fixture f;
  const int32_t parts[] = {1, 2};
  f.entry("a", "{}", 1, 0);
  f.feed.events()->lost(f.feed.events()->ctx, parts, 2);
  EXPECT_FALSE(f.feed.due(1000));
  f.feed.events()->assigned(f.feed.events()->ctx, parts, 1);
  EXPECT_TRUE(f.feed.due(1000));
  EXPECT_EQ(f.wakes.load(), 2);
  uint64_t generation = 0;
  EXPECT_EQ(f.feed.take(generation).size(), 3u);
  // The next assignment (no loss in between) waits for its batch like any change.
  f.feed.events()->assigned(f.feed.events()->ctx, parts + 1, 1);
  EXPECT_FALSE(f.feed.due(1000));
}

TEST(catalog_feed, keeps_tombstones_and_cuts_what_is_too_long) {
  fixture f;
  f.entry("gone", nullptr, 1, 7);
  const std::string big(catalog_feed::max_value_bytes + 100, 'x');
  f.entry("big", big.c_str(), 1, 8);
  uint64_t generation = 0;
  const auto changes = f.feed.take(generation);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_FALSE(changes[0].value.has_value());
  EXPECT_EQ(changes[0].offset, 7);
  EXPECT_EQ(changes[1].value->size(), catalog_feed::max_value_bytes + 1);
}

TEST(catalog_feed, a_revocation_is_due_at_once_and_returns_once_applied) {
  fixture f;
  std::atomic<bool> returned{false};
  std::thread plugin([&] {
    const int32_t parts[] = {2};
    f.feed.events()->revoked(f.feed.events()->ctx, parts, 1);
    returned = true;
  });
  while (!f.feed.next_due()) std::this_thread::yield();
  EXPECT_TRUE(f.feed.due(f.now.load()));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned.load()) << "revoked() returned before the agent applied it";
  uint64_t generation = 0;
  const auto changes = f.feed.take(generation);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].what, catalog_change::kind::revoked);
  f.feed.applied(generation);
  plugin.join();
  EXPECT_TRUE(returned.load());
}

TEST(catalog_feed, close_releases_a_waiting_revocation_and_a_loss_does_not_wait) {
  fixture f;
  const int32_t parts[] = {1, 2};
  f.feed.events()->lost(f.feed.events()->ctx, parts, 2);  // returns without an apply
  std::thread plugin([&] { f.feed.events()->revoked(f.feed.events()->ctx, parts, 2); });
  while (f.wakes.load() < 2) std::this_thread::yield();
  f.feed.close();
  plugin.join();
  uint64_t generation = 0;
  const auto changes = f.feed.take(generation);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].what, catalog_change::kind::lost);
  EXPECT_EQ(changes[1].what, catalog_change::kind::revoked);
}

}  // namespace
