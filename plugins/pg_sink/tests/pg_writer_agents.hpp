// Helpers of the tests that run writer agents (kafka_sink source -> pg_sink) over the
// development broker: librdkafka handles and pg_sink's counters from an agent's /metrics.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>

#include "http_support.hpp"

namespace isitup::pg::testing {

struct rk_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;

// A producer (linger.ms `linger`), or, with a group, a consumer of that group that only reads
// its committed offsets (it never subscribes, so it never joins).
inline rk_ptr kafka_client(const std::string& brokers, const std::string& group = "",
                           const char* linger = "5") {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  if (group.empty())
    rd_kafka_conf_set(conf, "linger.ms", linger, err, sizeof err);
  else
    rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* rk =
      rd_kafka_new(group.empty() ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return rk_ptr(rk);
}

// A pg_sink counter of an agent from /metrics (0 when not there yet).
inline int64_t sink_counter(const isitup::test::http_agent& a, const std::string& name) {
  const std::string body = a.get("/metrics").body;
  const std::regex line("isitup_plugin_counter_total\\{instance=\"pg_sink\\.sink0\",name=\"" +
                        name + "\"\\} ([0-9]+)");
  std::smatch m;
  return std::regex_search(body, m, line) ? std::stoll(m[1]) : 0;
}

}  // namespace isitup::pg::testing
