// Kafka over TLS through real agents: a probe agent (tcp_check → kafka_sink, and stdout_sink to
// a reference file) and a writer agent (kafka source → pg_sink into a real PostgreSQL) talk to
// the development broker over mutual TLS (isitup-kafka-dev --tls … --client-ca …), and
// kafka-python reads the same topic over TLS. Then the refusals: each is logged clearly while
// the results are kept, and delivered exactly once as soon as the broker side is right; and
// the mistakes found at start-up stop the agent with an error naming file:line:col.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "agents.hpp"
#include "eventually.hpp"
#include "kafka_broker.hpp"
#include "listener.hpp"
#include "pg_server.hpp"
#include "process.hpp"
#include "record_codec.hpp"
#include "tls_certs.hpp"

using namespace std::chrono_literals;

namespace {

using isitup::test::agent_path;
using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::kafka_broker;
using isitup::test::kafka_tls;
using isitup::test::plugin_path;
using isitup::test::temp_dir;
using isitup::test::tls_certs;

// Each wait counts rows in PostgreSQL or searches a whole log.
constexpr auto poll_every = 200ms;

using key = std::pair<std::string, int64_t>;  // check, scheduled_at ms

std::set<key> keys_of(const std::string& jsonl, int* dups = nullptr) {
  std::set<key> out;
  std::istringstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    isitup::sdk::record r;
    std::string error;
    if (!isitup::test::decode_record(line, r, error)) continue;
    if (!out.emplace(r.check, r.scheduled_at_ms).second && dups) ++*dups;
  }
  return out;
}

// "{security.protocol: ssl, ssl.ca.location: …, …}" for a YAML flow map.
std::string yaml_map(const std::map<std::string, std::string>& props) {
  std::string out = "{reconnect.backoff.max.ms: \"500\"";
  for (const auto& [k, v] : props) out += ", " + k + ": \"" + v + "\"";
  return out + "}";
}

std::map<std::string, std::string> client_tls(const tls_certs& c) {
  return {{"security.protocol", "ssl"},
          {"ssl.ca.location", c.ca},
          {"ssl.certificate.location", c.client_cert},
          {"ssl.key.location", c.client_key}};
}

// A probe agent: 4 tcp_checks every 100 ms to Kafka and to a reference file.
struct probe_agent {
  probe_agent(const temp_dir& dir, const std::string& brokers, const std::string& topic, int port,
              const std::map<std::string, std::string>& props,
              const std::vector<std::string>& env = {}) {
    reference = (dir / ("probe-" + topic + ".jsonl")).string();
    std::string cfg =
        "agent: {id: probe-1, location: lab}\ndefaults: {interval: 100ms, timeout: 90ms}\n"
        "pipeline: {shutdown_timeout: 20s}\nchecks:\n";
    for (int i = 0; i < 4; ++i)
      cfg += "  - {name: c" + std::to_string(i) +
             ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
    cfg += "sinks:\n  - plugin: kafka_sink\n    options: {brokers: \"" + brokers +
           "\", topic: " + topic + ", properties: " + yaml_map(props) +
           "}\n  - plugin: stdout_sink\n    options: {output: \"" + reference + "\"}\n";
    proc = std::make_unique<child_process>(
        std::vector<std::string>{agent_path(), "-c", dir.write("probe-" + topic + ".yml", cfg),
                                 "-p", plugin_path()},
        env);
  }
  int stop() {
    proc->signal(SIGTERM);
    return proc->wait(40s);
  }
  std::set<key> produced(int* dups = nullptr) const {
    return keys_of(isitup::test::read_file(reference), dups);
  }
  std::string reference;
  std::unique_ptr<child_process> proc;
};

