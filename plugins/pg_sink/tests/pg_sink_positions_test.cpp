// End to end: writer agents (kafka_sink source -> pg_sink) store the Kafka positions of each
// batch in <table>_offsets with its rows, claim partitions with an owner epoch, and start
// reading where the stored rows end. A writer stopped past its revocation and resumed stores
// nothing of what it still had (fenced), a deleted positions row costs one slow batch, and a
// writer joining and leaving mid-stream leaves every key once with no batch applied twice.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <isitup/record.hpp>

#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "http_support.hpp"
#include "kafka_broker.hpp"
#include "pg_server.hpp"
#include "pg_writer_agents.hpp"
#include "record_codec.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::pg::testing::kafka_client;
using isitup::pg::testing::rk_ptr;
using isitup::pg::testing::sink_counter;
using isitup::test::http_agent;
using isitup::test::kafka_broker;
using isitup::test::kafka_broker_options;
using isitup::test::pg_server;

const std::string plugin_dir = ISITUP_PLUGIN_DIR;

// Result i: check "shop" for every 5th, else "f1".."f4"; every check once a second. "shop" is
// down for i in [down_from, down_to).
isitup::sdk::record result(int i, int down_from = -1, int down_to = -1) {
  isitup::sdk::record r;
  r.agent = "probe-1";
  r.location = "lab";
  r.check = i % 5 == 0 ? "shop" : "f" + std::to_string(i % 5);
  r.plugin = "tcp_check";
  r.target = "127.0.0.1:80";
  r.scheduled_at_ms = 1'795'802'400'000 + static_cast<int64_t>(i / 5) * 1000;
  r.started_at_ms = r.scheduled_at_ms + 2;
  r.up = !(r.check == "shop" && i >= down_from && i < down_to);
  if (!r.up) {
    r.error_kind = "connect";
    r.error_message = "Connection refused";
  }
  r.total_ms = 1.5;
  return r;
}

