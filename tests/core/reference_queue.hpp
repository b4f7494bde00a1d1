// The reference the timer_queue implementations are compared with in tests: the obvious
// multimap ordered by (due, arming sequence); a recurring timer is re-armed (as a new arming)
// at its first grid point after now before its callback. Test-only, header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace isitup::test {

class reference_queue {
 public:
  // One-shot (interval 0) or recurring.
  void arm(uint32_t id, int64_t due_ms, int64_t interval_ms = 0) {
    disarm(id);
    pos_[id] = timers_.emplace(std::make_pair(due_ms, seq_++), id);
    if (interval_ms > 0) interval_[id] = interval_ms;
  }
  bool disarm(uint32_t id) {
    auto it = pos_.find(id);
    if (it == pos_.end()) return false;
    timers_.erase(it->second);
    pos_.erase(it);
    interval_.erase(id);
    return true;
  }
  uint64_t missed_periods() const { return missed_; }
  bool armed(uint32_t id) const { return pos_.count(id) != 0; }
  std::optional<int64_t> next_due() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first.first;
  }
  std::size_t size() const { return timers_.size(); }
  template <typename Fn>
  std::size_t expire(int64_t now_ms, Fn fn) {
    std::size_t n = 0;
    while (!timers_.empty() && timers_.begin()->first.first <= now_ms) {
      const auto [key, id] = *timers_.begin();
      const auto recurring = interval_.find(id);
      ++n;
      if (recurring == interval_.end()) {
        disarm(id);
        fn(id, key.first);
        continue;
      }
      const int64_t interval = recurring->second;
      const int64_t late_periods = (now_ms - key.first) / interval;  // grid points skipped
      const int64_t latest = key.first + late_periods * interval;
      missed_ += static_cast<uint64_t>(late_periods);
      arm(id, latest + interval, interval);
      fn(id, latest);
    }
    return n;
  }

 private:
  using timer_map = std::multimap<std::pair<int64_t, uint64_t>, uint32_t>;
  timer_map timers_;
  std::map<uint32_t, timer_map::iterator> pos_;
  std::map<uint32_t, int64_t> interval_;  // recurring timers only
  uint64_t seq_ = 0;
  uint64_t missed_ = 0;
};

}  // namespace isitup::test
