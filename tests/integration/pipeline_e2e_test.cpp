// The whole pipeline, end to end, as deployed: a probe agent (http_check against a local HTTP
// server → kafka_sink, plus stdout_sink to a file as the witness of every result it produced),
// the development Kafka broker, and two writer agents in one consumer group (kafka source →
// pg_sink) writing into a real PostgreSQL server. Each case runs for a short fixed time, with
// or without a fault, stops the probe with SIGTERM, waits for the writers to drain, and compares
// the keys (agent, check, scheduled_at) the probe produced with the rows in PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <isitup/core/codec.hpp>
#include "agents.hpp"
#include "eventually.hpp"
#include "http_target_server.hpp"
#include "kafka_broker.hpp"
#include "pg_server.hpp"
#include "process.hpp"

using namespace std::chrono_literals;

namespace {

using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::kafka_broker;
using isitup::test::pg_server;
using isitup::test::temp_dir;

const std::string topic = "results";
constexpr int targets = 8;

using key = std::tuple<std::string, std::string, int64_t>;  // agent, check, scheduled_at ms
// How often a wait asks again: the questions parse writers' logs or count rows in PostgreSQL.
constexpr auto poll_every = 250ms;

// The partitions named in the last "assigned partitions [..]" line of a writer's log.
std::set<std::string> last_assignment(const std::string& log) {
  const std::string marker = "assigned partitions [";
  const auto at = log.rfind(marker);
  std::set<std::string> out;
  if (at == std::string::npos) return out;
  const auto end = log.find(']', at);
  std::istringstream in(log.substr(at + marker.size(), end - at - marker.size()));
  std::string p;
  while (std::getline(in, p, ',')) out.insert(p);
  return out;
}

class pipeline {
 public:
  pipeline() : broker_({.brokers = 1, .topics = {topic + ":4"}, .port = 0}) {
    reference_ = (dir_ / "probe-results.jsonl").string();
    writer_cfg_[0] = writer_config("writer-a");
    writer_cfg_[1] = writer_config("writer-b");
  }

  kafka_broker& broker() { return broker_; }
  pg_server& pg() { return pg_; }
  child_process& writer(int i) { return *writers_[i]; }

  // Starts writer a, then writer b, and waits until the group is settled: both assigned and
  // every partition owned. Then starts the probe.
  void start() {
    start_writer(0);
    ASSERT_TRUE(
        eventually([&] { return last_assignment(writer(0).err()).size() == 4; }, 30s, poll_every))
        << writer(0).err();
    start_writer(1);
    ASSERT_TRUE(settled(30s)) << writer(0).err() << writer(1).err();
    start_probe();
  }

  void start_writer(int i) { writers_[i] = isitup::test::start_agent(writer_cfg_[i]); }

