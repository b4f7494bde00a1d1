#include <cassert>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include <isitup/core/timer_queue.hpp>

namespace isitup {
namespace {

// Timers ordered by (due, arming sequence number); each id remembers where its timer sits in
// the map, so cancel is one erase by iterator. A recurring timer's interval lives in its map
// entry, and its re-arm moves the map node (extract + insert: no allocation).
class map_timer_queue final : public timer_queue {
 public:
  void schedule(uint32_t id, int64_t due_ms) override {
    slot& s = slot_for(id);
    assert(!s.armed && "schedule() of an armed timer; use reschedule()");
    if (s.armed) timers_.erase(s.pos);
    arm(s, id, due_ms, 0);
  }

  void schedule_recurring(uint32_t id, int64_t first_due_ms, int64_t interval_ms) override {
    if (interval_ms < 1) throw std::invalid_argument("timer_queue: interval must be >= 1 ms");
    slot& s = slot_for(id);
    assert(!s.armed && "schedule_recurring() of an armed timer; cancel it first");
    if (s.armed) timers_.erase(s.pos);
    arm(s, id, first_due_ms, interval_ms);
  }

  bool cancel(uint32_t id) override {
    if (id >= slots_.size() || !slots_[id].armed) return false;
    timers_.erase(slots_[id].pos);
    slots_[id].armed = false;
    return true;
  }

  void reschedule(uint32_t id, int64_t due_ms) override {
    slot& s = slot_for(id);
    if (s.armed) timers_.erase(s.pos);
    arm(s, id, due_ms, 0);
  }

  bool armed(uint32_t id) const override { return id < slots_.size() && slots_[id].armed; }

  std::size_t expire(int64_t now_ms, expire_ref fn) override {
    std::size_t expired = 0;
    // Re-read begin() every time: fn may have armed an earlier timer or cancelled the next one.
    while (!timers_.empty() && timers_.begin()->first.due_ms <= now_ms) {
      const auto first = timers_.begin();
      const int64_t due_ms = first->first.due_ms;
      const auto [id, interval_ms] = first->second;
      ++expired;
      if (interval_ms == 0) {
        timers_.erase(first);
        slots_[id].armed = false;
        fn(id, due_ms);
        continue;
      }
      const recurring_step step = step_recurring(due_ms, interval_ms, now_ms);
      missed_ += step.missed;
      auto node = timers_.extract(first);
      node.key() = key{step.next_ms, next_seq_++};
      slots_[id].pos = timers_.insert(std::move(node)).position;
      fn(id, step.latest_ms);
    }
    return expired;
  }

  std::optional<int64_t> next_due() const override {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first.due_ms;
  }

  std::size_t size() const override { return timers_.size(); }
  uint64_t missed_periods() const override { return missed_; }

 private:
  struct key {
    int64_t due_ms;
    uint64_t seq;  // arming order, breaks ties between equal due times
    auto operator<=>(const key&) const = default;
  };
  struct timer {
    uint32_t id;
    int64_t interval_ms;  // 0: one-shot
  };
  using timer_map = std::map<key, timer>;
  struct slot {
    timer_map::iterator pos;  // valid only while armed
    bool armed = false;
  };

  slot& slot_for(uint32_t id) {
    if (id >= slots_.size()) slots_.resize(std::size_t{id} + 1);
    return slots_[id];
  }

  void arm(slot& s, uint32_t id, int64_t due_ms, int64_t interval_ms) {
    s.pos = timers_.emplace(key{due_ms, next_seq_++}, timer{id, interval_ms}).first;
    s.armed = true;
  }

  timer_map timers_;
  std::vector<slot> slots_;
  uint64_t next_seq_ = 0;
  uint64_t missed_ = 0;
};

}  // namespace

std::unique_ptr<timer_queue> make_map_timer_queue() { return std::make_unique<map_timer_queue>(); }

}  // namespace isitup
