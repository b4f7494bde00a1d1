// Results flow from check completions and sources, through one bounded queue, to every sink in
// batches. Knows batches and acknowledgements; nothing of checks, plugins' files or config.
//
// Bound: at most queue_size records are held at once, counting slots reserved by checks still
// running, records waiting to be batched and records written but not yet durable everywhere.
// A check reserves its slot before it starts, so a completion never finds the queue full.
// One exception, so that a source is never refused for ever: a source batch larger than the
// whole queue (its batch size above queue_size) is taken alone, when nothing else is held.
//
// Threads: try_reserve, cancel_reservation, push_reserved and try_submit from any thread.
// One dispatcher thread cuts batches and calls sinks' write(); sinks' completions arrive on
// any thread. start/drain/stop from the main thread.
//
// Sinks get a completion ticket (completion_tickets.hpp) as done_ctx: a second completion is
// refused and counted. A write not completed within sink_timeout is retried and its slot
// given back; its batch stays valid for the sink until it completes late (up to
// max_timed_out_writes per sink; beyond that the oldest is given up entirely).
#pragma once

#include <isitup/plugin.h>
#include <isitup/util/log_limit.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <isitup/core/record.hpp>

struct isitup_host_ctx;

namespace isitup {

struct sink_binding {
  const isitup_sink_ops_v1* ops = nullptr;
  void* instance = nullptr;
  isitup_host_ctx* ctx = nullptr;  // for the label and log rate limiting
};

// The alert state a batch carries to the sink that keeps it (ISITUP_SINK_ALERT_STATE); built
// by the alert tracker when the batch is made. Any thread.
class batch_state {
 public:
  virtual ~batch_state() = default;
  // Valid while this object lives.
  virtual const isitup_alert_state_v1* view() const = 0;
  // The state sink committed it (its write completed ISITUP_OK).
  virtual void committed() const = 0;
};

struct state_binding {
  std::size_t sink = 0;  // index of the state sink in the pipeline's sinks
  // Called as each batch is made (from try_submit's caller thread or the dispatcher, with
  // the pipeline's lock held: it must not call into the pipeline). May return nullptr.
  std::function<std::shared_ptr<const batch_state>(const std::vector<record>&)> make;
};

// Where a source's batch was read (isitup_host_v1.submit_at), owned by the batch: only the
// sink that keeps positions (set_positions_sink) sees it, as isitup_batch_v1.positions.
struct batch_positions {
  std::string group, topic;
  std::vector<isitup_position_v1> items;
};

struct pipeline_options {
  std::size_t queue_size = 10000;
  std::size_t batch_size = 500;
  int64_t batch_delay_ms = 200;
  // A write a sink has not completed by then is given up: logged and sent again (retry); the
  // sink's late completion is ignored and counted. pipeline.sink_timeout.
  int64_t sink_timeout_ms = 300000;
};

struct pipeline_stats {
  uint64_t accepted = 0;       // records taken in
  uint64_t delivered = 0;      // records durable at every sink
  uint64_t lost = 0;           // records a sink refused for good (ISITUP_ERROR)
  uint64_t rejected_full = 0;  // reservations and submissions refused: queue full
  uint64_t retries = 0;        // batch writes a sink asked to retry, or did not complete in time
  uint64_t timed_out = 0;      // writes not completed within sink_timeout (counted in retries)
  uint64_t late = 0;           // completions of writes that had timed out, ignored
  std::size_t held = 0;        // records in the pipeline now (reserved included)
  std::size_t capacity = 0;
};

// One sink's share, in the order of the sinks given to the pipeline.
struct sink_stats {
  uint64_t delivered = 0;   // records this sink made durable
  uint64_t retries = 0;     // its writes answered ISITUP_RETRY or not completed in time
  uint64_t lost = 0;        // records it refused for good
  std::size_t waiting = 0;  // batches waiting to be written to it
  bool accepting = true;    // its last write was not answered with a retry or a timeout
};

class pipeline {
 public:
  // status: ISITUP_OK when every sink made the batch durable, ISITUP_ERROR when one refused.
  using ack_fn = std::function<void(uint32_t status)>;