  // Both writers have a non-empty assignment and together they own all four partitions.
  bool settled(std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          const auto a = last_assignment(writer(0).err()), b = last_assignment(writer(1).err());
          std::set<std::string> all(a.begin(), a.end());
          all.insert(b.begin(), b.end());
          return !a.empty() && !b.empty() && all.size() == 4 && a.size() + b.size() == 4;
        },
        timeout, poll_every);
  }

  // SIGTERM: the probe flushes its sinks (Kafka included) and exits 0.
  void stop_probe() {
    probe_->signal(SIGTERM);
    ASSERT_EQ(probe_->wait(40s), 0) << probe_->err();
  }

  // Every key the probe wrote to its reference file; `dups` counts keys seen twice.
  std::set<key> produced(int& lines, int& dups) const {
    std::set<key> out;
    std::istringstream in(isitup::test::read_file(reference_));
    std::string line;
    lines = dups = 0;
    while (std::getline(in, line)) {
      if (line.find("\"event_id\"") != std::string::npos) continue;  // a transition
      isitup::record r;
      std::string error;
      EXPECT_TRUE(isitup::codec::decode(line, r, error)) << error << ": " << line;
      ++lines;
      if (!out.emplace(r.agent, r.check, r.scheduled_at_ms).second) ++dups;
    }
    return out;
  }

  // Every row's key in PostgreSQL; `rows` is the row count (the primary key makes duplicate
  // rows impossible, so rows > keys would mean the key is not what we think it is).
  std::set<key> stored(long& rows) const {
    std::set<key> out;
    rows = 0;
    std::istringstream in(
        pg_.psql("SELECT agent, check_name, (extract(epoch FROM scheduled_at) * 1000)::bigint "
                 "FROM check_results"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string agent, check, ms;
      std::getline(f, agent, '|');
      std::getline(f, check, '|');
      std::getline(f, ms, '|');
      out.emplace(agent, check, std::stoll(ms));
      ++rows;
    }
    return out;
  }

  long row_count() const {
    return isitup::test::pg_number(pg_, "SELECT count(*) FROM check_results");
  }

  // After the probe stopped: waits (bounded) until PostgreSQL holds at least as many rows as
  // the probe produced, then compares, prints the counts and stops the writers.
  void expect_every_key_exactly_once(const std::string& what) {
    int lines = 0, ref_dups = 0;
    const std::set<key> want = produced(lines, ref_dups);
    ASSERT_GE(want.size(), 40u) << "the probe produced too little: " << probe_->err();
    const auto t0 = std::chrono::steady_clock::now();
    eventually([&] { return row_count() >= static_cast<long>(want.size()); }, 60s, poll_every);
    const double drain_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long rows = 0;
    const std::set<key> got = stored(rows);
    size_t missing = 0, extra = 0;
    for (const key& k : want) missing += got.count(k) == 0;
    for (const key& k : got) extra += want.count(k) == 0;
    const long duplicate = rows - static_cast<long>(got.size());
    std::cout << "[ " << what << " ] expected " << want.size() << ", present "
              << (got.size() - extra) << ", missing " << missing << ", duplicate " << duplicate
              << ", unexpected " << extra << ", probe duplicates " << ref_dups << ", drained in "
              << drain_s << " s, http requests " << http_.requests() << std::endl;
    EXPECT_EQ(ref_dups, 0) << what << ": the probe produced a key twice";
    EXPECT_EQ(missing, 0u) << what << ": results lost\n" << writer(0).err() << writer(1).err();
    EXPECT_EQ(duplicate, 0) << what;
    EXPECT_EQ(extra, 0u) << what << ": rows the probe never produced";
    // Every check ran, so every target has rows.
    std::set<std::string> checks;
    for (const key& k : got) checks.insert(std::get<1>(k));
    EXPECT_EQ(checks.size(), static_cast<size_t>(targets)) << what;
  }

  std::string probe_log() const { return probe_->err(); }

  void stop_writers() {
    for (int i = 0; i < 2; ++i) {
      writers_[i]->signal(SIGTERM);
      EXPECT_EQ(writers_[i]->wait(30s), 0) << writers_[i]->err();
    }
  }

 private:
  std::string writer_config(const std::string& name) {
    isitup::test::writer_yaml w;
    w.brokers = broker_.bootstrap();
    w.topic = topic;
    w.pg_connection = pg_.conninfo();
    return dir_.write(name + ".yml", "agent: {id: " + name + "}\n" + w.str());
  }

  void start_probe() {
    std::string cfg =
        "agent: {id: probe-1, location: lab}\n"
        "defaults: {interval: 300ms, timeout: 250ms}\n"
        "pipeline: {shutdown_timeout: 20s}\n"
        "checks:\n";
    for (int i = 0; i < targets; ++i)
      cfg += "  - {name: t" + std::to_string(i) + ", plugin: http_check, target: \"" +
             http_.url("/t" + std::to_string(i)) + "\"}\n";
    cfg += "sinks:\n  - plugin: kafka_sink\n    options: {brokers: \"" + broker_.bootstrap() +
           "\", topic: " + topic +
           ", properties: {reconnect.backoff.max.ms: \"500\"}}\n"
           "  - plugin: stdout_sink\n    options: {format: json, output: \"" +
           reference_ + "\"}\n";
    probe_ = isitup::test::start_agent(dir_.write("probe.yml", cfg));
  }

  temp_dir dir_;
  kafka_broker broker_;
  pg_server pg_;
  isitup::test::http_target_server http_;
  std::string reference_;
  std::string writer_cfg_[2];
  std::unique_ptr<child_process> writers_[2];
  std::unique_ptr<child_process> probe_;
};

