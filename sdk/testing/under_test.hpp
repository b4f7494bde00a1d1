// Drivers for plugin unit tests: create a plugin's sink or check against a fake_host and call
// it as the agent would, waiting for completions. Header-only, like fake_host.hpp.
//
// A completion called twice fails the test: with GoogleTest included before this header, as
// a non-fatal failure (ADD_FAILURE) with the reason; otherwise the message goes to stderr and
// the process aborts. Either way fake_host::problems() names it.
#pragma once

#include <isitup/plugin.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fake_host.hpp"

namespace isitup::sdk::testing {

// One bucket read_history handed over, copied.
struct history_row {
  std::string check;
  int64_t start_ms = 0, length_ms = 0;
  uint64_t results = 0, up = 0;
  double p50_total_ms = 0, p95_total_ms = 0;
};

// What one read_history call gave: its status, its reason (err) and every bucket.
struct history_answer {
  uint32_t status = ISITUP_ERROR;
  std::string error;
  std::vector<history_row> rows;
};

// The outcome of one completion (a sink batch's done, a check's done).
struct outcome {
  bool done = false;  // the completion was called before the wait timed out
  uint32_t status = ISITUP_ERROR;
  std::string message;
};

namespace detail {

// What a completion reports into: outlives a timed-out wait (the completion may still come
// later, so the batch it refers to lives here too).
struct waiter {
  std::mutex mu;
  std::condition_variable cv;
  outcome result;
  std::function<void(const isitup_record_v1&)> inspect;
  std::vector<const isitup_record_v1*> records;
  isitup_batch_v1 batch{};
};

// The done_ctx of one completion: kept by the driver until the plugin is destroyed, so a
// second call finds it and fails the test instead of touching freed memory.
struct done_ctx {
  std::shared_ptr<waiter> w;
  fake_host* host = nullptr;
  std::atomic<int> calls{0};
  std::string what;  // "check run" or "batch write", for the failure message

  // False (and the test failed) when this is not the first call.
  bool first_call() {
    if (calls.fetch_add(1) == 0) return true;
    const std::string message = "the plugin called the completion of a " + what +
                                " again; the ABI allows exactly one call (the agent refuses "
                                "and counts the extra ones)";
    if (host) host->report_problem(message);
#ifdef ADD_FAILURE
    ADD_FAILURE() << message;
#else
    std::fprintf(stderr, "isitup fake host: %s\n", message.c_str());
    std::abort();
#endif
    return false;
  }
  static void finish(done_ctx& c, uint32_t status, std::string message) {
    std::lock_guard lock(c.w->mu);
    c.w->result = {true, status, std::move(message)};
    c.w->cv.notify_all();
  }
  static void batch_done(void* ctx, uint32_t status, const char* message) {
    auto& c = *static_cast<done_ctx*>(ctx);
    if (c.first_call()) finish(c, status, message ? message : "");
  }
  static void check_done(void* ctx, const isitup_record_v1* r) {
    auto& c = *static_cast<done_ctx*>(ctx);
    if (!c.first_call()) return;
    if (c.w->inspect && r) c.w->inspect(*r);
    if (!r || r->status != ISITUP_UP)
      finish(c, ISITUP_ERROR,
             r ? std::string(r->error_kind ? r->error_kind : "") + ": " +
                     (r->error_message ? r->error_message : "")
               : "null result");
    else
      finish(c, ISITUP_OK, "");
  }
};

// The done_ctxs a driver handed out, freed with the driver (after the plugin is destroyed).
class done_ctxs {
 public:
  void* add(std::shared_ptr<waiter> w, fake_host* host, const char* what) {
    auto c = std::make_unique<done_ctx>();
    c->w = std::move(w);
    c->host = host;
    c->what = what;
    std::lock_guard lock(mu_);
    all_.push_back(std::move(c));
    return all_.back().get();
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<done_ctx>> all_;
};

inline outcome wait_for(waiter& w, std::chrono::milliseconds timeout) {
  std::unique_lock lock(w.mu);
  w.cv.wait_for(lock, timeout, [&] { return w.result.done; });
  return w.result;
}

}  // namespace detail

// A plugin's sink created against a fake_host and driven as the pipeline would drive it.
class sink_under_test {
 public:
  sink_under_test(fake_host& host, const isitup_plugin_v1* plugin, option_map given = {})
      : host_(&host) {
    if (!plugin || !(plugin->kinds & ISITUP_KIND_SINK) || !plugin->sink) {
      error_ = "the plugin has no sink";
      return;
    }
    ops_ = plugin->sink;
    options_ = std::make_unique<fake_options>(ops_->options, ops_->option_count, std::move(given));
    if (!options_->error().empty()) {
      error_ = options_->error();
      return;
    }
    char err[512] = "";
    if (ops_->create(host.table(), host.ctx(), options_->raw(), &instance_, err, sizeof err) !=
        ISITUP_OK) {
      error_ = err[0] ? err : "create() failed without a message";
      instance_ = nullptr;
    }
  }
  ~sink_under_test() {
    if (instance_) ops_->destroy(instance_);
  }
  sink_under_test(const sink_under_test&) = delete;
  sink_under_test& operator=(const sink_under_test&) = delete;

