#include <cassert>
#include <map>
#include <utility>
#include <vector>

#include "timer_queue.hpp"

namespace isitup {
namespace {

// Timers ordered by (due, arming sequence number); each id remembers where its timer sits in
// the map, so cancel is one erase by iterator.
class map_timer_queue final : public timer_queue {
 public:
  void schedule(uint32_t id, int64_t due_ms) override {
    slot& s = slot_for(id);
    assert(!s.armed && "schedule() of an armed timer; use reschedule()");
    if (s.armed) timers_.erase(s.pos);
    arm(s, id, due_ms);
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
    arm(s, id, due_ms);
  }

  bool armed(uint32_t id) const override { return id < slots_.size() && slots_[id].armed; }

  std::size_t expire(int64_t now_ms, const expire_fn& fn) override {
    std::size_t expired = 0;
    // Re-read begin() every time: fn may have armed an earlier timer or cancelled the next one.
    while (!timers_.empty() && timers_.begin()->first.due_ms <= now_ms) {
      const auto first = timers_.begin();
      const int64_t due_ms = first->first.due_ms;
      const uint32_t id = first->second;
      timers_.erase(first);
      slots_[id].armed = false;
      ++expired;
      fn(id, due_ms);
    }
    return expired;
  }

  std::optional<int64_t> next_due() const override {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first.due_ms;
  }

  std::size_t size() const override { return timers_.size(); }

 private:
  struct key {
    int64_t due_ms;
    uint64_t seq;  // arming order, breaks ties between equal due times
    auto operator<=>(const key&) const = default;
  };
  using timer_map = std::map<key, uint32_t>;
  struct slot {
    timer_map::iterator pos;  // valid only while armed
    bool armed = false;
  };

  slot& slot_for(uint32_t id) {
    if (id >= slots_.size()) slots_.resize(std::size_t{id} + 1);
    return slots_[id];
  }

  void arm(slot& s, uint32_t id, int64_t due_ms) {
    s.pos = timers_.emplace(key{due_ms, next_seq_++}, id).first;
    s.armed = true;
  }

  timer_map timers_;
  std::vector<slot> slots_;
  uint64_t next_seq_ = 0;
};

}  // namespace

std::unique_ptr<timer_queue> make_map_timer_queue() { return std::make_unique<map_timer_queue>(); }

}  // namespace isitup
