// isitup plugin SDK utility, header-only (C++17): rate limits for log lines, decided before a
// line is formatted (spdlog's should_log()), so a flood of failures costs a comparison each.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

namespace isitup::sdk {

// Lets one caller through per `every_ms`, from any number of threads at once (lock-free).
// For a warning whose count is kept elsewhere (a counter, the status line).
class rate_gate {
 public:
  explicit rate_gate(int64_t every_ms) : every_ms_(every_ms) {}

  // True for at most one caller per `every_ms` of `now_ms` (a monotonic clock, monotonic_ms()).
  bool pass(int64_t now_ms) {
    int64_t last = last_ms_.load(std::memory_order_relaxed);
    return now_ms - last >= every_ms_ &&
           last_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed);
  }

 private:
  const int64_t every_ms_;
  std::atomic<int64_t> last_ms_{std::numeric_limits<int64_t>::min() / 2};
};

// A token bucket for one kind of log line: up to `burst` lines at once, then one per
// `every_ms`; counts what it refuses so the next line printed can say how many were left out.
// Not thread-safe: one owner, or the owner's lock.
class log_budget {
 public:
  log_budget(int burst, int64_t every_ms)
      : burst_(burst < 1 ? 1 : burst), every_ms_(every_ms < 1 ? 1 : every_ms), tokens_(burst_) {}

  // True when a line may be printed at `now_ms` (a monotonic clock). Call it before formatting.
  bool take(int64_t now_ms) {
    if (!started_) {
      started_ = true;
      refilled_at_ms_ = now_ms;
    }
    if (now_ms > refilled_at_ms_) {
      const int64_t earned = (now_ms - refilled_at_ms_) / every_ms_;
      if (earned > 0) {
        tokens_ = earned >= burst_ - tokens_ ? burst_ : tokens_ + static_cast<int>(earned);
        refilled_at_ms_ = tokens_ == burst_ ? now_ms : refilled_at_ms_ + earned * every_ms_;
      }
    }
    if (tokens_ == 0) {
      ++refused_;
      return false;
    }
    if (tokens_ == burst_) refilled_at_ms_ = now_ms;  // a full bucket earns nothing more
    --tokens_;
    return true;
  }

  // How many take() refused since the last call of this; resets the count. Call it after a
  // take() that returned true, to append "(N more not logged)" to the line.
  uint64_t refused_since_last() {
    const uint64_t n = refused_;
    refused_ = 0;
    return n;
  }

  // Back to a full bucket, nothing refused (e.g. when the message changes).
  void reset() {
    tokens_ = burst_;
    refused_ = 0;
    started_ = false;
  }

 private:
  const int burst_;
  const int64_t every_ms_;
  int tokens_;
  int64_t refilled_at_ms_ = 0;
  uint64_t refused_ = 0;
  bool started_ = false;
};

}  // namespace isitup::sdk