// Results [from, to) to partition i % partitions, key = the check name.
void produce(rd_kafka_t* rk, int from, int to, int partitions, int down_from = -1,
             int down_to = -1) {
  for (int i = from; i < to; ++i) {
    const isitup::sdk::record r = result(i, down_from, down_to);
    std::string json = isitup::test::encode_record(r);
    ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("results"),
                                RD_KAFKA_V_PARTITION(static_cast<int32_t>(i % partitions)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(r.check.data(), r.check.size()),
                                RD_KAFKA_V_VALUE(json.data(), json.size()), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

class pg_positions : public ::testing::Test {
 protected:
  explicit pg_positions(int partitions = 1)
      : partitions_(partitions),
        broker_(kafka_broker_options{1, {"results:" + std::to_string(partitions)}}),
        rk_(kafka_client(broker_.bootstrap())) {}

  std::string config(const std::string& id) const {
    return "agent: {id: " + id + ", http: {listen: \"127.0.0.1:0\"}}\n" +
           "sources:\n  - plugin: kafka_sink\n    options: {brokers: \"" + broker_.bootstrap() +
           "\", topic: results, group: writers, batch_size: 50, batch_delay: 20ms, properties: "
           "{session.timeout.ms: \"6000\", heartbeat.interval.ms: \"500\", "
           "reconnect.backoff.max.ms: \"500\"}}\n"
           "sinks:\n  - plugin: pg_sink\n    options: {connection: \"" +
           pg_.uri() +
           "\", table: results, batch_delay: 20ms, statement_timeout: 3s, connect_timeout: 2s, "
           "reconnect_backoff_max: 500ms, maintenance: false}\n";
  }
  std::unique_ptr<http_agent> start(const std::string& id) {
    return std::make_unique<http_agent>(config(id), plugin_dir);
  }
  int count(const std::string& sql) {
    const std::string out = pg_.psql(sql);
    return out.empty() || !std::isdigit(static_cast<unsigned char>(out[0])) ? -1 : std::stoi(out);
  }
  int rows() {
    if (count("SELECT count(*) FROM pg_tables WHERE tablename = 'results_offsets'") != 1) return -1;
    return count("SELECT count(*) FROM results");
  }
  bool rows_reach(int n, std::chrono::milliseconds limit = 60s) {
    return isitup::test::eventually([&] { return rows() == n; }, limit);
  }

  int partitions_;
  pg_server pg_;
  kafka_broker broker_;
  rk_ptr rk_;
};

TEST_F(pg_positions, a_writer_stopped_past_its_revocation_stores_nothing_once_resumed) {
  auto a = start("writer-a");
  produce(rk_.get(), 0, 100, 1);
  ASSERT_TRUE(rows_reach(100)) << rows() << a->process().err();
  ASSERT_TRUE(isitup::test::eventually(
      [&] { return count("SELECT next_offset FROM results_offsets") == 100; }, 10s));

  // Hold the partition's position row: writer-a's next batch waits inside its transaction.
  pqxx::connection hold(pg_.uri());
  auto lock = std::make_unique<pqxx::work>(hold);
  lock->exec("SELECT 1 FROM results_offsets FOR UPDATE");
  produce(rk_.get(), 100, 200, 1, 100, 200);  // "shop" goes down: an incident opens
  ASSERT_TRUE(isitup::test::eventually(
      [&] {
        return count(
                   "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                   "'isitup-pg_sink' AND wait_event_type = 'Lock'") == 1;
      },
      30s))
      << a->process().err();
  a->process().signal(SIGSTOP);  // stalled with its transaction open, past its revocation
  lock->abort();
  lock.reset();

  auto b = start("writer-b");
  ASSERT_TRUE(rows_reach(200)) << rows() << b->process().err();
  EXPECT_NE(b->process().err().find("reading from the stored positions: 0@100 epoch 2"),
            std::string::npos)
      << b->process().err();
  produce(rk_.get(), 200, 300, 1);  // "shop" recovers: the incident resolves
  ASSERT_TRUE(rows_reach(300)) << rows() << b->process().err();
  ASSERT_TRUE(isitup::test::eventually(
      [&] {
        return count("SELECT count(*) FROM results_incidents WHERE resolved_at IS NOT NULL") == 1;
      },
      30s));

  a->process().signal(SIGCONT);
  ASSERT_TRUE(isitup::test::eventually(
      [&] { return a->process().err().find("no longer owns") != std::string::npos; }, 40s))
      << a->process().err();
  EXPECT_GE(sink_counter(*a, "batches_fenced"), 1);
  produce(rk_.get(), 300, 400, 1);
  ASSERT_TRUE(rows_reach(400)) << rows() << a->process().err() << b->process().err();

  EXPECT_EQ(count("SELECT count(*) FROM results_incidents"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM results_events"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM results_incidents WHERE resolved_at IS NULL"), 0);
  EXPECT_TRUE(isitup::test::eventually(
      [&] { return count("SELECT next_offset FROM results_offsets") == 400; }, 10s));
  EXPECT_GE(count("SELECT epoch FROM results_offsets"), 2);  // a's claim, b's (and any later)
  EXPECT_EQ(a->stop(), 0) << a->process().err();
  EXPECT_EQ(b->stop(), 0) << b->process().err();
}

TEST_F(pg_positions, a_deleted_position_row_costs_one_slow_batch_and_nothing_else) {
  auto a = start("writer-a");
  produce(rk_.get(), 0, 100, 1);  // nothing stored yet: the first batch is fast all the same
  ASSERT_TRUE(rows_reach(100)) << rows() << a->process().err();
  produce(rk_.get(), 100, 200, 1);
  ASSERT_TRUE(rows_reach(200)) << rows() << a->process().err();
  ASSERT_TRUE(isitup::test::eventually(
      [&] { return count("SELECT next_offset FROM results_offsets") == 200; }, 10s));
  const int64_t fast_before = sink_counter(*a, "fast_path");
  const int64_t slow_before = sink_counter(*a, "slow_path");
  EXPECT_GE(fast_before, 2);
  EXPECT_EQ(slow_before, 0) << a->process().err();

  pg_.psql("DELETE FROM results_offsets");
  produce(rk_.get(), 200, 300, 1);
  ASSERT_TRUE(rows_reach(300)) << rows() << a->process().err();
  ASSERT_TRUE(isitup::test::eventually(
      [&] { return count("SELECT next_offset FROM results_offsets") == 300; }, 10s));
  EXPECT_NE(a->process().err().find("no stored position for partition 0 of results"),
            std::string::npos)
      << a->process().err();
  EXPECT_GE(sink_counter(*a, "slow_path"), slow_before + 1);

  const int64_t slow_after = sink_counter(*a, "slow_path");
  produce(rk_.get(), 300, 400, 1);
  ASSERT_TRUE(rows_reach(400)) << rows() << a->process().err();
  EXPECT_TRUE(isitup::test::eventually(
      [&] { return count("SELECT next_offset FROM results_offsets") == 400; }, 10s));
  EXPECT_EQ(sink_counter(*a, "slow_path"), slow_after);  // the row is back: fast again
  EXPECT_GT(sink_counter(*a, "fast_path"), fast_before);
  EXPECT_EQ(a->stop(), 0) << a->process().err();
}

class pg_positions_4 : public pg_positions {
 protected:
  pg_positions_4() : pg_positions(4) {}
};

TEST_F(pg_positions_4, a_writer_joining_then_leaving_mid_stream_leaves_no_duplicate_or_gap) {
  constexpr int n = 8000;
  auto a = start("writer-a");
  std::atomic<bool> produced{false};
  std::atomic<bool> b_assigned{false};
  // The second half waits for b's assignment: on a loaded machine b's start and the rebalance
  // can outlast a feed that runs on, leaving nothing for the two writers to share.
  std::thread feed([&] {
    for (int i = 0; i < n; i += 200) {
      if (i == n / 2) {
        const auto until = std::chrono::steady_clock::now() + 60s;
        while (!b_assigned && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(20ms);
        }
      }
      produce(rk_.get(), i, i + 200, 4);
      std::this_thread::sleep_for(100ms);
    }
    produced = true;
  });
  struct joiner {  // an ASSERT below returns early: the feed is joined all the same
    std::thread& t;
    std::atomic<bool>& go;
    ~joiner() {
      go = true;
      if (t.joinable()) t.join();
    }
  } const join_feed{feed, b_assigned};
  ASSERT_TRUE(isitup::test::eventually([&] { return rows() > 500; }, 30s)) << a->process().err();
  auto b = start("writer-b");
  const bool joined = isitup::test::eventually(
      [&] { return b->process().err().find("assigned partitions [") != std::string::npos; }, 30s);
  // Counted before the feed goes on: counted after, the count (two psql runs) took long enough
  // at CI load for the feed and the writers to add 1,200 more rows (5,200 against 4,200).
  const int at_join = rows();
  b_assigned = true;
  ASSERT_TRUE(joined) << b->process().err();
  ASSERT_LE(at_join, n / 2);
  ASSERT_TRUE(isitup::test::eventually([&] { return rows() > at_join + 500; }, 30s))
      << at_join << " " << rows() << a->process().err() << b->process().err();
  const int64_t slow_b = sink_counter(*b, "slow_path");
  EXPECT_EQ(b->stop(), 0) << b->process().err();
  feed.join();
  ASSERT_TRUE(produced);
  ASSERT_TRUE(rows_reach(n, 90s)) << rows() << a->process().err();
  EXPECT_TRUE(isitup::test::eventually(
      [&] { return count("SELECT sum(next_offset) FROM results_offsets") == n; }, 10s));
  // No batch met a row that was there already and none started away from the stored end.
  const std::string logs = a->process().err() + b->process().err();
  EXPECT_EQ(logs.find("stored already"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("is stored up to offset"), std::string::npos) << logs;
  // No batch takes the slow path, a partition's first neither (claimed, nothing stored yet).
  EXPECT_EQ(sink_counter(*a, "slow_path") + slow_b, 0) << logs;
  EXPECT_GT(sink_counter(*a, "fast_path"), 0);
  EXPECT_EQ(a->stop(), 0) << a->process().err();
}

}  // namespace
