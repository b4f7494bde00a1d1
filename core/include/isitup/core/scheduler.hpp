// Recurring checks on top of a timer_queue: splay, drift-free re-arming, skip-when-busy,
// skip-when-late, a global in-flight bound. Knows nothing but time and callbacks.
// Each check is a recurring timer of the queue (timer_queue::schedule_recurring): the queue
// keeps the interval beside the timer and re-arms it on the grid itself; the scheduler keeps
// one atomic flag per check (in flight or not).
//
// Threads: one thread (the scheduler thread) calls add/remove/run_due/next_due/stats.
// finished() and in_flight() may be called from any thread (plugin completion threads); they
// only touch atomics. Destroy the scheduler only once no thread can still call finished().
//
// Time: every time is epoch milliseconds on a monotonic timeline (see monotonic_clock), so
// scheduled times are both wall-clock meaningful and free of drift.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <isitup/core/timer_queue.hpp>

namespace isitup {

// Epoch milliseconds that never go backwards: the wall clock read once at construction plus
// the steady clock's progress since. Thread-safe (const, no shared state).
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
  // fire may call add() and remove() (for any id, its own included). If fire throws, the
  // exception leaves run_due() and the run still counts as in flight.
  using fire_fn = std::function<void(uint32_t id, int64_t scheduled_ms)>;

  // Throws std::invalid_argument if `timers` is null or max_in_flight < 1.
  scheduler(std::unique_ptr<timer_queue> timers, int max_in_flight);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Adds a recurring check. Its first run is at the first instant strictly after now_ms whose
  // phase (epoch ms modulo interval) equals splay_offset(name, interval_ms): spread over the
  // interval, the same after a restart (so a check added exactly on its phase waits one whole
  // interval). Returns the check's id: dense, from 0, never reused (so a late finished() of a
  // removed check can never touch another one; each add costs a few bytes for the scheduler's
  // lifetime). Throws std::invalid_argument if interval_ms < 1.
  uint32_t add(std::string_view name, int64_t interval_ms, int64_t now_ms);
  // Cancels check `id`: it never fires again, even if removed from inside fire() while other
  // checks are still expiring. A run in flight stays counted until its finished(id). Unknown or
  // already removed ids are ignored.
  void remove(uint32_t id);

  // Fires every check due at or before now_ms, each at most once per call, in due order.
  // Runs are on a fixed grid: scheduled times are always first_due + k * interval.
  // For each due check, with `latest` the last grid point <= now_ms:
  //   - the periods before `latest` were missed and are counted in skipped_late (never run as
  //     a burst of catch-up runs); the check is re-armed at latest + interval (> now_ms),
  //     by the queue, before fire() is called;
  //   - then the run for `latest` is skipped if the check's previous run is still in flight
  //     (skipped_busy) or if max_in_flight runs are in flight (skipped_capacity; it is not
  //     retried before its next period); otherwise it counts in `fired` and fire(id, latest)
  //     is called.
  void run_due(int64_t now_ms, const fire_fn& fire);
  // The earliest time a check is due, if any: when to call run_due() next.
  std::optional<int64_t> next_due() const;

  // A run of `id` ended. Any thread. Ignored unless `id` has a run in flight, so a duplicate
  // call cannot drive in_flight() negative. Works for removed checks too.
  void finished(uint32_t id);
  // Runs fired and not finished yet, over all checks (removed ones included). Any thread.
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  // Scheduler thread only (the counters are plain fields updated by run_due()).
  scheduler_stats stats() const;

 private:
  struct entry;
  // Entries live in segments that never move once allocated, so finished() on another thread
  // can find an entry while add() on the scheduler thread grows the table. Segment s holds
  // 64 << s entries, allocated when add() hands out its first id.
  static constexpr std::size_t k_segments = 26;
  entry* find(uint32_t id) const;

  std::unique_ptr<timer_queue> timers_;
  std::array<std::atomic<entry*>, k_segments> segments_{};
  uint32_t size_ = 0;  // ids handed out by add()
  const int max_in_flight_;
  std::atomic<int> in_flight_{0};
  scheduler_stats stats_;
};

// Deterministic phase in [0, interval_ms) for a check name: FNV-1a 64 of the name's bytes,
// mixed with MurmurHash3's fmix64 finalizer, modulo interval_ms. The same in every build and
// release (changing it would shift every check's phase once). Precondition: interval_ms >= 1.
int64_t splay_offset(std::string_view name, int64_t interval_ms);

}  // namespace isitup
