// Delivers events to the webhook: one POST per event on a libcurl multi handle driven by the
// sender's own thread, so the host's threads never wait on the network.
//
// Order: the events of one check are sent one at a time, in the order submitted; events of
// different checks go out concurrently (at most settings::max_concurrent requests at once).
// Retries: 5xx, 408, 429 and connection errors are retried with exponential backoff (a
// Retry-After is honoured up to retry_after_max) for at most retry_for per event; then that
// event and every later event of its check complete with ISITUP_RETRY, so the host hands them
// back in order. Other answers but 2xx are permanent: the event completes with ISITUP_ERROR.
// Every retry of one event carries the same Idempotency-Key and X-Isitup-Event-Id.
// Logs: the first failed attempt of an event (warn), later ones (debug), deliveries (debug). A
// final failure is the completion's message, which the host logs; the sender logs it itself
// only when its batch already carries another one.
//
// Threads: submit() and wait_idle() from any thread; completions run on the sender's thread
// (or in the destructor, which completes whatever is left with ISITUP_RETRY).
#pragma once

#include <isitup/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "webhook_config.hpp"
#include "webhook_format.hpp"

namespace isitup::webhook {

class sender {
 public:
  // Starts the thread. Throws std::runtime_error when libcurl cannot be set up.
  sender(settings s, sdk::host host);
  ~sender();
  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;

  // Queues the events; `done` is called once, when every one of them is settled: ok when all
  // were delivered, retry when one gave up (or the sender shut down), else error.
  void submit(std::vector<event> events, sdk::batch_done done);

  // Waits until nothing is queued or in flight; false when the timeout passed first.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  using clock = std::chrono::steady_clock;
  struct batch;
  struct delivery;
  struct transfer;
  enum class outcome { delivered, retry, rejected };

  void run();
  void start_due_locked(clock::time_point now);
  void start_transfer(const std::string& check, delivery& d);
  void finish_transfer(transfer* t, int curl_code);
  // Counts d against its batch; a batch with nothing left goes into `out` for complete().
  void settle_locked(delivery& d, outcome how, std::string message,
                     std::vector<std::shared_ptr<batch>>& out);
  // Calls the completions, outside the lock.
  static void complete(std::vector<std::shared_ptr<batch>>& done);
  std::chrono::milliseconds next_wait_locked(clock::time_point now) const;
  void log(sdk::level lv, const std::string& line) const;

  const settings settings_;
  const redactor redact_;
  const sdk::host host_;
  void* multi_ = nullptr;  // CURLM*

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<std::string, std::deque<delivery>> queues_;       // by check, in submission order
  std::map<std::string, std::unique_ptr<transfer>> active_;  // by check: at most one each
  std::string last_started_;                                 // the round robin's position
  // Event ids settled lately (delivered or rejected), so events handed back after a give-up
  // are not sent twice. Bounded: the oldest are forgotten first.
  std::unordered_map<std::string, outcome> recent_;
  std::deque<std::string> recent_order_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace isitup::webhook