// Everything on `topic` (4 partitions), read over TLS until nothing new comes for 3 s.
std::string read_topic_tls(const std::string& brokers, const std::string& topic, const tls_certs& c,
                           std::map<std::string, std::string> props = {}) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (props.empty()) props = client_tls(c);
  props["bootstrap.servers"] = brokers;
  props["group.id"] = "tls-test-reader";
  props["enable.auto.commit"] = "false";
  props["log_level"] = "2";
  for (const auto& [k, v] : props) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(4);
  for (int p = 0; p < 4; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  while (std::chrono::steady_clock::now() - start < 30s &&
         (out.empty() || std::chrono::steady_clock::now() - last < 3s)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      out.append(static_cast<const char*>(m->payload), m->len).push_back('\n');
      last = std::chrono::steady_clock::now();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

}  // namespace

TEST(kafka_tls_agents, mutual_tls_probe_to_postgres_every_result_exactly_once) {
  temp_dir dir;
  const tls_certs certs(dir.path());
  kafka_broker broker({.brokers = 2, .topics = {"results:4"}, .port = 0},
                      {certs.server_cert, certs.server_key, certs.ca});
  isitup::test::pg_server pg;
  isitup::test::tcp_listener target;

  // The writer uses the encrypted key, its password from the environment.
  auto writer_props = client_tls(certs);
  writer_props["ssl.key.location"] = certs.client_key_encrypted;
  writer_props["ssl.key.password"] = "${KAFKA_KEY_PASSWORD}";
  writer_props["session.timeout.ms"] = "6000";
  writer_props["heartbeat.interval.ms"] = "500";
  isitup::test::writer_yaml w;
  w.brokers = broker.bootstrap();
  w.group.clear();
  w.properties = yaml_map(writer_props);
  w.pg_connection = pg.conninfo();
  const std::string writer_cfg = dir.write("writer.yml", "agent: {id: writer-1}\n" + w.str());
  child_process writer({agent_path(), "-c", writer_cfg, "-p", plugin_path()},
                       {"KAFKA_KEY_PASSWORD=" + certs.key_password});

  probe_agent probe(dir, broker.bootstrap(), "results", target.port(), client_tls(certs));
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  int ref_dups = 0;
  const std::set<key> produced = probe.produced(&ref_dups);
  ASSERT_GE(produced.size(), 40u) << probe.proc->err();
  EXPECT_EQ(ref_dups, 0);
  EXPECT_NE(probe.proc->err().find("connected to Kafka"), std::string::npos) << probe.proc->err();

  auto rows = [&] { return isitup::test::pg_number(pg, "SELECT count(*) FROM check_results"); };
  EXPECT_TRUE(
      eventually([&] { return rows() >= static_cast<long>(produced.size()); }, 60s, poll_every))
      << writer.err();
  std::set<key> stored;
  long count = 0;
  std::istringstream in(pg.psql(
      "SELECT check_name, (extract(epoch FROM scheduled_at) * 1000)::bigint FROM check_results"));
  for (std::string line; std::getline(in, line); ++count) {
    const auto bar = line.find('|');
    stored.emplace(line.substr(0, bar), std::stoll(line.substr(bar + 1)));
  }
  EXPECT_EQ(stored, produced) << "every result exactly once in PostgreSQL";
  EXPECT_EQ(count, static_cast<long>(produced.size())) << "no duplicate rows";
  writer.signal(SIGTERM);
  EXPECT_EQ(writer.wait(30s), 0) << writer.err();
  EXPECT_EQ(writer.err().find(certs.key_password), std::string::npos)
      << "the password is not logged";

  // kafka-python, an independent client, reads the same topic over mutual TLS.
  const auto py =
      isitup::test::run({"/usr/bin/python3",
                         std::string(ISITUP_SOURCE_DIR) + "/plugins/kafka_sink/tests/read_topic.py",
                         broker.bootstrap(), "results", std::to_string(produced.size()), "30"},
                        60s,
                        {"KAFKA_SSL_CAFILE=" + certs.ca, "KAFKA_SSL_CERTFILE=" + certs.client_cert,
                         "KAFKA_SSL_KEYFILE=" + certs.client_key_encrypted,
                         "KAFKA_SSL_PASSWORD=" + certs.key_password});
  EXPECT_EQ(py.code, 0) << py.out << py.err;
  EXPECT_EQ(py.out, "ok " + std::to_string(produced.size()) + "\n") << py.err;
}

// Each refusal the broker side causes: the probe logs it clearly and keeps its results; once
// the broker on the same port is set up right, every kept result is delivered exactly once.
TEST(kafka_tls_agents, refusals_are_logged_and_no_result_is_lost) {
  temp_dir dir;
  const tls_certs certs(dir.path());
  isitup::test::tcp_listener target;
  auto without_cert = client_tls(certs);
  without_cert.erase("ssl.certificate.location");
  without_cert.erase("ssl.key.location");
  auto expired = client_tls(certs);
  expired["ssl.certificate.location"] = certs.expired_client_cert;
  expired["ssl.key.location"] = certs.expired_client_key;
  const kafka_tls right{certs.server_cert, certs.server_key, certs.ca};
  const kafka_tls server_only{certs.server_cert, certs.server_key, ""};
  const struct {
    std::string name;
    kafka_tls refusing;
    std::map<std::string, std::string> props;
    std::string logged;
    kafka_tls fixed;
  } cases[] = {
      {"other-ca",
       {certs.other_server_cert, certs.other_server_key, certs.ca},
       client_tls(certs),
       "TLS with Kafka failed (the broker's certificate was refused: unable to get local issuer "
       "certificate; it is not issued by the CA in ssl.ca.location)",
       right},
      {"wrong-host",
       {certs.wrong_host_cert, certs.wrong_host_key, certs.ca},
       client_tls(certs),
       "TLS with Kafka failed (the broker's certificate was refused: IP address mismatch; it "
       "does not name the host given in brokers)",
       right},
      {"no-client-cert", right, without_cert,
       "TLS with Kafka failed (the broker requires a client certificate", server_only},
      {"expired-client-cert", right, expired,
       "TLS with Kafka failed (the broker refused the client certificate: it has expired)",
       server_only},
  };
  for (const auto& c : cases) {
    const int port = isitup::test::unused_port();
    auto broker = std::make_unique<kafka_broker>(
        isitup::test::kafka_broker_options{.brokers = 1, .topics = {c.name + ":4"}, .port = port},
        c.refusing);
    probe_agent probe(dir, broker->bootstrap(), c.name, target.port(), c.props);
    EXPECT_TRUE(eventually([&] { return probe.proc->err().find(c.logged) != std::string::npos; },
                           20s, poll_every))
        << c.name << ": " << probe.proc->err();
    EXPECT_EQ(probe.proc->err().find("connected to Kafka"), std::string::npos) << c.name;
    EXPECT_TRUE(eventually([&] { return probe.produced().size() > 20; }, 20s, poll_every))
        << c.name;
    const size_t kept = probe.produced().size();

    broker.reset();  // the same port, set up right
    broker = std::make_unique<kafka_broker>(
        isitup::test::kafka_broker_options{.brokers = 1, .topics = {c.name + ":4"}, .port = port},
        c.fixed);
    EXPECT_TRUE(eventually(
        [&] { return probe.proc->err().find("Kafka reachable again") != std::string::npos; }, 30s,
        poll_every))
        << c.name << ": " << probe.proc->err() << broker->log();
    std::this_thread::sleep_for(1s);
    ASSERT_EQ(probe.stop(), 0) << c.name << ": " << probe.proc->err();
    const std::set<key> produced = probe.produced();
    int dups = 0;
    const std::set<key> got = keys_of(read_topic_tls(broker->bootstrap(), c.name, certs), &dups);
    EXPECT_EQ(got, produced) << c.name << ": every result, the kept ones too";
    EXPECT_EQ(dups, 0) << c.name;
    const std::string log = probe.proc->err();
    const size_t at = std::min(log.find(c.logged), log.size());
    std::cout << "[ " << c.name << " ] kept " << kept << " while refused, delivered " << got.size()
              << "; logged: " << log.substr(at, 300) << std::endl;
  }
}

// Mistakes in the client's own files stop the agent at start-up with file:line:col and the
// property; nothing runs, so nothing is lost.
TEST(kafka_tls_agents, own_file_mistakes_stop_the_start_naming_the_place) {
  temp_dir dir;
  const tls_certs certs(dir.path());
  auto mismatch = client_tls(certs);
  mismatch["ssl.key.location"] = certs.unrelated_key;
  auto wrong_password = client_tls(certs);
  wrong_password["ssl.key.location"] = certs.client_key_encrypted;
  wrong_password["ssl.key.password"] = "not the password";
  const struct {
    std::map<std::string, std::string> props;
    std::string expected;
  } cases[] = {
      {mismatch, "'ssl.key.location': the key does not match the certificate"},
      {wrong_password, "cannot be decrypted with ssl.key.password"},
  };
  for (const auto& c : cases) {
    const std::string cfg =
        dir.write("bad.yml",
                  "agent: {id: probe-1}\nchecks:\n  - {name: c, plugin: tcp_check, target: "
                  "\"127.0.0.1:9\"}\nsinks:\n  - plugin: kafka_sink\n"
                  "    options: {brokers: \"127.0.0.1:9\", properties: " +
                      yaml_map(c.props) + "}\n");
    for (const bool check_only : {true, false}) {
      const std::vector<std::string> argv{agent_path(), check_only ? "--check-config" : "-c", cfg,
                                          "-p", plugin_path()};
      const auto r = isitup::test::run(argv, 20s);
      EXPECT_NE(r.code, 0) << c.expected;
      EXPECT_NE(r.err.find(cfg + ":6:"), std::string::npos) << "file:line:col: " << r.err;
      EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("not the password"), std::string::npos) << r.err;
    }
  }
}

