// End to end: a writer agent (the kafka_sink source -> pg_sink) reads a topic of the
// development broker in which one record cannot be stored by PostgreSQL (a check name too long
// for the primary key's index). That record ends in <table>_rejects, every other record
// arrives, and the group's committed offsets reach the end of every partition: nothing is
// retried forever and no partition stops committing.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <isitup/record.hpp>

#include <map>
#include <random>

#include "agents.hpp"
#include "eventually.hpp"
#include "kafka_broker.hpp"
#include "pg_server.hpp"
#include "process.hpp"
#include "record_codec.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::kafka_broker;
using isitup::test::kafka_broker_options;
using isitup::test::pg_server;
using isitup::test::temp_dir;

// Each wait runs SQL or asks the broker for the group's committed offsets.
constexpr auto poll_every = 250ms;
constexpr int partitions = 4;

pg_server& server() {
  static std::unique_ptr<pg_server> s;
  if (!s) s = std::make_unique<pg_server>();
  return *s;
}

std::string random_name(std::size_t n) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> pick(0, 35);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const int c = pick(gen);
    s += static_cast<char>(c < 26 ? 'a' + c : '0' + c - 26);
  }
  return s;
}

struct rk_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;

rk_ptr client(rd_kafka_type_t type, const std::string& brokers, const char* group = nullptr) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  if (group) rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return rk_ptr(rk);
}

// Produces each record to partition i % partitions, key = its check name.
void produce(const std::string& brokers, const std::string& topic,
             const std::vector<isitup::sdk::record>& records) {
  rk_ptr rk = client(RD_KAFKA_PRODUCER, brokers);
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string json = isitup::test::encode_record(records[i]);
    const std::string& key = records[i].check;
    ASSERT_EQ(rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_PARTITION(static_cast<int32_t>(i % partitions)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(json.data(), json.size()), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(rk.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// The offsets `group` committed, per partition (-1001: none).
std::map<int, int64_t> committed(const std::string& brokers, const std::string& topic,
                                 const std::string& group) {
  rk_ptr rk = client(RD_KAFKA_CONSUMER, brokers, group.c_str());
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
  std::map<int, int64_t> out;
  if (rd_kafka_committed(rk.get(), parts, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < parts->cnt; ++i) out[parts->elems[i].partition] = parts->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk.get());
  return out;
}

TEST(pg_sink_kafka, a_record_postgresql_cannot_store_does_not_stop_the_stream_or_the_commits) {
  kafka_broker broker(kafka_broker_options{1, {"results:4"}});
  constexpr int n = 400;
  std::vector<isitup::sdk::record> records;
  for (int i = 0; i < n; ++i) {
    isitup::sdk::record r;
    r.agent = "probe-1";
    r.check = "check-" + std::to_string(i % 20);
    r.plugin = "tcp_check";
    r.target = "127.0.0.1:80";
    r.scheduled_at_ms = 1'795'802'400'000 + int64_t{1000} * (i / 20);
    r.started_at_ms = r.scheduled_at_ms + 2;
    r.up = true;
    r.total_ms = 1.5;
    records.push_back(r);
  }
  records[41].check = random_name(8192);  // early in partition 1
  produce(broker.bootstrap(), "results", records);

  temp_dir dir;
  isitup::test::writer_yaml w;
  w.brokers = broker.bootstrap();
  w.source_options = "batch_size: 50, batch_delay: 50ms";
  w.pg_connection = "${TEST_PG}";
  w.sink_options = "table: from_kafka, batch_size: 100";
  const std::string cfg = dir.write("writer.yml", "agent: {id: writer-1}\n" + w.str());
  child_process agent(
      {isitup::test::agent_path(), "--config", cfg, "--plugins-dir", isitup::test::plugin_path()},
      {"TEST_PG=" + server().uri()});

  const auto rows = []() -> std::string {
    if (server().psql("SELECT count(*) FROM pg_tables WHERE tablename IN ('from_kafka', "
                      "'from_kafka_rejects')") != "2\n")
      return "no tables yet";
    return server().psql(
        "SELECT (SELECT count(*) FROM from_kafka) || '/' || (SELECT count(*) "
        "FROM from_kafka_rejects)");
  };
  EXPECT_TRUE(eventually([&] { return rows() == std::to_string(n - 1) + "/1\n"; }, 60s, poll_every))
      << rows() << agent.err();
  // Each partition got n / 4 messages: offsets 0..99, committed up to 100.
  std::map<int, int64_t> done;
  EXPECT_TRUE(eventually(
      [&] {
        done = committed(broker.bootstrap(), "results", "writers");
        int at_end = 0;
        for (const auto& [p, offset] : done) at_end += offset == n / partitions;
        return at_end == partitions;
      },
      30s, poll_every))
      << "committed: " << testing::PrintToString(done);
  EXPECT_EQ(server().psql("SELECT sqlstate, length(record) > 8192 FROM from_kafka_rejects"),
            "54000|t\n");
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(60s), 0) << agent.err();
  std::fprintf(stderr, "%s", agent.err().c_str());
  EXPECT_NE(agent.err().find("rejected a record PostgreSQL cannot store"), std::string::npos)
      << agent.err();
  // Its check's alert state cannot be stored either: left out, said once, nothing lost.
  EXPECT_NE(agent.err().find("cannot be stored and is left out"), std::string::npos) << agent.err();
  EXPECT_EQ(agent.err().find("refused for good"), std::string::npos) << agent.err();
}

}  // namespace
