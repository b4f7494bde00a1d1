// The kafka_sink sink: produces every result to a Kafka topic (key = check name, value = the
// v1 JSON record) with an idempotent librdkafka producer, and reports a batch durable only when
// a delivery report confirmed every one of its messages.
//
// Threads: write() on the host's pipeline thread; one worker thread of the sink polls
// librdkafka (delivery reports), re-produces messages that failed with a retriable error,
// recreates the producer after a fatal error and tracks the connection state. Batch
// completions are called from the worker thread (or from write()/flush()). The producer and
// its worker come with the first write(): constructing the sink checks every setting but
// connects nowhere (isitup-agent --check-config constructs and destroys it).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <isitup/plugin.hpp>

#include "kafka_config.hpp"
#include "kafka_events.hpp"

namespace isitup::kafka {

// The sink's declared options (see README.md).
std::vector<sdk::option> producer_options();

class producer_sink final : public sdk::sink {
 public:
  // Throws std::invalid_argument for a bad option or a refused property. Does not need the
  // brokers to be reachable: the producer connects (and reconnects) in the background.
  producer_sink(const sdk::host& host, const sdk::options_view& options);
  // Stops the worker and destroys the producer. Batches still pending are dropped without a
  // completion: the host has already failed them through flush() (the pipeline is gone by now).
  ~producer_sink() override;
  producer_sink(const producer_sink&) = delete;
  producer_sink& operator=(const producer_sink&) = delete;

  // Encodes, validates and produces the batch. When the sink's buffer (buffer_messages /
  // buffer_bytes, counting every result not yet delivered) has no room for it, reports retry
  // at once without producing anything, so that the pipeline applies backpressure.
  void write(const sdk::batch_view& batch, sdk::batch_done done) override;
  // Waits until every batch is done or the timeout passes; batches still pending then are
  // reported as errors (not delivered before shutdown) and their messages purged.
  sdk::status flush(std::chrono::milliseconds timeout) override;
  // Incident events (event thread): to events_topic when it is set (kafka_events.hpp), else
  // done ok at once: the sink takes no events.
  void write_events(sdk::event_span events, sdk::batch_done done);

  // Tests only: raises librdkafka's fatal error on the current producer handle, as the
  // idempotent producer of librdkafka 2.0.x can after timeouts.
  void inject_fatal_error(const char* reason);
  // How many times the producer handle was recreated after a fatal error.
  int recreations() const { return recreations_.load(); }

 private:
  struct message {
    std::string key;
    size_t value_at = 0, value_size = 0;  // the encoded record in its batch's `values`
    bool delivered = false;
    bool queued_for_retry = false;
    int attempts = 0;
  };
  struct batch_state {
    uint64_t id = 0;
    sdk::batch_done done{nullptr, nullptr};
    std::vector<message> messages;
    // Every encoded record of the batch end to end: one allocation per batch, not per result
    // (librdkafka copies each value into its own message when it is produced).
    std::string values;
    size_t remaining = 0;
    size_t bytes = 0;
    std::string error;  // a permanent failure of one of its messages
  };
  struct retry_entry {
    uint64_t batch;
    size_t index;
    int64_t due_ms;
  };
  enum class link_state { unknown, up, down };

  // Appends the v1 JSON of r to b.values and returns its size (through the host's codec).
  size_t encode_into(batch_state& b, const isitup_record_v1& r);
  rd_kafka_t* create_handle();
  void start_once();  // the first write(): creates the handle, starts the worker
  void produce_locked(batch_state& b, size_t index);
  void run();
  void recreate();
  void produce_due_retries();
  void probe_connection();
  void set_state(link_state s, const std::string& why);
  void on_delivery(const rd_kafka_message_t* m);
  void on_error(int err, const char* reason);
  void finish_locked(std::unique_lock<std::mutex>& lock, uint64_t batch_id);
  void start_events(const std::string& topic);  // kafka_events.cpp

  sdk::host host_;
  callback_context cb_ctx_;
  std::string brokers_, topic_;
  property_list fixed_, user_;
  size_t buffer_messages_, buffer_bytes_;
  bool validate_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  rd_kafka_t* rk_ = nullptr;                    // guarded by mu_; null while being recreated
  std::atomic<rd_kafka_t*> retiring_{nullptr};  // a handle being destroyed: ignore its reports
  std::map<uint64_t, std::unique_ptr<batch_state>> batches_;
  // Every produce attempt has its own id (the message's opaque), so that a report for an
  // attempt that no longer matters (a purged or recreated producer) is ignored.
  std::unordered_map<uint64_t, std::pair<uint64_t, size_t>> attempts_;  // -> batch, index
  std::deque<retry_entry> retries_;
  uint64_t next_batch_ = 1, next_attempt_ = 1;
  size_t held_messages_ = 0, held_bytes_ = 0;

  std::atomic<bool> fatal_{false}, stopping_{false};
  std::atomic<int> recreations_{0};
  repeat_limiter tls_warnings_;             // worker thread (error callback, run by rd_kafka_poll)
  link_state state_ = link_state::unknown;  // worker thread (and error callback, under mu_)
  int64_t next_probe_ms_ = 0;
  std::once_flag started_;
  std::thread worker_;                      // started by start_once()
  std::unique_ptr<event_producer> events_;  // with events_topic only
};

}  // namespace isitup::kafka
