// isitup-kafka-dev --tls: librdkafka clients produce and consume over (mutual) TLS only; the
// metadata they get names only the TLS ports; a client without a certificate is refused.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <map>
#include <set>
#include <sstream>

#include "kafka_broker.hpp"
#include "process.hpp"
#include "tls_certs.hpp"

using namespace std::chrono_literals;
using isitup::test::kafka_broker;
using props = std::map<std::string, std::string>;

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err) ++*static_cast<int*>(opaque);
}

rd_kafka_t* client(rd_kafka_type_t type, const std::string& brokers, const props& p,
                   int* failed = nullptr) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (failed) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, failed);
  }
  props all = {{"bootstrap.servers", brokers}, {"log_level", "2"}};
  all.insert(p.begin(), p.end());
  for (const auto& [k, v] : all)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(k + ": " + err);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return rk;
}

// Produces n messages "m<i>"; returns how many were not delivered within 15 s.
int produce(const std::string& brokers, const props& p, const std::string& topic, int n) {
  props all = p;
  all["enable.idempotence"] = "true";
  all.emplace("message.timeout.ms", "5000");
  int failed = 0;
  rd_kafka_t* rk = client(RD_KAFKA_PRODUCER, brokers, all, &failed);
  for (int i = 0; i < n; ++i) {
    const std::string v = "m" + std::to_string(i);
    if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                          RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR)
      ++failed;
  }
  rd_kafka_flush(rk, 15000);
  failed += rd_kafka_outq_len(rk);
  rd_kafka_destroy(rk);
  return failed;
}

std::multiset<std::string> consume(const std::string& brokers, const props& p,
                                   const std::string& topic, int partitions, size_t want) {
  props all = p;
  all["group.id"] = "tls-reader";
  all["enable.auto.commit"] = "false";
  rd_kafka_t* rk = client(RD_KAFKA_CONSUMER, brokers, all);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int i = 0; i < partitions; ++i)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), i)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::multiset<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) out.emplace(static_cast<const char*>(m->payload), m->len);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

std::set<int> ports_of(const std::string& list) {
  std::set<int> out;
  std::istringstream in(list);
  for (std::string hp; std::getline(in, hp, ',');)
    out.insert(std::stoi(hp.substr(hp.rfind(':') + 1)));
  return out;
}

}  // namespace

TEST(kafka_dev_tls, mutual_tls_produce_and_consume_across_brokers) {
  isitup::test::temp_dir dir;
  const isitup::test::tls_certs certs(dir.path());
  kafka_broker broker({.brokers = 3, .topics = {"t:6"}, .port = 0},
                      {certs.server_cert, certs.server_key, certs.ca});
  const props tls = {{"security.protocol", "ssl"},
                     {"ssl.ca.location", certs.ca},
                     {"ssl.certificate.location", certs.client_cert},
                     {"ssl.key.location", certs.client_key_encrypted},
                     {"ssl.key.password", certs.key_password}};

  // The metadata names the TLS ports only.
  const std::set<int> tls_ports = ports_of(broker.bootstrap());
  ASSERT_EQ(tls_ports.size(), 3u) << broker.bootstrap();
  {
    rd_kafka_t* rk = client(RD_KAFKA_PRODUCER, broker.bootstrap(), tls);
    const rd_kafka_metadata_t* md = nullptr;
    ASSERT_EQ(rd_kafka_metadata(rk, 1, nullptr, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR)
        << broker.log();
    std::set<int> seen;
    for (int i = 0; i < md->broker_cnt; ++i) seen.insert(md->brokers[i].port);
    EXPECT_EQ(seen, tls_ports);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
  }

  ASSERT_EQ(produce(broker.bootstrap(), tls, "t", 600), 0) << broker.log();
  const auto got = consume(broker.bootstrap(), tls, "t", 6, 600);
  ASSERT_EQ(got.size(), 600u) << broker.log();
  for (int i = 0; i < 600; ++i) EXPECT_EQ(got.count("m" + std::to_string(i)), 1u) << i;

  // A plaintext client gets nothing (the TLS port does not speak plaintext Kafka).
  EXPECT_GT(produce(broker.bootstrap(), {{"message.timeout.ms", "3000"}}, "t", 1), 0);
}

TEST(kafka_dev_tls, refuses_a_client_without_a_certificate) {
  isitup::test::temp_dir dir;
  const isitup::test::tls_certs certs(dir.path());
  kafka_broker broker({.brokers = 1, .topics = {"t:1"}, .port = 0},
                      {certs.server_cert, certs.server_key, certs.ca});
  EXPECT_GT(produce(broker.bootstrap(),
                    {{"security.protocol", "ssl"}, {"ssl.ca.location", certs.ca}}, "t", 1),
            0);
  EXPECT_NE(broker.log().find("TLS handshake refused"), std::string::npos) << broker.log();

  // Server-only TLS (no --client-ca): the same client is served.
  kafka_broker open_broker({.brokers = 1, .topics = {"t:1"}, .port = 0},
                           {certs.server_cert, certs.server_key, ""});
  EXPECT_EQ(produce(open_broker.bootstrap(),
                    {{"security.protocol", "ssl"}, {"ssl.ca.location", certs.ca}}, "t", 5),
            0)
      << open_broker.log();
}

TEST(kafka_dev_tls, sasl_plain_over_tls_for_librdkafka_and_kafka_python) {
  isitup::test::temp_dir dir;
  const isitup::test::tls_certs certs(dir.path());
  kafka_broker broker({.brokers = 2, .topics = {"t:4"}, .port = 0},
                      {certs.server_cert, certs.server_key, "", "alice:s3cret"});
  const props sasl = {{"security.protocol", "sasl_ssl"},
                      {"ssl.ca.location", certs.ca},
                      {"sasl.mechanism", "PLAIN"},
                      {"sasl.username", "alice"},
                      {"sasl.password", "s3cret"}};
  ASSERT_EQ(produce(broker.bootstrap(), sasl, "t", 200), 0) << broker.log();
  EXPECT_EQ(consume(broker.bootstrap(), sasl, "t", 4, 200).size(), 200u) << broker.log();

  props wrong = sasl;
  wrong["sasl.password"] = "not-it";
  EXPECT_GT(produce(broker.bootstrap(), wrong, "t", 1), 0);
  EXPECT_NE(broker.log().find("SASL/PLAIN authentication refused"), std::string::npos)
      << broker.log();
  EXPECT_EQ(broker.log().find("not-it"), std::string::npos) << "no password in the log";
  EXPECT_GT(produce(broker.bootstrap(),
                    {{"security.protocol", "ssl"}, {"ssl.ca.location", certs.ca}}, "t", 1),
            0)
      << "TLS without SASL is refused";

  // kafka-python (SaslHandshake v0 and a bare token) reads the same 200 messages.
  const std::string script =
      "import sys\nfrom kafka import KafkaConsumer\n"
      "c = KafkaConsumer('t', bootstrap_servers=sys.argv[1].split(','), "
      "security_protocol='SASL_SSL', ssl_cafile=sys.argv[2], sasl_mechanism='PLAIN', "
      "sasl_plain_username='alice', sasl_plain_password='s3cret', "
      "auto_offset_reset='earliest', consumer_timeout_ms=5000)\n"
      "print(len(set(m.value for m in c)))\n";
  const auto py =
      isitup::test::run({"/usr/bin/python3", "-c", script, broker.bootstrap(), certs.ca}, 60s);
  EXPECT_EQ(py.code, 0) << py.err;
  EXPECT_EQ(py.out, "200\n") << py.err;
}
