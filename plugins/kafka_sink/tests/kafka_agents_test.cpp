// End-to-end: separate isitup-agent processes talk to the development broker over TCP as in
// production. A probe agent (tcp_check against a listening socket) produces with kafka_sink and
// also writes every result to a file (the reference); writer agents consume with the kafka
// source and write to stdout_sink.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "eventually.hpp"
#include "kafka_broker.hpp"
#include "kafka_test_util.hpp"
#include "listener.hpp"
#include "process.hpp"
#include "record_codec.hpp"

using namespace std::chrono_literals;

namespace {

using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::kafka_broker;
using isitup::test::kafka_broker_options;
using isitup::test::temp_dir;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
// Each wait parses a writer's whole output or searches its log.
constexpr auto poll_every = 200ms;
// Short client timeouts: reconnect quickly after an outage, leave a group quickly.
const std::string fast_client =
    R"({reconnect.backoff.max.ms: "500", session.timeout.ms: "6000", heartbeat.interval.ms: "500"})";

using isitup::test::tcp_listener;
using isitup::test::unused_port;

// (check, scheduled_at) identifies a result; the value is its full JSON line.
using result_set = std::map<std::pair<std::string, int64_t>, std::string>;

// Parses JSON lines; a torn last line (a writer killed mid-write) is ignored. `dups` counts
// lines whose identity was already seen.
result_set parse(const std::string& text, int* dups = nullptr) {
  result_set out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    isitup::sdk::record r;
    std::string error;
    if (!isitup::test::decode_record(line, r, error)) continue;
    std::string canonical = isitup::test::encode_record(r);
    if (!out.emplace(std::make_pair(r.check, r.scheduled_at_ms), canonical).second && dups) ++*dups;
  }
  return out;
}

// Everything on the topic: reads until nothing new comes for 3 s, so duplicates are seen too.
result_set from_topic(const std::string& brokers, const std::string& topic, int* dups) {
  std::string lines;
  for (const auto& m : isitup::kafka_test::read_topic(brokers, topic, 0, 30s, 4, 3s))
    lines += m.value + "\n";
  return parse(lines, dups);
}

// A probe agent: `checks` tcp_checks every 100 ms, results to Kafka and to a reference file.
struct probe_agent {
  probe_agent(const temp_dir& dir, const std::string& brokers, const std::string& topic, int port,
              int checks = 4) {
    reference = (dir / "probe-results.jsonl").string();
    std::string cfg =
        "agent: {id: probe-1, location: lab}\ndefaults: {interval: 100ms, timeout: 90ms}\n"
        "checks:\n";
    for (int i = 0; i < checks; ++i)
      cfg += "  - {name: c" + std::to_string(i) +
             ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
    cfg +=
        "pipeline: {shutdown_timeout: 20s}\nsinks:\n"
        "  - plugin: kafka_sink\n    options: {brokers: \"" +
        brokers + "\", topic: " + topic +
        ", properties: {reconnect.backoff.max.ms: \"500\"}}\n"
        "  - plugin: stdout_sink\n    options: {output: \"" +
        reference + "\"}\n";
    const std::string path = dir.write("probe.yml", cfg);
    proc = std::make_unique<child_process>(
        std::vector<std::string>{agent_bin, "-c", path, "-p", plugin_dir});
  }
  // SIGTERM (flushes the sinks) and the exit code.
  int stop() {
    proc->signal(SIGTERM);
    return proc->wait(40s);
  }
  result_set results() const { return parse(isitup::test::read_file(reference)); }

  std::string reference;
  std::unique_ptr<child_process> proc;
};

std::string writer_config(const temp_dir& dir, const std::string& name, const std::string& brokers,
                          const std::string& topic, const std::string& output) {
  return dir.write(name + ".yml",
                   "agent: {id: " + name +
                       "}\nsources:\n  - plugin: kafka_sink\n"
                       "    options: {brokers: \"" +
                       brokers + "\", topic: " + topic +
                       ", group: writers, batch_delay: 50ms, properties: " + fast_client +
                       "}\nsinks:\n  - plugin: stdout_sink\n"
                       "    options: {output: \"" +
                       output + "\"}\n");
}

void expect_exactly(const result_set& produced, const result_set& got, int dups,
                    const std::string& what) {
  EXPECT_EQ(dups, 0) << what << ": duplicates";
  size_t missing = 0, changed = 0;
  for (const auto& [id, line] : produced) {
    const auto it = got.find(id);
    if (it == got.end())
      ++missing;
    else if (it->second != line)
      ++changed;
  }
  EXPECT_EQ(missing, 0u) << what << ": results lost of " << produced.size();
  EXPECT_EQ(changed, 0u) << what << ": results altered";
  EXPECT_EQ(got.size(), produced.size()) << what << ": results that were never produced";
}

