// The kafka_sink catalog: the check catalog of a probe fleet on a Kafka topic (key = check
// name, value = the definition the host reads, empty value = tombstone).
//
// - read_all (--publish-checks): a consumer without a group reads every partition from its
//   low to its high watermark as of the call (30 s at most).
// - publish: an idempotent producer (acks=all) writes the entries, keyed by check name so a
//   check always lands in the same partition, and waits for every delivery report.
// - start: a consumer in `group` with the cooperative-sticky assignor, so a rebalance moves only
//   the partitions that must move. On assignment every new partition is read from its
//   beginning (no offset is ever committed: the last message per key is the catalog); on
//   revocation the host is told (and stops their checks) before the partitions are given up;
//   on loss (the group unreachable for a session timeout, e.g. the broker down) the host keeps
//   their checks running until the next assignment.
//
// Threads: create/read_all/publish/start/stop/destroy on the host's main thread; after start()
// one consumer thread of this object makes every isitup_catalog_events_v1 call.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <isitup/plugin.hpp>

#include "kafka_config.hpp"

namespace isitup::kafka {

std::vector<sdk::option> catalog_options();

class kafka_catalog final : public sdk::catalog {
 public:
  // The name of the thread start() runs (it polls the group and reports what it reads).
  static constexpr const char* thread_name = "isitup-catalog";
  // Throws std::invalid_argument for a bad option or a refused property. Connects nothing.
  kafka_catalog(const sdk::host& host, const sdk::options_view& options);
  ~kafka_catalog() override;
  kafka_catalog(const kafka_catalog&) = delete;
  kafka_catalog& operator=(const kafka_catalog&) = delete;

  void read_all(isitup_catalog_entry_fn fn, void* fn_ctx) override;
  void publish(const isitup_catalog_entry_v1* const* entries, size_t count) override;
  void start(const isitup_catalog_events_v1& events) override;
  void stop() override;
  // session.timeout.ms as the group member is configured (the default, or the user's).
  int64_t session_timeout_ms() const override;

 private:
  void run();
  void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* parts);
  void deliver(const rd_kafka_message_t* m, isitup_catalog_entry_fn fn, void* fn_ctx);
  // The user's properties with the catalog's defaults for the ones not given.
  property_list user_properties(bool group_member) const;

  sdk::host host_;
  callback_context cb_ctx_;
  std::string brokers_, topic_, group_;
  property_list user_;
  int64_t read_timeout_ms_;
  isitup_catalog_events_v1 events_{};
  rd_kafka_t* rk_ = nullptr;  // the group consumer, between start() and stop()
  // The catalog topic's handle, held from start() to stop(): the consumer learns the leaders of
  // its partitions with the group's metadata, before an assignment. Without it the topic is
  // first known at the assignment, and a partition whose leader is not delegated yet when its
  // offset is asked waits for librdkafka's 500 ms retry before the first fetch.
  rd_kafka_topic_t* topic_handle_ = nullptr;
  std::atomic<bool> quit_{false};
  std::thread thread_;
  // The group's brokers could not be reached (a transport error, all brokers down) and no
  // assignment or message came since: a loss of the assignment then is the broker's outage,
  // not this member's (a stalled process, whose partitions the group gave to others). The
  // plugin's thread only.
  bool unreachable_ = false;
  repeat_limiter errors_;  // the plugin's thread
};

}  // namespace isitup::kafka
