// catalog_feed: what a catalog plugin reports, queued for the scheduler thread, on a manual
// clock: changes are taken in batches, a revocation is applied at once and its caller
// waits for that, close() releases a waiting revocation.
#include <isitup/core/catalog_feed.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

// A burst is taken a batch of batch_changes at a time as soon as they are there, not a batch_ms
// later: the agent starts on the first checks while the rest are still read.
TEST(catalog_feed, batch_changes_are_due_at_once_and_wake_once) {
  fixture f;
  const int32_t parts[] = {0};
  f.feed.events()->assigned(f.feed.events()->ctx, parts, 1);
  std::vector<std::string> keys;
  for (std::size_t i = 0; i + 2 < catalog_feed::batch_changes; ++i)
    keys.push_back("k" + std::to_string(i));
  for (std::size_t i = 0; i < keys.size(); ++i)
    f.entry(keys[i].c_str(), "{}", 0, static_cast<int64_t>(i));
  EXPECT_FALSE(f.feed.due(f.now.load())) << "one change short of a batch";
  EXPECT_EQ(f.wakes.load(), 1);
  f.entry("last", "{}", 0, 5000);
  EXPECT_TRUE(f.feed.due(f.now.load()));
  EXPECT_EQ(f.feed.next_due(), std::optional<int64_t>(f.now.load()));
  EXPECT_EQ(f.wakes.load(), 2);
  f.entry("after", "{}", 0, 5001);
  EXPECT_EQ(f.wakes.load(), 2) << "woken once per batch, not per change";
  uint64_t generation = 0;
  EXPECT_EQ(f.feed.take(generation).size(), catalog_feed::batch_changes + 1);
  EXPECT_FALSE(f.feed.next_due());
}

// A bounded queue: the reporting thread waits while max_pending changes wait, which are then
// due at once; a take() lets it go on; nothing is lost or reordered; close() releases it.
TEST(catalog_feed, a_full_queue_is_due_at_once_and_holds_the_reporting_thread_until_taken) {
  std::atomic<int> wakes{0};
  catalog_feed feed([] { return int64_t{1000}; }, [&] { ++wakes; }, {}, 4);
  std::atomic<int> sent{0};
  std::thread plugin([&] {
    for (int i = 0; i < 10; ++i) {
      const std::string key = "k" + std::to_string(i);
      isitup_catalog_entry_v1 e{};
      e.struct_size = sizeof e;
      e.key = key.c_str();
      e.key_len = key.size();
      e.value = "{}";
      e.value_len = 2;
      e.partition = 0;
      e.offset = i;
      feed.events()->entry(feed.events()->ctx, &e);
      ++sent;
    }
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (sent.load() < 4 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  ASSERT_EQ(sent.load(), 4);
  EXPECT_TRUE(feed.due(1000)) << "a full queue waits for no batch";
  EXPECT_EQ(feed.next_due(), std::optional<int64_t>(1000));
  EXPECT_EQ(wakes.load(), 2) << "woken for the first change and when full";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(sent.load(), 4) << "a fifth change was queued past the bound";
  std::vector<std::string> keys;
  while (keys.size() < 10 && std::chrono::steady_clock::now() < until) {
    uint64_t generation = 0;
    auto changes = feed.take(generation);
    EXPECT_LE(changes.size(), 4u);
    for (const auto& c : changes) keys.push_back(c.key);
    std::this_thread::yield();
  }
  plugin.join();
  EXPECT_EQ(keys,
            (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}));

  catalog_feed closing([] { return int64_t{0}; }, [] {}, {}, 1);
  std::thread blocked([&] {
    for (int i = 0; i < 2; ++i) {
      isitup_catalog_entry_v1 e{};
      e.struct_size = sizeof e;
      e.key = "k";
      e.key_len = 1;
      e.partition = 0;
      e.offset = i;
      closing.events()->entry(closing.events()->ctx, &e);
    }
  });
  while (!closing.due(0)) std::this_thread::yield();
  closing.close();
  blocked.join();  // returns: the second change is dropped, not queued
  uint64_t generation = 0;
  EXPECT_EQ(closing.take(generation).size(), 1u);
}

}  // namespace

// With a read function, a message is read on the thread that reports it, before it is queued:
// the agent takes checks (or errors), not JSON; a tombstone is not read.
TEST(catalog_feed, reads_each_message_on_the_reporting_thread_before_it_is_queued) {
  std::thread::id read_on;
  int reads = 0;
  catalog_feed feed([] { return int64_t{0}; }, [] {},
                    [&](catalog_change& c) {
                      read_on = std::this_thread::get_id();
                      ++reads;
                      if (*c.value == "bad") {
                        c.error = "partition " + std::to_string(c.partition) + ": bad";
                        return;
                      }
                      c.check = std::make_unique<isitup::config::check>();
                      c.check->name = c.key;
                      c.check->target = *c.value;
                    });
  std::thread plugin([&] {
    const auto entry = [&](const char* key, const char* value, int64_t offset) {
      isitup_catalog_entry_v1 e{};
      e.struct_size = sizeof e;
      e.key = key;
      e.key_len = std::strlen(key);
      e.value = value;
      e.value_len = value ? std::strlen(value) : 0;
      e.partition = 2;
      e.offset = offset;
      feed.events()->entry(feed.events()->ctx, &e);
    };
    entry("a", "http://a/", 0);
    entry("b", "bad", 1);
    entry("a", nullptr, 2);
  });
  const std::thread::id plugin_id = plugin.get_id();
  plugin.join();
  EXPECT_EQ(read_on, plugin_id);
  EXPECT_EQ(reads, 2) << "a tombstone has nothing to read";
  uint64_t generation = 0;
  const auto changes = feed.take(generation);
  ASSERT_EQ(changes.size(), 3u);
  ASSERT_TRUE(changes[0].check);
  EXPECT_EQ(changes[0].check->name, "a");
  EXPECT_EQ(changes[0].check->target, "http://a/");
  EXPECT_EQ(changes[0].value, std::optional<std::string>("")) << "the JSON is not kept";
  EXPECT_FALSE(changes[1].check);
  EXPECT_EQ(changes[1].error, "partition 2: bad");
  EXPECT_FALSE(changes[2].value) << "still a tombstone";
  EXPECT_FALSE(changes[2].check);
}

// The stall limits follow the catalog's session timeout: half of it, holding 1 s at most; an
// unknown one (a plugin that does not say) keeps 2 s and 1 s.
TEST(catalog_feed, stall_limits_follow_the_session_timeout) {
  const auto unknown = catalog_feed::stall_limits_for(0);
  EXPECT_EQ(unknown.stalled_ms, 2000);
  EXPECT_EQ(unknown.hold_ms, 1000);
  const auto usual = catalog_feed::stall_limits_for(10000);
  EXPECT_EQ(usual.stalled_ms, 5000);
  EXPECT_EQ(usual.hold_ms, 1000);
  const auto tests = catalog_feed::stall_limits_for(3000);
  EXPECT_EQ(tests.stalled_ms, 1500);
  EXPECT_EQ(tests.hold_ms, 1000);
  const auto short_one = catalog_feed::stall_limits_for(1000);
  EXPECT_EQ(short_one.stalled_ms, 500);
  EXPECT_EQ(short_one.hold_ms, 500);
}
