// Recurring checks on top of a timer_queue: splay, drift-free re-arming, skip-when-busy,
// skip-when-late, a global in-flight bound. Knows nothing but time and callbacks.
//
// Threads: one thread (the scheduler thread) calls add/remove/run_due/next_due. finished()
// may be called from any thread (plugin completion threads); it only touches atomics.
//
// Time: every time is epoch milliseconds on a monotonic timeline (see monotonic_clock), so
// scheduled times are both wall-clock meaningful and free of drift.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "timer_queue.hpp"

namespace isitup {

// Epoch milliseconds that never go backwards: the wall clock read once at construction plus
// the steady clock's progress since.
class clock_source {
 public:
  virtual ~clock_source() = default;
  virtual int64_t now_ms() const = 0;
};
class monotonic_clock final : public clock_source {
 public:
  monotonic_clock();
  int64_t now_ms() const override;

 private:
  int64_t epoch_at_start_ms_;
  int64_t steady_at_start_ms_;
};

struct scheduler_stats {
  uint64_t fired = 0;
  uint64_t skipped_busy = 0;      // due while its previous run was still in flight
  uint64_t skipped_late = 0;      // periods missed because the scheduler fell behind
  uint64_t skipped_capacity = 0;  // due while max_in_flight runs were in flight
};

class scheduler {
 public:
  // fire(id, scheduled_ms): start a run of check `id` that was due at scheduled_ms. Called on
  // the scheduler thread from run_due(). The run counts as in flight until finished(id).
  using fire_fn = std::function<void(uint32_t id, int64_t scheduled_ms)>;

  scheduler(std::unique_ptr<timer_queue> timers, int max_in_flight);

  // Adds a recurring check. Its first run is at the first instant after now_ms whose phase
  // (epoch ms modulo interval) equals a hash of `name`: spread over the interval, the same
  // after a restart. Returns the check's id (dense, from 0).
  uint32_t add(std::string_view name, int64_t interval_ms, int64_t now_ms);
  void remove(uint32_t id);

  // Fires every check due at or before now_ms (each at most once per call) and re-arms it at
  // scheduled + interval (skipping, and counting, whole periods already past).
  void run_due(int64_t now_ms, const fire_fn& fire);
  std::optional<int64_t> next_due() const;

  // A run of `id` ended. Any thread.
  void finished(uint32_t id);
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  scheduler_stats stats() const;

 private:
  struct entry;
  std::unique_ptr<timer_queue> timers_;
  std::vector<std::unique_ptr<entry>> entries_;
  const int max_in_flight_;
  std::atomic<int> in_flight_{0};
  scheduler_stats stats_;
};

// Deterministic phase in [0, interval_ms) for a check name.
int64_t splay_offset(std::string_view name, int64_t interval_ms);

}  // namespace isitup
