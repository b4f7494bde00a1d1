// Positions stored with the rows (pg_offsets.hpp) through pg_writer against a real PostgreSQL:
// claims raise the epoch, a batch that follows on from the stored end takes the fast path
// (COPY straight into the table), anything else the slow path, a batch of an older epoch is
// refused with nothing of it stored; and the pure helpers that keep a partition's batches in
// order at the sink.
#include <gtest/gtest.h>

#include "pg_offsets.hpp"
#include "pg_test_util.hpp"
#include "pg_writer.hpp"

namespace isitup::pg {
namespace {

using testing::batch;
using testing::server;

std::unique_ptr<pg_writer> writer(const std::string& table) {
  writer_options o;
  o.conninfo = build_conninfo(server().uri(), "", 2000);
  o.names.table = table;
  o.to_json = [](const isitup_record_v1&) { return std::string("{}"); };
  return std::make_unique<pg_writer>(std::move(o));
}

batch_position at(int32_t partition, int64_t first, int64_t next, int64_t epoch) {
  return batch_position{"writers", "results", partition, first, next, epoch};
}

std::string stored(const std::string& table) {
  return server().psql("SELECT partition, next_offset, epoch FROM " + table +
                       "_offsets ORDER BY partition");
}

TEST(pg_offsets, a_claim_raises_the_epoch_and_returns_the_stored_end) {
  auto w = writer("offs_claim");
  std::vector<claimed_position> c = w->claim("writers", "results", {3, 1});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].partition, 3);
  EXPECT_EQ(c[0].epoch, 1);
  EXPECT_EQ(c[0].next, -1);  // nothing stored yet
  w->write(batch::range(0, 10).pointers, {}, {at(1, 0, 10, 1)});
  c = w->claim("writers", "results", {1});
  EXPECT_EQ(c[0].epoch, 2);
  EXPECT_EQ(c[0].next, 10);
  EXPECT_EQ(stored("offs_claim"), "1|10|2\n3||1\n");
}

TEST(pg_offsets, batches_that_follow_on_take_the_fast_path_and_others_the_slow_one) {
  auto w = writer("offs_paths");
  const int64_t e = w->claim("writers", "results", {0})[0].epoch;
  // The partition's first batch (claimed, nothing stored yet): fast.
  w->write(batch::range(0, 50).pointers, {}, {at(0, 0, 50, e)});
  EXPECT_EQ(w->stats().fast_writes, 1u);
  EXPECT_EQ(w->slow_reason(), "");
  w->write(batch::range(50, 100).pointers, {}, {at(0, 50, 100, e)});
  EXPECT_EQ(w->stats().fast_writes, 2u);
  EXPECT_EQ(w->stats().slow_writes, 0u);
  EXPECT_EQ(w->slow_reason(), "");
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_paths"), "100\n");
  // Its hours are marked for the rollups like the slow path's.
  EXPECT_EQ(server().psql("SELECT count(DISTINCT bucket) FROM offs_paths_rollup_todo"), "1\n");

  // A replay (overlap with the stored end): slow, nothing twice, the end stays.
  w->write(batch::range(50, 100).pointers, {}, {at(0, 50, 100, e)});
  EXPECT_EQ(w->stats().slow_writes, 1u);
  EXPECT_EQ(w->slow_reason(),
            "partition 0 of results is stored up to offset 100, the batch starts at 50");
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_paths"), "100\n");
  EXPECT_EQ(stored("offs_paths"), "0|100|1\n");

  // A result produced twice (its key in a message of its own): the COPY meets it, slow path.
  w->write(batch::range(99, 101).pointers, {}, {at(0, 100, 102, e)});
  EXPECT_EQ(w->stats().slow_writes, 2u);
  EXPECT_EQ(w->slow_reason(), "a row of the batch is stored already (SQLSTATE 23505)");
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_paths"), "101\n");
  EXPECT_EQ(stored("offs_paths"), "0|102|1\n");

  // The row deleted: slow once, then fast again.
  server().psql("DELETE FROM offs_paths_offsets");
  w->write(batch::range(101, 110).pointers, {}, {at(0, 102, 111, e)});
  EXPECT_EQ(w->slow_reason(), "no stored position for partition 0 of results");
  w->write(batch::range(110, 120).pointers, {}, {at(0, 111, 121, e)});
  EXPECT_EQ(w->slow_reason(), "");
  EXPECT_EQ(w->stats().fast_writes, 3u);
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_paths"), "120\n");
}