  // Created: otherwise error() says why not (the options or the plugin's create() refused).
  bool ok() const { return instance_ != nullptr; }
  const std::string& error() const { return error_; }
  const fake_options& options() const { return *options_; }

  // Writes one batch and waits for its completion (done == false when it did not come).
  outcome write(std::vector<const isitup_record_v1*> records,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto w = std::make_shared<detail::waiter>();
    w->records = std::move(records);
    w->batch = {sizeof(isitup_batch_v1), w->records.size(), w->records.data(), sequence_++,
                nullptr};
    ops_->write(instance_, &w->batch, &detail::done_ctx::batch_done,
                ctxs_.add(w, host_, "batch write"));
    return detail::wait_for(*w, timeout);
  }
  // Hands the sink state transitions and waits for the completion. A sink without
  // write_events: done is false and message says so.
  outcome write_events(std::vector<const isitup_event_v1*> events,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (ops_->struct_size < offsetof(isitup_sink_ops_v1, write_events) + sizeof(void*) ||
        !ops_->write_events)
      return outcome{false, ISITUP_ERROR, "the sink takes no events"};
    auto w = std::make_shared<detail::waiter>();
    ops_->write_events(instance_, events.data(), events.size(), &detail::done_ctx::batch_done,
                       ctxs_.add(w, host_, "events write"));
    return detail::wait_for(*w, timeout);
  }
  // Asks the sink for its history as the agent's status page does (ISITUP_SINK_HISTORY).
  // fake_host::problems() gets what the agent would refuse: a sink without the flag or the
  // call, a bucket of another length, not aligned to it, outside [from_ms, to_ms), with more
  // up than results or a bad struct_size, and a call that took longer than `timeout` + 1 s.
  history_answer read_history(int64_t from_ms, int64_t to_ms, int64_t length_ms,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (ops_->struct_size < offsetof(isitup_sink_ops_v1, read_history) + sizeof(void*) ||
        !(ops_->sink_flags & ISITUP_SINK_HISTORY) || !ops_->read_history) {
      host_->report_problem("the sink does not answer read_history (ISITUP_SINK_HISTORY)");
      return history_answer{ISITUP_ERROR, "the sink answers no history", {}};
    }
    struct collect {
      fake_host* host;
      int64_t from, to, length;
      history_answer answer;
    } c{host_, from_ms, to_ms, length_ms, {}};
    char err[512] = "";
    const auto started = std::chrono::steady_clock::now();
    c.answer.status = ops_->read_history(
        instance_, from_ms, to_ms, length_ms,
        [](void* ctx, const isitup_history_bucket_v1* b) {
          auto* into = static_cast<collect*>(ctx);
          if (!b || b->struct_size < sizeof(isitup_history_bucket_v1) || !b->check) {
            into->host->report_problem("read_history: a bucket with a bad struct_size or no check");
            return;
          }
          if (b->length_ms != into->length || b->start_ms % into->length != 0 ||
              b->start_ms < into->from || b->start_ms >= into->to || b->up > b->results)
            into->host->report_problem("read_history: a bucket of check \"" +
                                       std::string(b->check, b->check_len) + "\" at " +
                                       std::to_string(b->start_ms) +
                                       " is outside the query, misaligned or has up > results");
          into->answer.rows.push_back({std::string(b->check, b->check_len), b->start_ms,
                                       b->length_ms, b->results, b->up, b->p50_total_ms,
                                       b->p95_total_ms});
        },
        &c, timeout.count(), err, sizeof err);
    if (std::chrono::steady_clock::now() - started > timeout + std::chrono::seconds(1))
      host_->report_problem("read_history took longer than its timeout");
    c.answer.error = err;
    return std::move(c.answer);
  }
  uint32_t flush(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return ops_->flush(instance_, timeout.count());
  }

