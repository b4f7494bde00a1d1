// The two baselines the timer wheel is measured against, behind the same timer_queue
// interface (so every implementation pays the same virtual call and std::function).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <vector>

#include "timer_queue.hpp"

namespace isitup::bench {

// std::priority_queue with lazy cancellation: cancel and reschedule bump the id's generation,
// and stale entries are dropped when they reach the top.
class heap_timer_queue final : public timer_queue {
 public:
  void schedule(uint32_t id, int64_t due_ms) override { arm(id, due_ms); }
  bool cancel(uint32_t id) override {
    if (id >= state_.size() || !state_[id].armed) return false;
    state_[id].armed = false;
    ++state_[id].generation;
    --size_;
    return true;
  }
  void reschedule(uint32_t id, int64_t due_ms) override {
    cancel(id);
    arm(id, due_ms);
  }
  bool armed(uint32_t id) const override { return id < state_.size() && state_[id].armed; }
  std::size_t expire(int64_t now_ms, const expire_fn& fn) override {
    std::size_t n = 0;
    for (;;) {
      drop_stale();
      if (heap_.empty() || heap_.top().due > now_ms) return n;
      const entry e = heap_.top();
      heap_.pop();
      state_[e.id].armed = false;
      ++state_[e.id].generation;
      --size_;
      ++n;
      fn(e.id, e.due);
    }
  }
  std::optional<int64_t> next_due() const override {
    // Const: skip stale entries without popping them (a copy would cost O(n)).
    if (size_ == 0) return std::nullopt;
    auto& self = const_cast<heap_timer_queue&>(*this);
    self.drop_stale();
    return heap_.top().due;
  }
  std::size_t size() const override { return size_; }

 private:
  struct entry {
    int64_t due;
    uint64_t seq;
    uint32_t id;
    uint32_t generation;
    bool operator>(const entry& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  struct id_state {
    uint32_t generation = 0;
    bool armed = false;
  };
  void arm(uint32_t id, int64_t due_ms) {
    if (id >= state_.size()) state_.resize(std::size_t{id} + 1);
    state_[id].armed = true;
    heap_.push(entry{due_ms, seq_++, id, state_[id].generation});
    ++size_;
  }
  void drop_stale() {
    while (!heap_.empty() && heap_.top().generation != state_[heap_.top().id].generation) {
      heap_.pop();
    }
  }
  std::priority_queue<entry, std::vector<entry>, std::greater<>> heap_;
  std::vector<id_state> state_;
  uint64_t seq_ = 0;
  std::size_t size_ = 0;
};

// std::multimap keyed by due time (equal keys keep insertion order), an iterator per id.
class multimap_timer_queue final : public timer_queue {
 public:
  void schedule(uint32_t id, int64_t due_ms) override { reschedule(id, due_ms); }
  bool cancel(uint32_t id) override {
    if (id >= pos_.size() || pos_[id] == timers_.end()) return false;
    timers_.erase(pos_[id]);
    pos_[id] = timers_.end();
    return true;
  }
  void reschedule(uint32_t id, int64_t due_ms) override {
    if (id >= pos_.size()) pos_.resize(std::size_t{id} + 1, timers_.end());
    if (pos_[id] != timers_.end()) timers_.erase(pos_[id]);
    pos_[id] = timers_.emplace(due_ms, id);
  }
  bool armed(uint32_t id) const override { return id < pos_.size() && pos_[id] != timers_.end(); }
  std::size_t expire(int64_t now_ms, const expire_fn& fn) override {
    std::size_t n = 0;
    while (!timers_.empty() && timers_.begin()->first <= now_ms) {
      const auto [due, id] = *timers_.begin();
      timers_.erase(timers_.begin());
      pos_[id] = timers_.end();
      ++n;
      fn(id, due);
    }
    return n;
  }
  std::optional<int64_t> next_due() const override {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first;
  }
  std::size_t size() const override { return timers_.size(); }

 private:
  std::multimap<int64_t, uint32_t> timers_;
  std::vector<std::multimap<int64_t, uint32_t>::iterator> pos_;
};

}  // namespace isitup::bench
