// The two baselines the timer wheel is measured against, behind the same timer_queue
// interface (so every implementation pays the same virtual calls and expire_ref callback),
// each with recurring timers done the natural way for its structure: the interval is kept
// with the id's existing per-timer state, and the re-arm reuses the entry (the heap pushes
// the popped entry back; the multimap moves its node without reallocating it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <stdexcept>
#include <vector>

#include <isitup/core/timer_queue.hpp>

namespace isitup::bench {

// The baselines keep an interval in 32 bits, beside their existing per-timer fields (so it
// costs them no memory): up to 49.7 days, plenty for the benchmark.
inline void check_interval(int64_t interval_ms) {
  if (interval_ms < 1 || interval_ms > int64_t{UINT32_MAX}) {
    throw std::invalid_argument("bench timer_queue: interval must be 1 ms .. 49.7 days");
  }
}

// std::priority_queue with lazy cancellation: cancel and reschedule bump the id's generation,
// and stale entries are dropped when they reach the top.
class heap_timer_queue final : public timer_queue {
 public:
  void schedule(uint32_t id, int64_t due_ms) override { arm(id, due_ms, 0); }
  void schedule_recurring(uint32_t id, int64_t first_due_ms, int64_t interval_ms) override {
    check_interval(interval_ms);
    arm(id, first_due_ms, static_cast<uint32_t>(interval_ms));
  }
  bool cancel(uint32_t id) override {
    if (id >= state_.size() || !state_[id].armed) return false;
    state_[id].armed = false;
    ++state_[id].generation;
    --size_;
    return true;
  }
  void reschedule(uint32_t id, int64_t due_ms) override {
    cancel(id);
    arm(id, due_ms, 0);
  }
  bool armed(uint32_t id) const override { return id < state_.size() && state_[id].armed; }
  std::size_t expire(int64_t now_ms, expire_ref fn) override {
    std::size_t n = 0;
    for (;;) {
      drop_stale();
      if (heap_.empty() || heap_.top().due > now_ms) return n;
      entry e = heap_.top();
      heap_.pop();
      id_state& s = state_[e.id];
      ++n;
      if (s.interval == 0) {
        s.armed = false;
        ++s.generation;
        --size_;
        fn(e.id, e.due);
        continue;
      }
      const recurring_step step = step_recurring(e.due, s.interval, now_ms);
      missed_ += step.missed;
      e.due = step.next_ms;
      e.seq = seq_++;
      heap_.push(e);  // same id and generation: still armed
      fn(e.id, step.latest_ms);
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
  uint64_t missed_periods() const override { return missed_; }

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
    uint32_t interval = 0;  // 0: one-shot
    bool armed = false;
  };
  void arm(uint32_t id, int64_t due_ms, uint32_t interval_ms) {
    if (id >= state_.size()) state_.resize(std::size_t{id} + 1);
    state_[id].armed = true;
    state_[id].interval = interval_ms;
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
  uint64_t missed_ = 0;
};

// std::multimap keyed by due time (equal keys keep insertion order), an iterator per id.
class multimap_timer_queue final : public timer_queue {
 public:
  void schedule(uint32_t id, int64_t due_ms) override { reschedule(id, due_ms); }
  void schedule_recurring(uint32_t id, int64_t first_due_ms, int64_t interval_ms) override {
    check_interval(interval_ms);
    arm(id, first_due_ms, static_cast<uint32_t>(interval_ms));
  }
  bool cancel(uint32_t id) override {
    if (id >= pos_.size() || pos_[id] == timers_.end()) return false;
    timers_.erase(pos_[id]);
    pos_[id] = timers_.end();
    return true;
  }
  void reschedule(uint32_t id, int64_t due_ms) override { arm(id, due_ms, 0); }
  bool armed(uint32_t id) const override { return id < pos_.size() && pos_[id] != timers_.end(); }
  std::size_t expire(int64_t now_ms, expire_ref fn) override {
    std::size_t n = 0;
    while (!timers_.empty() && timers_.begin()->first <= now_ms) {
      const auto first = timers_.begin();
      const int64_t due = first->first;
      const auto [id, interval] = first->second;
      ++n;
      if (interval == 0) {
        timers_.erase(first);
        pos_[id] = timers_.end();
        fn(id, due);
        continue;
      }
      const recurring_step step = step_recurring(due, interval, now_ms);
      missed_ += step.missed;
      auto node = timers_.extract(first);
      node.key() = step.next_ms;
      pos_[id] = timers_.insert(std::move(node));
      fn(id, step.latest_ms);
    }
    return n;
  }
  std::optional<int64_t> next_due() const override {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first;
  }
  std::size_t size() const override { return timers_.size(); }
  uint64_t missed_periods() const override { return missed_; }

 private:
  struct timer {
    uint32_t id;
    uint32_t interval;  // 0: one-shot
  };
  using timer_map = std::multimap<int64_t, timer>;
  void arm(uint32_t id, int64_t due_ms, uint32_t interval_ms) {
    if (id >= pos_.size()) pos_.resize(std::size_t{id} + 1, timers_.end());
    if (pos_[id] != timers_.end()) timers_.erase(pos_[id]);
    pos_[id] = timers_.emplace(due_ms, timer{id, interval_ms});
  }
  timer_map timers_;
  std::vector<timer_map::iterator> pos_;
  uint64_t missed_ = 0;
};

}  // namespace isitup::bench