  pipeline(pipeline_options options, const std::vector<sink_binding>& sinks);
  ~pipeline();  // stop()s
  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;

  // Before start(): the state sink gets write_with_state with each batch's state.
  void set_state_binding(state_binding b) { state_ = std::move(b); }
  // Before start(): the sink (index among the sinks) that gets sources' batch positions.
  void set_positions_sink(std::size_t sink) { positions_sink_ = sink; }
  void start();

  // Reserves room for one record; false when full (counted, and logged once a second).
  bool try_reserve();
  void cancel_reservation();
  // Fills a reserved slot.
  void push_reserved(record r);
  // Sources: one batch with an acknowledgement; false when there is no room for all of it
  // (then `records` is left as it was: the caller keeps it).
  bool try_submit(std::vector<record>&& records, ack_fn ack,
                  std::unique_ptr<batch_positions> positions = nullptr);
  // Whether `n` more records would fit right now: a cheap look before building a batch for
  // try_submit (which still decides). Nothing is reserved or counted.
  // A batch larger than the whole queue is explained once (logged) here already: a source
  // looks before it offers, and such a batch may wait long for an empty queue.
  bool may_fit(std::size_t n) const {
    if (n > options_.queue_size) say_oversized(n);
    return fits(held_.load(std::memory_order_relaxed), n, options_.queue_size);
  }

  // Stops taking new input, writes out everything held, waits until it is durable everywhere
  // or the timeout passes, then flushes every sink with the time left. True when nothing
  // is left undelivered.
  bool drain(std::chrono::milliseconds timeout);
  // Ends the dispatcher thread. Sinks may still complete writes already made.
  void stop();

  pipeline_stats stats() const;
  std::vector<sink_stats> per_sink() const;

 private:
  struct batch;
  struct sink_state;
  struct pending_write;
  struct write_ctx;
  using clock = std::chrono::steady_clock;

  void run();
  void cut_staged_locked(bool all);
  void enqueue_locked(const std::shared_ptr<batch>& b);
  void complete(write_ctx& w, uint32_t status, const char* message);
  static void on_done(void* ticket, uint32_t status, const char* message);
  // Writes past sink_timeout become retries; returns the next deadline, if any. Locked.
  std::optional<clock::time_point> time_out_writes_locked(clock::time_point now);
  bool has_room(std::size_t n);
  // `n` more records fit beside `held` in a queue of `size`; a batch larger than the queue
  // only when nothing is held.
  static bool fits(std::size_t held, std::size_t n, std::size_t size) {
    return held + n <= size || (n > size && held == 0);
  }
  // Logs, the first time only, that a source's batch of `n` is larger than the queue.
  void say_oversized(std::size_t n) const;

  const pipeline_options options_;
  std::optional<state_binding> state_;
  std::optional<std::size_t> positions_sink_;
  std::vector<std::unique_ptr<sink_state>> sinks_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<record> staged_;
  clock::time_point staged_since_;
  std::atomic<std::size_t> held_{0};  // reserved + staged + in batches not done everywhere
  mutable std::atomic<bool> oversized_said_{false};  // say_oversized has logged
  std::atomic<std::size_t> reserved_{0};
  uint64_t next_sequence_ = 1;
  // Writes handed to sinks and not completed (or timed out, kept for their late completion),
  // by write id: ids grow with time, so the first ones are the oldest.
  std::map<uint64_t, std::unique_ptr<write_ctx>> writing_;
  uint64_t next_write_id_ = 1;
  bool draining_ = false;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<uint64_t> accepted_{0}, delivered_{0}, lost_{0}, rejected_full_{0}, retries_{0},
      timed_out_{0}, late_{0};
  sdk::rate_gate full_log_gate_{1000};
};

}  // namespace isitup
