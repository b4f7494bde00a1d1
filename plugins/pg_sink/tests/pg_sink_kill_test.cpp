// End to end, the crash test of exactly-once from Kafka: writer agents (kafka_sink source ->
// pg_sink, positions stored with the rows) are killed with SIGKILL 20 times in all while a
// 200k-row stream goes through them, each started again at once. Four lanes run side by side
// (a topic, a consumer group and a writer each, one results table), five kills each: a killed
// member leaves its group only when its session times out, so one lane would spend most of the
// time in rebalances. Kill points: at random (once a random share of the rows produced since
// the start is stored), between a transaction's COPY and its COMMIT (the test holds a lock the
// transaction takes after its COPY), and between the COMMIT and the Kafka offset commit (the
// broker refuses offset commits meanwhile: Kafka's offsets stay behind PostgreSQL's). In the
// end the table holds every key once, the stored positions end where the stream does, no
// batch met rows stored already, and the fast path (COPY straight into the table) wrote every
// batch.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <isitup/record.hpp>

#include <iostream>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
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
using isitup::test::eventually;
using isitup::test::http_agent;
using isitup::test::kafka_broker;
using isitup::test::kafka_broker_options;
using isitup::test::pg_server;

constexpr int lanes = 4;
constexpr int kills_per_lane = 5;
constexpr int rows_per_lane = 50'000;  // 200k in all
constexpr int partitions = 4;          // 12.5k messages, ~3 MB each: under the broker's 5 MB
constexpr int chunk = rows_per_lane / (kills_per_lane + 1);  // produced for each start

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

enum class kill_point { at_random, between_copy_and_commit, before_kafka_commit };

class pg_kill : public ::testing::Test {
 protected:
  pg_kill()
      : broker_(
            kafka_broker_options{1, {"results-0:4", "results-1:4", "results-2:4", "results-3:4"}}),
        producer_(kafka_client(broker_.bootstrap(), "", "20")) {}

  // One lane's writer: its own topic and group, and its own application_name at PostgreSQL
  // (to tell its session from the others').
  std::string config(int lane) const {
    const std::string n = std::to_string(lane);
    return "agent: {id: writer-" + n + ", http: {listen: \"127.0.0.1:0\"}}\n" +
           "sources:\n  - plugin: kafka_sink\n    options: {brokers: \"" + broker_.bootstrap() +
           "\", topic: results-" + n + ", group: writers-" + n +
           ", batch_size: 500, batch_delay: 20ms, properties: {session.timeout.ms: \"4000\", "
           "heartbeat.interval.ms: \"500\", reconnect.backoff.max.ms: \"500\"}}\n"
           "sinks:\n  - plugin: pg_sink\n    options: {connection: \"" +
           pg_.conninfo() + " application_name=writer-" + n +
           "\", table: results, batch_size: 2000, batch_delay: 20ms, statement_timeout: 60s, "
           "connect_timeout: 5s, reconnect_backoff_max: 500ms, maintenance: false}\n";
  }

  // Result i of a lane: one of 100 checks of agent probe-<lane>, each once a second.
  static isitup::sdk::record result(int lane, int i) {
    isitup::sdk::record r;
    r.agent = "probe-" + std::to_string(lane);
    r.location = "lab";
    r.check = "c" + std::to_string(i % 100);
    r.plugin = "tcp_check";
    r.target = "127.0.0.1:80";
    r.scheduled_at_ms = 1'795'802'400'000 + static_cast<int64_t>(i / 100) * 1000;
    r.started_at_ms = r.scheduled_at_ms + 2;
    r.up = true;
    r.total_ms = 1.5;
    return r;
  }