TEST(kafka_agents, probe_to_writer_every_result_arrives_intact_and_kafka_python_reads_them) {
  kafka_broker broker;
  tcp_listener target;
  temp_dir dir;
  const std::string out = (dir / "writer.jsonl").string();
  child_process writer({agent_bin, "-c",
                        writer_config(dir, "writer-1", broker.bootstrap(), "results", out), "-p",
                        plugin_dir});
  probe_agent probe(dir, broker.bootstrap(), "results", target.port());
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  const result_set produced = probe.results();
  ASSERT_GE(produced.size(), 40u) << probe.proc->err();
  EXPECT_TRUE(
      eventually([&] { return parse(isitup::test::read_file(out)).size() >= produced.size(); }, 20s,
                 poll_every))
      << writer.err();
  writer.signal(SIGTERM);
  EXPECT_EQ(writer.wait(20s), 0) << writer.err();
  int dups = 0;
  expect_exactly(produced, parse(isitup::test::read_file(out), &dups), dups, "writer output");

  // An independent client (kafka-python) reads the topic and validates every record.
  auto py =
      isitup::test::run({"/usr/bin/python3",
                         std::string(ISITUP_SOURCE_DIR) + "/plugins/kafka_sink/tests/read_topic.py",
                         broker.bootstrap(), "results", std::to_string(produced.size()), "30"},
                        60s);
  EXPECT_EQ(py.code, 0) << py.out << py.err;
  EXPECT_EQ(py.out, "ok " + std::to_string(produced.size()) + "\n") << py.err;
}

TEST(kafka_agents, all_brokers_down_for_20s_then_every_result_delivered_once) {
  kafka_broker broker({.brokers = 2, .topics = {"outage:4"}, .port = 0});
  tcp_listener target;
  temp_dir dir;
  probe_agent probe(dir, broker.bootstrap(), "outage", target.port(), 2);
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(broker.command("down all"), "ok");
  std::this_thread::sleep_for(20s);
  ASSERT_EQ(broker.command("up all"), "ok");
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  const result_set produced = probe.results();
  ASSERT_GE(produced.size(), 300u);
  int dups = 0;
  expect_exactly(produced, from_topic(broker.bootstrap(), "outage", &dups), dups, "topic");
  const std::string log = probe.proc->err();
  EXPECT_NE(log.find("Kafka unreachable"), std::string::npos) << log;
  EXPECT_NE(log.find("Kafka reachable again"), std::string::npos) << log;
}

TEST(kafka_agents, produce_request_errors_and_leader_moves_lose_and_duplicate_nothing) {
  kafka_broker broker({.brokers = 2, .topics = {"errors:4"}, .port = 0});
  tcp_listener target;
  temp_dir dir;
  probe_agent probe(dir, broker.bootstrap(), "errors", target.port());
  std::this_thread::sleep_for(1500ms);
  for (const char* cmd :
       {"error Produce NOT_LEADER_FOR_PARTITION 4", "error Produce REQUEST_TIMED_OUT 4",
        "error Produce _TRANSPORT 3", "error Produce NOT_ENOUGH_REPLICAS 3"}) {
    EXPECT_EQ(broker.command(cmd).substr(0, 2), "ok") << cmd;
    std::this_thread::sleep_for(700ms);
  }
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  const result_set produced = probe.results();
  ASSERT_GE(produced.size(), 100u);
  int dups = 0;
  expect_exactly(produced, from_topic(broker.bootstrap(), "errors", &dups), dups, "topic");
}

TEST(kafka_agents, probe_started_before_the_broker_delivers_once_it_appears) {
  const int port = unused_port();
  tcp_listener target;
  temp_dir dir;
  probe_agent probe(dir, "127.0.0.1:" + std::to_string(port), "early", target.port(), 2);
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(probe.proc->running()) << probe.proc->err();
  const size_t before = probe.results().size();
  EXPECT_GE(before, 20u) << "the probe did not keep checking without Kafka";
  kafka_broker broker({.brokers = 1, .topics = {}, .port = port});
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  const result_set produced = probe.results();
  int dups = 0;
  expect_exactly(produced, from_topic(broker.bootstrap(), "early", &dups), dups, "topic");
}

// SIGTERM while Kafka is down: the agent waits for delivery at most pipeline.shutdown_timeout,
// then exits 1 and says how many results were not delivered.
TEST(kafka_agents, sigterm_with_kafka_down_waits_a_bounded_time_and_reports_the_loss) {
  kafka_broker broker;
  ASSERT_EQ(broker.command("down all"), "ok");
  tcp_listener target;
  temp_dir dir;
  const std::string cfg =
      dir.write("probe.yml",
                "defaults: {interval: 100ms, timeout: 90ms}\npipeline: {shutdown_timeout: 2s}\n"
                "checks:\n  - {name: c, plugin: tcp_check, target: \"127.0.0.1:" +
                    std::to_string(target.port()) +
                    "\"}\nsinks:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
                    broker.bootstrap() + "\"}\n");
  child_process probe({agent_bin, "-c", cfg, "-p", plugin_dir});
  std::this_thread::sleep_for(1500ms);
  const auto t0 = std::chrono::steady_clock::now();
  probe.signal(SIGTERM);
  EXPECT_EQ(probe.wait(15s), 1) << probe.err();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s) << "shutdown not bounded";
  EXPECT_NE(probe.err().find("not confirmed by Kafka before shutdown"), std::string::npos)
      << probe.err();
}