TEST(pg_offsets, a_first_batch_over_rows_stored_without_positions_goes_the_slow_way) {
  auto w = writer("offs_first");
  w->write(batch::range(0, 30).pointers);  // an older writer's rows, no positions kept
  const int64_t e = w->claim("writers", "results", {0})[0].epoch;
  w->write(batch::range(0, 50).pointers, {}, {at(0, 0, 50, e)});
  EXPECT_EQ(w->stats().fast_writes, 0u);
  EXPECT_EQ(w->stats().slow_writes, 1u);
  EXPECT_EQ(w->slow_reason(), "a row of the batch is stored already (SQLSTATE 23505)");
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_first"), "50\n");
  EXPECT_EQ(stored("offs_first"), "0|50|1\n");
  w->write(batch::range(50, 60).pointers, {}, {at(0, 50, 60, e)});
  EXPECT_EQ(w->stats().fast_writes, 1u);
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_first"), "60\n");
}

TEST(pg_offsets, a_batch_of_an_older_epoch_is_refused_with_nothing_of_it_stored) {
  auto w = writer("offs_fence");
  const int64_t mine = w->claim("writers", "results", {0})[0].epoch;
  w->write(batch::range(0, 10).pointers, {}, {at(0, 0, 10, mine)});
  auto other = writer("offs_fence");
  EXPECT_EQ(other->claim("writers", "results", {0})[0].epoch, mine + 1);

  // The state a stale writer would store: refused with the rows.
  isitup_check_state_v1 st{sizeof st, "check-1", 5, R"({"v": 5})"};
  isitup_alert_state_v1 state{sizeof state, &st, 1, nullptr, 0};
  try {
    w->write(batch::range(10, 20).pointers, {&state}, {at(0, 10, 20, mine)});
    ADD_FAILURE() << "a fenced batch was written";
  } catch (const write_failure& f) {
    EXPECT_EQ(f.which(), write_failure::kind::fenced);
    EXPECT_NE(std::string(f.what()).find("claimed by another reader (epoch 2"), std::string::npos)
        << f.what();
  }
  EXPECT_EQ(w->stats().fenced_writes, 1u);
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_fence"), "10\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_fence_alert_state"), "0\n");
  EXPECT_EQ(stored("offs_fence"), "0|10|2\n");
  // The new owner goes on from the stored end, fast.
  other->write(batch::range(10, 20).pointers, {&state}, {at(0, 10, 20, mine + 1)});
  EXPECT_EQ(other->stats().fast_writes, 1u);
  EXPECT_EQ(server().psql("SELECT count(*) FROM offs_fence"), "20\n");
  EXPECT_EQ(server().psql("SELECT version FROM offs_fence_alert_state"), "5\n");
}

TEST(pg_offsets, batches_merge_only_when_each_partition_follows_on) {
  std::vector<batch_position> tx{at(0, 0, 10, 1)};
  EXPECT_TRUE(follow_on(tx, {at(0, 10, 20, 1), at(1, 5, 7, 1)}));
  ASSERT_EQ(tx.size(), 2u);
  EXPECT_EQ(tx[0].next, 20);
  EXPECT_EQ(tx[1].first, 5);
  EXPECT_FALSE(follow_on(tx, {at(0, 21, 30, 1)}));  // a gap
  EXPECT_FALSE(follow_on(tx, {at(0, 20, 30, 2)}));  // another claim
  EXPECT_FALSE(follow_on(tx, {at(1, 7, 9, 1), at(0, 19, 30, 1)}));
  EXPECT_EQ(tx[0].next, 20);  // untouched by a refusal
  EXPECT_EQ(tx[1].next, 7);
}

TEST(pg_offsets, a_later_batch_waits_for_an_earlier_one_handed_back) {
  position_holds holds;
  holds.failed({at(0, 100, 150, 3)});
  EXPECT_TRUE(holds.must_wait({at(0, 150, 200, 3)}));
  EXPECT_FALSE(holds.must_wait({at(1, 150, 200, 3)}));  // another partition
  EXPECT_FALSE(holds.must_wait({at(0, 100, 150, 3)}));  // the one handed back
  holds.done({at(0, 100, 200, 3)});
  EXPECT_TRUE(holds.empty());
  EXPECT_FALSE(holds.must_wait({at(0, 150, 200, 3)}));

  holds.failed({at(0, 100, 150, 3)});
  EXPECT_FALSE(holds.must_wait({at(0, 300, 350, 4)}));  // claimed again since: no wait
  EXPECT_TRUE(holds.empty());
}

}  // namespace
}  // namespace isitup::pg
