// One-shot timers keyed by a dense id (0 .. capacity-1), on a millisecond timeline.
// The scheduler builds recurring checks on top of this; the implementation behind it can be
// swapped (the simple ordered-map one here, a hierarchical timer wheel later).
//
// Ids: any uint32_t may be used; storage grows to the largest id seen, so keep ids dense.
// An id names at most one timer at a time (armed or not).
//
// Not thread-safe: one thread owns a timer_queue (the scheduler thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace isitup {

class timer_queue {
 public:
  using expire_fn = std::function<void(uint32_t id, int64_t due_ms)>;

  virtual ~timer_queue() = default;
  // Arms timer `id` to expire at due_ms. Precondition: `id` is not armed (use reschedule to
  // move an armed timer). A due_ms in the past expires on the next expire() call.
  virtual void schedule(uint32_t id, int64_t due_ms) = 0;
  // Disarms `id`; returns false if it was not armed (including ids never seen).
  virtual bool cancel(uint32_t id) = 0;
  // Moves an armed or unarmed `id` to due_ms. It then orders after every timer already armed
  // for the same due_ms, exactly as if it had been cancelled and scheduled.
  virtual void reschedule(uint32_t id, int64_t due_ms) = 0;
  virtual bool armed(uint32_t id) const = 0;
  // Expires every timer with due_ms <= now_ms in due order (ties in arming order), calling
  // fn(id, due_ms) after disarming it. fn may schedule, cancel or reschedule any id,
  // including the one it was called for; a timer armed by fn with due <= now_ms expires in the
  // same call (so fn must not re-arm at <= now_ms forever). A timer cancelled by fn before its
  // turn does not expire. Returns the number expired.
  virtual std::size_t expire(int64_t now_ms, const expire_fn& fn) = 0;
  // The earliest armed due time, if any.
  virtual std::optional<int64_t> next_due() const = 0;
  // The number of armed timers.
  virtual std::size_t size() const = 0;
};

// The ordered-map implementation: O(log n) schedule, cancel and expire per timer, simple and
// obviously right; the reference the timer wheel is tested against.
std::unique_ptr<timer_queue> make_map_timer_queue();

}  // namespace isitup
