// Helpers for kafka_sink's tests: an independent librdkafka client that reads or writes a
// topic of the development broker, and v1 records to produce.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace isitup::kafka_test {

struct message {
  std::string key, value;
  int32_t partition;
  int64_t offset;
};

// Reads `topic` from the beginning of every partition (assigned, no group) until `want`
// messages came or nothing new arrived for `quiet`, at most `timeout`.
inline std::vector<message> read_topic(const std::string& brokers, const std::string& topic,
                                       size_t want, std::chrono::milliseconds timeout,
                                       int partitions = 4,
                                       std::chrono::milliseconds quiet = std::chrono::seconds(2)) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "isitup-test-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<message> out;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  while (out.size() < want || want == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start > timeout || (now - last > quiet && (want == 0 || !out.empty()))) break;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      out.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                     std::string(static_cast<const char*>(m->payload), m->len), m->partition,
                     m->offset});
      last = std::chrono::steady_clock::now();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Produces `values` (key = `key`) and waits for every delivery report.
inline void produce(const std::string& brokers, const std::string& topic,
                    const std::vector<std::string>& values, const std::string& key = "poison") {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  for (const std::string& v : values)
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_KEY(key.data(), key.size()),
                      RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_END);
  const rd_kafka_resp_err_t e = rd_kafka_flush(rk, 10000);
  rd_kafka_destroy(rk);
  if (e) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(e));
}

}  // namespace isitup::kafka_test
