// The kafka_sink source (for writer agents): a high-level consumer in a group that decodes
// every message as a v1 record with the host's codec, hands batches to the host, and commits
// a batch's offsets only once the host acknowledged it (every sink made it durable).
//
// - Offsets are committed in order: a batch's offsets are committed once it and every batch
//   read before it are acknowledged; also on partition revoke (after waiting up to 2 s for
//   batches already handed over) and at destroy.
// - When the host's pipeline is full (submit returns retry) every assigned partition is paused
//   and the consumer keeps polling (so the group does not rebalance); the batch is offered
//   again with backoff and the partitions resume once it is taken.
// - A message that is not a valid v1 record is counted (invalid_messages), logged with its
//   partition and offset, produced to the dead-letter topic when one is configured, and
//   skipped: its offset is committed with its batch.
//
// Threads: start/stop/destroy on the host's main thread; ack() from any thread; one consumer
// thread of the source does everything else (polls, submits, commits, rebalances).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <isitup/plugin.hpp>

#include "kafka_config.hpp"

namespace isitup::kafka {

std::vector<sdk::option> source_options();

class consumer_source final : public sdk::source {
 public:
  // Throws std::invalid_argument for a bad option or a refused property.
  consumer_source(const sdk::host& host, const sdk::options_view& options);
  // Stops the consumer thread, commits what was acknowledged, leaves the group.
  ~consumer_source() override;
  consumer_source(const consumer_source&) = delete;
  consumer_source& operator=(const consumer_source&) = delete;

  void start() override;
  void ack(uint64_t token, sdk::status s) override;
  void stop() override;

 private:
  using partition_key = std::pair<std::string, int32_t>;  // topic, partition
  struct batch {
    uint64_t token = 0;
    std::vector<isitup_parsed_record*> records;  // freed once the host took them
    std::map<partition_key, int64_t> next_offsets;
    int64_t opened_ms = 0;
    bool sealed = false, submitted = false, acked = false;
    int dead_letters_pending = 0;
  };

  void run();
  void take(const rd_kafka_message_t* m);
  void seal_if_due(bool force);
  void submit_ready();
  void apply_acks();
  void commit_done(bool sync);
  void pause_all(bool pause);
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void dead_letter(const rd_kafka_message_t* m, const std::string& why, batch& b);
  void log_poison(const rd_kafka_message_t* m, const std::string& why);
  batch* find(uint64_t token);

  sdk::host host_;
  callback_context cb_ctx_;
  std::string brokers_, topic_, group_, dead_letter_topic_;
  size_t batch_size_;
  int64_t batch_delay_ms_;
  rd_kafka_t* rk_ = nullptr;   // the consumer
  rd_kafka_t* dlq_ = nullptr;  // the dead-letter producer, when configured

  // consumer thread only
  std::deque<std::unique_ptr<batch>> batches_;  // in the order read
  uint64_t next_token_ = 1;
  bool paused_ = false;
  int64_t next_submit_ms_ = 0;
  int submit_failures_ = 0;
  std::map<partition_key, int64_t> committed_;
  int64_t poison_log_window_ms_ = 0;
  int poison_logged_ = 0;

  std::mutex ack_mu_;
  std::vector<std::pair<uint64_t, sdk::status>> acks_;  // from ack(), applied by the thread

  std::atomic<bool> stopped_{false}, quit_{false};
  std::thread thread_;
};

}  // namespace isitup::kafka