// The documented TLS and SASL_SSL examples load, plugin options and file checks included.
TEST(kafka_tls_agents, tls_example_configs_validate) {
  temp_dir dir;
  const tls_certs certs(dir.path());
  const std::string examples = std::string(ISITUP_SOURCE_DIR) + "/plugins/kafka_sink/";
  const std::vector<std::string> env = {"KAFKA_BROKERS=127.0.0.1:9093",
                                        "KAFKA_TLS_DIR=" + dir.path().string(),
                                        "KAFKA_KEY_PASSWORD=unused for an unencrypted key",
                                        "KAFKA_CA=" + certs.ca,
                                        "KAFKA_USER=isitup-probe",
                                        "KAFKA_PASSWORD=secret"};
  for (const char* name : {"example-tls.yml", "example-sasl-ssl.yml"}) {
    const auto r = isitup::test::run(
        {agent_path(), "--check-config", examples + name, "-p", plugin_path()}, 20s, env);
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
  }
  std::filesystem::remove(dir / "client.key");
  const auto r = isitup::test::run(
      {agent_path(), "--check-config", examples + "example-tls.yml", "-p", plugin_path()}, 20s,
      env);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("example-tls.yml:31:27: sink 'kafka_sink': properties: 'ssl.key.location'"),
            std::string::npos)
      << r.err;
}

