// The reference the timer_queue implementations are compared with in tests: the obvious
// multimap ordered by (due, arming sequence). Test-only, header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

namespace isitup::test {

class reference_queue {
 public:
  void arm(uint32_t id, int64_t due_ms) {
    disarm(id);
    pos_[id] = timers_.emplace(std::make_pair(due_ms, seq_++), id);
  }
  bool disarm(uint32_t id) {
    auto it = pos_.find(id);
    if (it == pos_.end()) return false;
    timers_.erase(it->second);
    pos_.erase(it);
    return true;
  }
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
      disarm(id);
      ++n;
      fn(id, key.first);
    }
    return n;
  }

 private:
  using timer_map = std::multimap<std::pair<int64_t, uint64_t>, uint32_t>;
  timer_map timers_;
  std::map<uint32_t, timer_map::iterator> pos_;
  uint64_t seq_ = 0;
};

}  // namespace isitup::test