// Cases 1 and 2: no faults; the probe is stopped with SIGTERM and everything it checked before
// stopping reaches PostgreSQL exactly once.
TEST(pipeline_e2e, no_faults_every_key_exactly_once_after_probe_sigterm) {
  pipeline p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  std::this_thread::sleep_for(5s);
  ASSERT_NO_FATAL_FAILURE(p.stop_probe());
  p.expect_every_key_exactly_once("no faults");
  p.stop_writers();
}

// Case 3: one writer killed with SIGKILL at a random moment, five times, restarted each time.
TEST(pipeline_e2e, writer_sigkilled_five_times_every_key_exactly_once) {
  pipeline p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  std::random_device rd;
  const unsigned seed = rd();
  std::cout << "random seed " << seed << std::endl;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pause_ms(0, 1500);
  for (int i = 0; i < 5; ++i) {
    // Killed while it owns partitions (its restart joins once the dead member's session
    // expired), at a random moment of its work.
    ASSERT_TRUE(
        eventually([&] { return !last_assignment(p.writer(1).err()).empty(); }, 30s, poll_every))
        << p.writer(1).err();
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    p.writer(1).signal(SIGKILL);
    EXPECT_EQ(p.writer(1).wait(5s), 128 + SIGKILL);
    p.start_writer(1);
  }
  std::this_thread::sleep_for(2s);
  ASSERT_NO_FATAL_FAILURE(p.stop_probe());
  p.expect_every_key_exactly_once("writer SIGKILLed 5 times");
  p.stop_writers();
}

// Case 4: PostgreSQL stopped for 10 s mid-run. The writers keep the batch, pause and retry
// without leaving the group: no revoke or new assignment appears in their logs.
TEST(pipeline_e2e, postgres_down_10s_every_key_exactly_once_and_no_rebalance) {
  pipeline p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  const size_t log_a = p.writer(0).err().size(), log_b = p.writer(1).err().size();
  std::this_thread::sleep_for(2s);
  p.pg().stop();
  std::this_thread::sleep_for(10s);
  p.pg().start();
  std::this_thread::sleep_for(2s);
  ASSERT_NO_FATAL_FAILURE(p.stop_probe());
  p.expect_every_key_exactly_once("PostgreSQL down 10 s");
  // The outage was real: the writers' pg_sink kept its batches and retried.
  EXPECT_NE((p.writer(0).err() + p.writer(1).err()).find("not written, will retry"),
            std::string::npos);
  for (const std::string& log :
       {p.writer(0).err().substr(log_a), p.writer(1).err().substr(log_b)}) {
    EXPECT_EQ(log.find("revoked"), std::string::npos) << "rebalance during the outage:\n" << log;
    EXPECT_EQ(log.find("assigned partitions"), std::string::npos)
        << "rebalance during the outage:\n"
        << log;
  }
  p.stop_writers();
}

// Case 5: every broker down for 20 s mid-run; the probe buffers, the writers reconnect, the
// backlog drains into PostgreSQL.
TEST(pipeline_e2e, all_brokers_down_20s_every_key_exactly_once_backlog_drained) {
  pipeline p;
  ASSERT_NO_FATAL_FAILURE(p.start());
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(p.broker().command("down all"), "ok");
  std::this_thread::sleep_for(20s);
  ASSERT_EQ(p.broker().command("up all"), "ok");
  std::this_thread::sleep_for(2s);
  ASSERT_NO_FATAL_FAILURE(p.stop_probe());
  p.expect_every_key_exactly_once("all brokers down 20 s");
  EXPECT_NE(p.probe_log().find("Kafka unreachable"), std::string::npos) << p.probe_log();
  EXPECT_NE(p.probe_log().find("Kafka reachable again"), std::string::npos) << p.probe_log();
  p.stop_writers();
}

}  // namespace
