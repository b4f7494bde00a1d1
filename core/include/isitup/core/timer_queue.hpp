// Timers keyed by a dense id (0 .. capacity-1), on a millisecond timeline: one-shot, or
// recurring with the interval kept by the queue itself (so re-arming an expired check touches
// only the queue's own storage, and costs no call through this interface).
// The scheduler builds recurring checks on top of this; the implementation behind it can be
// swapped (the simple ordered-map one here, the hierarchical timer wheel in timer_wheel.hpp).
//
// Ids: any uint32_t may be used; storage grows to the largest id seen, so keep ids dense.
// An id names at most one timer at a time (armed or not).
//
// Not thread-safe: one thread owns a timer_queue (the scheduler thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace isitup {

// A non-owning reference to a callable `void(uint32_t id, int64_t due_ms)`: one indirect call
// per expiry and no allocation, unlike std::function. It must not outlive the callable it
// refers to: pass a lambda straight to expire(), do not store an expire_ref built from a
// temporary.
class expire_ref {
 public:
  // NOLINTBEGIN(bugprone-forwarding-reference-overload): the constraint excludes expire_ref
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, expire_ref> &&
           std::is_invocable_v<F&, uint32_t, int64_t>) expire_ref(F&& f)
  noexcept  // NOLINT(google-explicit-constructor): converts like a function
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, uint32_t id, int64_t due_ms) {
          (*static_cast<std::remove_reference_t<F>*>(obj))(id, due_ms);
        }) {}
  // NOLINTEND(bugprone-forwarding-reference-overload)
  void operator()(uint32_t id, int64_t due_ms) const { call_(obj_, id, due_ms); }

 private:
  void* obj_;
  void (*call_)(void*, uint32_t, int64_t);
};

class timer_queue {
 public:
  virtual ~timer_queue() = default;
  // Arms `id` as a one-shot timer expiring at due_ms. Precondition: `id` is not armed (use
  // reschedule to move an armed timer). A due_ms in the past expires on the next expire() call.
  virtual void schedule(uint32_t id, int64_t due_ms) = 0;
  // Arms `id` as a recurring timer: first due at first_due_ms, then on the grid
  // first_due_ms + k * interval_ms. On expiry it is re-armed by expire() itself, before the
  // callback runs, at the first grid point after now_ms; the callback gets the latest grid
  // point <= now_ms, and the grid points skipped before that (missed because expire() was
  // called late) are added to missed_periods(), never expired as a burst. So it never drifts.
  // Precondition: `id` is not armed. Throws std::invalid_argument if interval_ms < 1.
  virtual void schedule_recurring(uint32_t id, int64_t first_due_ms, int64_t interval_ms) = 0;
  // Disarms `id` (one-shot or recurring); returns false if it was not armed (including ids
  // never seen).
  virtual bool cancel(uint32_t id) = 0;
  // Moves an armed or unarmed `id` to due_ms as a one-shot timer. It then orders after every
  // timer already armed for the same due_ms, exactly as if it had been cancelled and scheduled.
  virtual void reschedule(uint32_t id, int64_t due_ms) = 0;
  virtual bool armed(uint32_t id) const = 0;
  // Expires every timer with due_ms <= now_ms in due order (ties in arming order), calling
  // fn(id, due_ms) after disarming it (one-shot) or re-arming it (recurring: then due_ms is
  // the latest grid point <= now_ms, see schedule_recurring). fn may schedule, cancel or
  // reschedule any id, including the one it was called for (cancelling a recurring timer from
  // its own callback stops it); a timer armed by fn with due <= now_ms expires in the same
  // call (so fn must not re-arm at <= now_ms forever). A timer cancelled by fn before its turn
  // does not expire. Returns the number expired.
  virtual std::size_t expire(int64_t now_ms, expire_ref fn) = 0;
  // The earliest armed due time, if any.
  virtual std::optional<int64_t> next_due() const = 0;
  // The number of armed timers.
  virtual std::size_t size() const = 0;
  // Grid points of recurring timers skipped since the queue was made (see schedule_recurring).
  virtual uint64_t missed_periods() const = 0;
};

// The ordered-map implementation: O(log n) schedule, cancel and expire per timer, simple and
// obviously right.
std::unique_ptr<timer_queue> make_map_timer_queue();

// The grid arithmetic every implementation shares: a recurring timer due at due_ms with
// interval interval_ms, expired at now_ms >= due_ms.
struct recurring_step {
  int64_t latest_ms;  // the grid point the callback gets: due_ms + missed * interval_ms
  int64_t next_ms;    // where it is re-armed: latest_ms + interval_ms > now_ms
  uint64_t missed;    // grid points before latest_ms that were not expired
};
inline recurring_step step_recurring(int64_t due_ms, int64_t interval_ms, int64_t now_ms) {
  if (now_ms - due_ms < interval_ms) return {due_ms, due_ms + interval_ms, 0};  // on time
  const int64_t missed = (now_ms - due_ms) / interval_ms;
  const int64_t latest = due_ms + missed * interval_ms;
  return {latest, latest + interval_ms, static_cast<uint64_t>(missed)};
}

}  // namespace isitup
