// The kafka_sink sink's events topic: produces each alert event (incident opened, resolved,
// reminder) to a topic of its own, key = the check's name, value = the event's JSON object as the
// host wrote it (the documented schema, with its event_id). A write_events call is done ok when
// a delivery report confirmed every one of its events, retry when any failed (the host then
// hands the same events again: a consumer deduplicates on event_id), error when one could not be
// produced at all (an event without its JSON or check).
//
// Its own librdkafka producer (same brokers, TLS/SASL properties and producer settings as the
// results), so events never wait behind a full results buffer.
//
// Threads: write() from the host's event thread (one call at a time); one worker thread polls
// librdkafka for delivery reports, completes calls from there and recreates the producer after
// a fatal error; the producer and its worker come with the first write(), so constructing one
// connects nowhere. Destruction stops the worker; calls still pending are completed retry by the
// SDK (their batch_done is dropped).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <isitup/plugin.hpp>

#include "kafka_config.hpp"

namespace isitup::kafka {

class event_producer {
 public:
  // `fixed` and `user`: the librdkafka settings of the results producer. Throws
  // std::invalid_argument when librdkafka refuses them.
  event_producer(const sdk::host& host, std::string topic, property_list fixed, property_list user);
  ~event_producer();
  event_producer(const event_producer&) = delete;
  event_producer& operator=(const event_producer&) = delete;

  void write(sdk::event_span events, sdk::batch_done done);
  const std::string& topic() const { return topic_; }

 private:
  struct call {
    sdk::batch_done done{nullptr, nullptr};
    size_t remaining = 0;
    std::string error;     // the first failure of one of its events
    bool refused = false;  // an event it could not even produce (unreadable): error, not retry
  };

  rd_kafka_t* create_handle();
  void start_once();  // the first write(): creates the handle, starts the worker
  void on_delivery(const rd_kafka_message_t* m);
  // Takes the call out and completes it (outside the lock).
  void finish_locked(std::unique_lock<std::mutex>& lock, uint64_t id);
  void recreate();
  void run();

  sdk::host host_;
  callback_context cb_ctx_;
  std::string topic_;
  property_list fixed_, user_;

  std::mutex mu_;
  rd_kafka_t* rk_ = nullptr;  // guarded by mu_
  std::atomic<rd_kafka_t*> retiring_{nullptr};
  std::map<uint64_t, call> calls_;  // by id, the messages' opaque
  uint64_t next_id_ = 1;
  std::atomic<bool> stopping_{false};
  std::once_flag started_;
  std::thread worker_;  // started by start_once()
};

}  // namespace isitup::kafka