  void produce(int lane, int from, int to) {
    const std::string topic = "results-" + std::to_string(lane);
    std::string json;
    for (int i = from; i < to; ++i) {
      const isitup::sdk::record r = result(lane, i);
      json = isitup::test::encode_record(r);
      for (;;) {
        const rd_kafka_resp_err_t e = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(i % partitions),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(r.check.data(), r.check.size()),
            RD_KAFKA_V_VALUE(json.data(), json.size()), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR);
          break;
        }
        rd_kafka_poll(producer_.get(), 50);
      }
    }
    ASSERT_EQ(rd_kafka_flush(producer_.get(), 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  std::string command(const std::string& line) {
    std::lock_guard hold(broker_mu_);
    return broker_.command(line);
  }

  struct lane_result {
    std::string logs;
    int64_t fast = 0;  // fast_path batches, as last read from each writer's /metrics
    int copy_kills = 0, kafka_kills = 0;
  };

  void run_lane(int lane, unsigned seed, lane_result& out);

  pg_server pg_;
  kafka_broker broker_;
  rk_ptr producer_;
  std::mutex broker_mu_;  // kafka_broker::command: one at a time
  std::mutex lock_mu_;    // one lane at a time holds the lock on the rollup marks
  std::mutex commit_mu_;  // one lane at a time has the broker refuse offset commits
};

int64_t query(pqxx::connection& db, const std::string& sql) {
  pqxx::nontransaction tx(db);
  const pqxx::row r = tx.exec1(sql);
  return r[0].is_null() ? 0 : r[0].as<int64_t>();
}

void pg_kill::run_lane(int lane, unsigned seed, lane_result& out) {
  const std::string n = std::to_string(lane);
  std::mt19937 rng(seed);
  pqxx::connection db(pg_.uri());
  pqxx::connection holder(pg_.uri());
  rk_ptr reader = kafka_client(broker_.bootstrap(), "writers-" + n);
  // Where the lane's stored rows end, summed over its partitions (0 before the first start).
  auto stored = [&] {
    if (query(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'results_offsets'") == 0)
      return int64_t{0};
    return query(db,
                 "SELECT sum(next_offset) FROM results_offsets WHERE consumer_group = "
                 "'writers-" +
                     n + "'");
  };
  // The lane's offsets committed to Kafka, summed over its partitions.
  auto kafka_committed = [&] {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list, ("results-" + n).c_str(), p);
    int64_t sum = -1;
    if (rd_kafka_committed(reader.get(), list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      sum = 0;
      for (int i = 0; i < list->cnt; ++i) sum += std::max<int64_t>(0, list->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return sum;
  };
  auto assigned = [](http_agent& a) {
    return eventually(
        [&] { return a.process().err().find("assigned partitions [") != std::string::npos; }, 60s);
  };

  int produced = 0;
  for (int k = 0; k < kills_per_lane; ++k) {
    SCOPED_TRACE("lane " + n + ", start " + std::to_string(k));
    // Each lane kills at each point in another start: the exclusive windows do not queue.
    const int slot = (k + lane) % kills_per_lane;
    const kill_point point = slot == 1   ? kill_point::between_copy_and_commit
                             : slot == 3 ? kill_point::before_kafka_commit
                                         : kill_point::at_random;
    const int64_t at_start = stored();
    auto a = std::make_unique<http_agent>(config(lane), ISITUP_PLUGIN_DIR);
    int waiting_pid = 0;
    std::unique_lock<std::mutex> exclusive;
    std::unique_ptr<pqxx::work> lock;
    if (point == kill_point::at_random) {
      produce(lane, produced, produced + chunk);
      produced += chunk;
      const int64_t target = at_start + std::uniform_int_distribution<int64_t>(1, chunk)(rng);
      ASSERT_TRUE(eventually([&] { return stored() >= target; }, 120s))
          << stored() << " " << target << a->process().err();
    } else if (point == kill_point::between_copy_and_commit) {
      // After its COPY a transaction marks its hours for the rollups: it waits there.
      ASSERT_TRUE(assigned(*a)) << a->process().err();
      exclusive = std::unique_lock(lock_mu_);
      lock = std::make_unique<pqxx::work>(holder);
      lock->exec("LOCK TABLE results_rollup_todo IN SHARE MODE");
      produce(lane, produced, produced + chunk);
      produced += chunk;
      ASSERT_TRUE(eventually(
          [&] {
            pqxx::nontransaction tx(db);
            const pqxx::result r =
                tx.exec("SELECT pid FROM pg_stat_activity WHERE application_name = 'writer-" + n +
                        "' AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%rollup_todo%'");
            if (r.empty()) return false;
            waiting_pid = r[0][0].as<int>();
            return true;
          },
          120s))
          << a->process().err();
    } else {
      // Stored in PostgreSQL, refused by Kafka: PostgreSQL's positions run ahead.
      ASSERT_TRUE(assigned(*a)) << a->process().err();
      exclusive = std::unique_lock(commit_mu_);
      const std::string ok = command("error OffsetCommit OFFSET_METADATA_TOO_LARGE 100000");
      ASSERT_EQ(ok.rfind("ok", 0), 0u) << ok;
      const int64_t kafka_before = kafka_committed();
      produce(lane, produced, produced + chunk);
      produced += chunk;
      ASSERT_TRUE(eventually([&] { return stored() > std::max(at_start, kafka_before); }, 120s))
          << a->process().err();
      EXPECT_LT(kafka_committed(), stored());
    }
    out.fast += sink_counter(*a, "fast_path");
    a->process().signal(SIGKILL);
    EXPECT_EQ(a->process().wait(30s), 128 + SIGKILL);
    out.logs += a->process().err();
    if (lock) {
      // The killed writer's transaction ends when its server process, granted the lock, finds
      // the connection gone: rolled back, neither its rows nor its positions are stored.
      const int64_t before = stored();
      lock->abort();
      lock.reset();
      ASSERT_TRUE(eventually(
          [&] {
            return query(db, "SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                                 std::to_string(waiting_pid)) == 0;
          },
          60s));
      EXPECT_EQ(stored(), before);
      ++out.copy_kills;
    }
    if (point == kill_point::before_kafka_commit) {
      const std::string ok = command("clear OffsetCommit");
      ASSERT_EQ(ok.rfind("ok", 0), 0u) << ok;
      ++out.kafka_kills;
    }
    if (exclusive) exclusive.unlock();
  }
  produce(lane, produced, rows_per_lane);
  auto last = std::make_unique<http_agent>(config(lane), ISITUP_PLUGIN_DIR);
  ASSERT_TRUE(eventually([&] { return stored() == rows_per_lane; }, 180s))
      << stored() << last->process().err();
  out.fast += sink_counter(*last, "fast_path");
  EXPECT_EQ(last->stop(), 0);
  out.logs += last->process().err();
}

TEST_F(pg_kill, writers_killed_20_times_mid_stream_store_every_key_once_mostly_fast) {
  const unsigned seed = std::random_device{}();
  std::cout << "seed " << seed << std::endl;
  std::vector<lane_result> results(lanes);
  std::vector<std::thread> threads;
  threads.reserve(lanes);
  for (int lane = 0; lane < lanes; ++lane)
    threads.emplace_back([&, lane] { run_lane(lane, seed + lane, results[lane]); });
  for (std::thread& t : threads) t.join();
  if (HasFatalFailure()) return;

  pqxx::connection db(pg_.uri());
  // Every key once (the primary key forbids twice): all 200k of them, nothing else.
  EXPECT_EQ(query(db, "SELECT count(*) FROM results"), lanes * rows_per_lane);
  EXPECT_EQ(query(db, "SELECT sum(next_offset) FROM results_offsets"), lanes * rows_per_lane);
  // A claim per start.
  EXPECT_GE(query(db, "SELECT min(epoch) FROM results_offsets"), kills_per_lane + 1);
  int64_t fast = 0;
  std::size_t slow = 0;
  for (int lane = 0; lane < lanes; ++lane) {
    const lane_result& r = results[lane];
    SCOPED_TRACE("lane " + std::to_string(lane));
    EXPECT_EQ(query(db, "SELECT count(*) FROM results WHERE agent = 'probe-" +
                            std::to_string(lane) + "'"),
              rows_per_lane);
    EXPECT_EQ(r.copy_kills, 1);
    EXPECT_EQ(r.kafka_kills, 1);
    // No batch met rows stored already or started away from the stored end: nothing was
    // applied twice, nothing skipped.
    EXPECT_EQ(r.logs.find("stored already"), std::string::npos) << r.logs;
    EXPECT_EQ(r.logs.find("is stored up to offset"), std::string::npos) << r.logs;
    // Every batch took the fast path, a partition's first too (claimed, nothing stored yet).
    const std::size_t lines = occurrences(r.logs, "slow path (staging + ON CONFLICT)");
    EXPECT_EQ(lines, 0u) << r.logs;
    fast += r.fast;
    slow += lines;
  }
  // Counted from /metrics, read just before each kill (so a lower bound).
  std::cout << "fast path " << fast << " transactions, slow path " << slow << std::endl;
  EXPECT_GE(fast, lanes * kills_per_lane);
}

}  // namespace
