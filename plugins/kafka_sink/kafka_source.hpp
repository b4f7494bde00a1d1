// The kafka_sink source (for writer agents): a high-level consumer in a group that decodes
// every message as a v1 record with the host's codec, hands batches to the host, and commits
// a batch's offsets only once the host acknowledged it (every sink made it durable).
//
// - Positions: on assignment the source claims its partitions from the agent (the sink that
//   stores positions with its rows, e.g. pg_sink) and starts reading each one where the stored
//   rows end (Kafka's committed offset when nothing is stored); every batch is submitted with
//   each partition's [first, next) offsets and the claim's epoch (isitup_host_v1.submit_parsed:
//   the records as the host decoded them, handed over without a copy), so the sink applies a
//   batch exactly once and refuses one of a reader that lost the partition. Kafka offsets are still
//   committed (for lag), only for partitions it owns.
// - Offsets are committed in order: a batch's offsets are committed once it and every batch
//   read before it are acknowledged; also on partition revoke (after waiting up to 10 s for
//   batches already handed over) and at destroy.
// - The host hears of the share (isitup_host_v1.source_partitions): joining at start, each
//   assignment before its messages are read, each revocation after the wait above.
// - When the host's pipeline is full (submit returns retry) the source stops taking messages
//   and keeps polling the group's events (so the group does not rebalance); the batch is
//   offered again with backoff and reading goes on once it is taken. Messages reach the source
//   through its own queue (every assigned partition's queue is forwarded to it), so while it
//   is not read librdkafka's pre-fetch fills to its bound (queued.min.messages,
//   queued.max.messages.kbytes) and fetching stops by itself. Pausing the partitions instead
//   would throw the pre-fetched messages away and, in librdkafka 2.0, fetch again only up to
//   a second after the resume: the sinks went idle at every full pipeline.
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
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <isitup/plugin.hpp>
#include <isitup/util/log_limit.hpp>

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
    std::vector<isitup_parsed_record*> records;  // the host's once it took them
    std::map<partition_key, int64_t> next_offsets;
    std::map<int32_t, isitup_position_v1> positions;  // of topic_: [first, next) and the epoch
    int64_t opened_ms = 0;
    bool sealed = false, submitted = false, acked = false;
    int dead_letters_pending = 0;
  };

  void connect();  // makes the consumer (and dead-letter producer) from their settings
  void run();
  void take(const rd_kafka_message_t* m);
  void seal_if_due(bool force);
  void submit_ready();
  void apply_acks();
  void commit_done(bool sync);
  void pause_all();
  void handle(const rd_kafka_message_t* m, bool stop_seen);
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  // Claims the assigned partitions (host) and sets their start offsets in `parts`.
  void claim(rd_kafka_topic_partition_list_t* parts);
  // Sets the start offset of each partition `parts` leaves unset: the group's committed
  // offset, else start_from resolved to an offset (else left logical). Left unset when Kafka
  // does not answer.
  void start_unclaimed(rd_kafka_topic_partition_list_t* parts);
  // Sets the start offset of `topic`'s `partition` in `parts`.
  static void set_start(rd_kafka_topic_partition_list_t* parts, const char* topic,
                        int32_t partition, int64_t offset);
  void dead_letter(const rd_kafka_message_t* m, const std::string& why, batch& b);
  void log_poison(const rd_kafka_message_t* m, const std::string& why);
  batch* find(uint64_t token);

  sdk::host host_;
  callback_context cb_ctx_;
  repeat_limiter tls_warnings_;  // worker thread (error callback, run by consumer_poll)
  std::string brokers_, topic_, group_, dead_letter_topic_;
  size_t batch_size_;
  int64_t batch_delay_ms_;
  int64_t start_offset_ = RD_KAFKA_OFFSET_BEGINNING;  // start_from as a logical offset
  conf_ptr conf_;                     // the consumer's settings until connect() makes it
  conf_ptr dead_letter_conf_;         // the dead-letter producer's, when configured
  rd_kafka_t* rk_ = nullptr;          // the consumer (from start() on)
  rd_kafka_queue_t* msgq_ = nullptr;  // the assigned partitions' messages
  rd_kafka_t* dlq_ = nullptr;         // the dead-letter producer, when configured

  // consumer thread only
  std::deque<std::unique_ptr<batch>> batches_;  // in the order read
  uint64_t next_token_ = 1;
  bool full_ = false;  // the pipeline refused a batch: not reading msgq_ until it takes it
  bool full_logged_ = false;
  int64_t full_since_ms_ = 0;
  int64_t next_submit_ms_ = 0;
  int submit_failures_ = 0;
  std::map<partition_key, int64_t> committed_;
  // Per assigned partition of topic_: where the last batch's share ended (the next batch's
  // first offset; -1: not known, the first message's offset) and the claim's epoch.
  struct read_point {
    int64_t next = -1;
    int64_t epoch = 0;
  };
  std::map<int32_t, read_point> read_points_;
  std::map<int32_t, isitup_position_v1> carry_;  // of batches of invalid messages only
  std::set<partition_key> assigned_;             // Kafka offsets are committed only for these
  sdk::log_budget poison_log_{10, 100};          // a burst of 10 lines, then 10 a second
  sdk::log_budget out_of_order_log_{3, 10000};   // 3 lines, then one each 10 s

  std::mutex ack_mu_;
  std::vector<std::pair<uint64_t, sdk::status>> acks_;  // from ack(), applied by the thread

  std::atomic<bool> stopped_{false}, quit_{false};
  std::thread thread_;
};

}  // namespace isitup::kafka