// The writer side says why it cannot connect too (at warn, not only in librdkafka's debug log).
TEST(kafka_tls_agents, writer_logs_why_tls_fails) {
  temp_dir dir;
  const tls_certs certs(dir.path());
  kafka_broker broker({.brokers = 1, .topics = {"w:4"}, .port = 0},
                      {certs.server_cert, certs.server_key, certs.ca});
  const std::string cfg =
      dir.write("writer.yml",
                "agent: {id: writer-1}\nsources:\n  - plugin: kafka_sink\n"
                "    options: {brokers: \"" +
                    broker.bootstrap() + "\", topic: w, properties: " +
                    yaml_map({{"security.protocol", "ssl"}, {"ssl.ca.location", certs.ca}}) +
                    "}\nsinks:\n  - plugin: stdout_sink\n");
  child_process writer({agent_path(), "-c", cfg, "-p", plugin_path()});
  EXPECT_TRUE(eventually(
      [&] {
        return writer.err().find(
                   "TLS with Kafka failed (the broker requires a client "
                   "certificate") != std::string::npos;
      },
      20s, poll_every))
      << writer.err();
  std::this_thread::sleep_for(4s);  // several reconnects (backoff up to 500 ms)
  writer.signal(SIGTERM);
  EXPECT_EQ(writer.wait(30s), 0) << writer.err();
  const std::string log = writer.err();
  size_t warnings = 0;
  for (size_t at = 0; (at = log.find("TLS with Kafka failed", at)) != std::string::npos; ++at)
    ++warnings;
  EXPECT_LE(warnings, 2u) << "repeated failures are not logged at every reconnect: " << log;
}

// SASL_SSL (PLAIN) from the probe's kafka_sink to the broker: every result arrives once.
TEST(kafka_tls_agents, sasl_ssl_probe_delivers_every_result) {
  temp_dir dir;
  const tls_certs certs(dir.path());
  kafka_broker broker({.brokers = 1, .topics = {"sasl:4"}, .port = 0},
                      {certs.server_cert, certs.server_key, "", "isitup-probe:pa55"});
  isitup::test::tcp_listener target;
  const std::map<std::string, std::string> sasl = {{"security.protocol", "sasl_ssl"},
                                                   {"ssl.ca.location", certs.ca},
                                                   {"sasl.mechanism", "PLAIN"},
                                                   {"sasl.username", "isitup-probe"},
                                                   {"sasl.password", "${KAFKA_PASSWORD}"}};
  probe_agent probe(dir, broker.bootstrap(), "sasl", target.port(), sasl, {"KAFKA_PASSWORD=pa55"});
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(probe.stop(), 0) << probe.proc->err();
  const std::set<key> produced = probe.produced();
  ASSERT_GE(produced.size(), 20u) << probe.proc->err();
  auto reader = sasl;
  reader["sasl.password"] = "pa55";
  int dups = 0;
  EXPECT_EQ(keys_of(read_topic_tls(broker.bootstrap(), "sasl", certs, reader), &dups), produced)
      << broker.log();
  EXPECT_EQ(dups, 0);
  EXPECT_EQ(probe.proc->err().find("pa55"), std::string::npos) << "the password is not logged";
}
