// One-shot timers keyed by a dense id (0 .. capacity-1), on a millisecond timeline.
// The scheduler builds recurring checks on top of this; the implementation behind it can be
// swapped (the simple ordered-map one here, a hierarchical timer wheel later).
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
  // Arms timer `id` (not armed yet) to expire at due_ms. A due_ms in the past expires on the
  // next expire() call.
  virtual void schedule(uint32_t id, int64_t due_ms) = 0;
  // Disarms `id`; returns false if it was not armed.
  virtual bool cancel(uint32_t id) = 0;
  // Moves an armed or unarmed `id` to due_ms.
  virtual void reschedule(uint32_t id, int64_t due_ms) = 0;
  virtual bool armed(uint32_t id) const = 0;
  // Expires every timer with due_ms <= now_ms in due order (ties in arming order), calling
  // fn(id, due_ms) after disarming it. fn may schedule, cancel or reschedule any id,
  // including the one it was called for; a timer armed by fn with due <= now_ms expires in the
  // same call. Returns the number expired.
  virtual std::size_t expire(int64_t now_ms, const expire_fn& fn) = 0;
  // The earliest armed due time, if any.
  virtual std::optional<int64_t> next_due() const = 0;
  virtual std::size_t size() const = 0;
};

// The ordered-map implementation: O(log n), simple and obviously right.
std::unique_ptr<timer_queue> make_map_timer_queue();

}  // namespace isitup