// A produce error that makes librdkafka 2.0's idempotent producer fail fatally (sequence
// desynchronization): the sink recreates the producer and re-sends what was not confirmed.
TEST(kafka_agents, fatal_idempotence_error_recreates_the_producer_and_loses_nothing) {
  kafka_broker broker({.brokers = 1, .topics = {"fatal:4"}, .port = 0});
  tcp_listener target;
  temp_dir dir;
  probe_agent probe(dir, broker.bootstrap(), "fatal", target.port());
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(broker.command("error Produce OUT_OF_ORDER_SEQUENCE_NUMBER"),
            "ok 1 x OUT_OF_ORDER_SEQUENCE_NUMBER");
  std::this_thread::sleep_for(2500ms);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  EXPECT_NE(probe.proc->err().find("recreated the producer"), std::string::npos)
      << probe.proc->err();
  const result_set produced = probe.results();
  int dups = 0;  // allowed here: results in flight at the fatal error may be written twice
  const result_set got = from_topic(broker.bootstrap(), "fatal", &dups);
  size_t missing = 0;
  for (const auto& [id, line] : produced) missing += got.count(id) == 0 || got.at(id) != line;
  EXPECT_EQ(missing, 0u) << "of " << produced.size();
  EXPECT_EQ(got.size(), produced.size());
}

// The example configs (probe and writer side) load, plugin options included.
TEST(kafka_agents, example_configs_validate) {
  for (const char* name : {"example.yml", "example-writer.yml"}) {
    const auto r = isitup::test::run(
        {agent_bin, "--check-config",
         std::string(ISITUP_SOURCE_DIR) + "/plugins/kafka_sink/" + name, "-p", plugin_dir},
        20s, {"KAFKA_BROKERS=127.0.0.1:9092"});
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
  }
}

// Two writers in one group share the partitions; poison messages are skipped and counted;
// when one writer is killed with SIGKILL the other takes its partitions and nothing is lost
// (duplicates are allowed: the killed writer's last batches were not committed).
TEST(kafka_agents, writers_share_partitions_skip_poison_and_survive_sigkill) {
  kafka_broker broker({.brokers = 1, .topics = {"shared:4"}, .port = 0});
  tcp_listener target;
  temp_dir dir;
  const std::string out_a = (dir / "a.jsonl").string(), out_b = (dir / "b.jsonl").string();
  child_process a({agent_bin, "-c",
                   writer_config(dir, "writer-a", broker.bootstrap(), "shared", out_a), "-p",
                   plugin_dir});
  child_process b({agent_bin, "-c",
                   writer_config(dir, "writer-b", broker.bootstrap(), "shared", out_b), "-p",
                   plugin_dir});
  probe_agent probe(dir, broker.bootstrap(), "shared", target.port(),
                    12);  // keys on every partition
  const std::vector<std::string> poison{"not json", R"({"v":2})", "", R"({"v":1,"agent":"x"})"};
  ASSERT_TRUE(eventually(
      [&] {
        return a.err().find("assigned partitions") != std::string::npos &&
               b.err().find("assigned partitions") != std::string::npos;
      },
      20s, poll_every))
      << a.err() << b.err();
  isitup::kafka_test::produce(broker.bootstrap(), "shared", poison);
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(parse(isitup::test::read_file(out_a)).empty()) << "writer a got no partition";
  EXPECT_FALSE(parse(isitup::test::read_file(out_b)).empty()) << "writer b got no partition";
  a.signal(SIGKILL);
  isitup::kafka_test::produce(broker.bootstrap(), "shared", poison);
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  const result_set produced = probe.results();
  auto all = [&] {
    result_set u = parse(isitup::test::read_file(out_a));
    for (auto& kv : parse(isitup::test::read_file(out_b))) u.insert(kv);
    return u;
  };
  EXPECT_TRUE(eventually([&] { return all().size() >= produced.size(); }, 30s, poll_every))
      << b.err();
  b.signal(SIGTERM);
  EXPECT_EQ(b.wait(20s), 0) << b.err();
  const result_set got = all();
  size_t missing = 0;
  for (const auto& [id, line] : produced) missing += got.count(id) == 0 || got.at(id) != line;
  EXPECT_EQ(missing, 0u) << "of " << produced.size();
  // Every poison message was skipped by one writer or the other (possibly by both after the
  // takeover), and the surviving writer went on.
  size_t skipped = 0;
  for (const std::string& log : {a.err(), b.err()})
    for (size_t at = 0; (at = log.find("skipped an invalid message", at)) != std::string::npos;
         ++at)
      ++skipped;
  EXPECT_GE(skipped, 2 * poison.size()) << a.err() << b.err();
  EXPECT_NE(b.err().find("assigned partitions [0,1,2,3]"), std::string::npos)
      << "the survivor did not take over every partition: " << b.err();
}

}  // namespace