 private:
  fake_host* host_;
  detail::done_ctxs ctxs_;  // freed after the destructor body destroyed the plugin
  const isitup_sink_ops_v1* ops_ = nullptr;
  std::unique_ptr<fake_options> options_;
  void* instance_ = nullptr;
  std::string error_;
  uint64_t sequence_ = 1;
};

// A plugin's check instance created against a fake_host; prepares checks and runs them.
class check_under_test {
 public:
  check_under_test(fake_host& host, const isitup_plugin_v1* plugin) : host_(&host) {
    if (!plugin || !(plugin->kinds & ISITUP_KIND_CHECK) || !plugin->check) {
      error_ = "the plugin has no check";
      return;
    }
    ops_ = plugin->check;
    char err[512] = "";
    if (ops_->create(host.table(), host.ctx(), &instance_, err, sizeof err) != ISITUP_OK) {
      error_ = err[0] ? err : "create() failed without a message";
      instance_ = nullptr;
    }
  }
  ~check_under_test() {
    if (!instance_) return;
    for (prepared& p : prepared_) ops_->release(instance_, p.check);
    ops_->destroy(instance_);
  }
  check_under_test(const check_under_test&) = delete;
  check_under_test& operator=(const check_under_test&) = delete;

  bool ok() const { return instance_ != nullptr; }
  const std::string& error() const { return error_; }

  // Prepares one check as a `checks:` entry would; null with `error` when refused.
  void* prepare(const std::string& name, const std::string& target, option_map given,
                std::string& error, std::chrono::milliseconds interval = std::chrono::seconds(60),
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto options =
        std::make_unique<fake_options>(ops_->options, ops_->option_count, std::move(given));
    if (!options->error().empty()) {
      error = options->error();
      return nullptr;
    }
    const isitup_check_spec_v1 spec{sizeof spec,      name.c_str(),    target.c_str(),
                                    interval.count(), timeout.count(), options->raw()};
    char err[512] = "";
    void* check = nullptr;
    if (ops_->prepare(instance_, &spec, &check, err, sizeof err) != ISITUP_OK) {
      error = err[0] ? err : "prepare() failed without a message";
      return nullptr;
    }
    prepared_.push_back({check, std::move(options), timeout});
    return check;
  }

  // Runs a prepared check once and waits for its completion; `inspect` sees the result
  // while the completion runs (its strings die afterwards). status is ISITUP_OK for an up
  // result; for a down one, ISITUP_ERROR with "kind: message".
  outcome run(void* check, const std::function<void(const isitup_record_v1&)>& inspect = {},
              int64_t scheduled_at_ms = 1'795'802'400'000) {
    std::chrono::milliseconds timeout(5000);
    for (const prepared& p : prepared_)
      if (p.check == check) timeout = p.timeout;
    auto w = std::make_shared<detail::waiter>();
    w->inspect = inspect;
    const isitup_run_v1 run{sizeof run, scheduled_at_ms, timeout.count()};
    ops_->start(instance_, check, &run, &detail::done_ctx::check_done,
                ctxs_.add(w, host_, "check run"));
    return detail::wait_for(*w, timeout + std::chrono::seconds(5));
  }

 private:
  struct prepared {
    void* check;
    std::unique_ptr<fake_options> options;
    std::chrono::milliseconds timeout;
  };
  fake_host* host_;
  detail::done_ctxs ctxs_;
  const isitup_check_ops_v1* ops_ = nullptr;
  void* instance_ = nullptr;
  std::string error_;
  std::vector<prepared> prepared_;
};

}  // namespace isitup::sdk::testing
