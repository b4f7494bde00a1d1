#include <isitup/core/run_tracker.hpp>

#include <algorithm>
#include <functional>

namespace isitup {

void run_tracker::ring::push(const watched& w) {
  if (size == slots.size()) {  // full: double, unwrapped from head
    std::vector<watched> grown(std::max<std::size_t>(64, slots.size() * 2));
    for (std::size_t i = 0; i < size; ++i) grown[i] = slots[(head + i) & (slots.size() - 1)];
    slots.swap(grown);
    head = 0;
  }
  slots[(head + size) & (slots.size() - 1)] = w;
  ++size;
}

void run_tracker::watch(run_ctx* run, int64_t deadline_ms) {
  if (in_order_.empty() || in_order_.back().deadline_ms <= deadline_ms) {
    in_order_.push({deadline_ms, run});
    return;
  }
  out_of_order_.push_back({deadline_ms, run});
  std::push_heap(out_of_order_.begin(), out_of_order_.end(), std::greater<>());
}

bool run_tracker::earliest_in_order() const {
  if (out_of_order_.empty()) return true;
  if (in_order_.empty()) return false;
  return in_order_.front().deadline_ms <= out_of_order_.front().deadline_ms;
}

run_ctx* run_tracker::take_expired(int64_t now_ms) {
  if (in_order_.empty() && out_of_order_.empty()) return nullptr;
  if (earliest_in_order()) {
    if (in_order_.front().deadline_ms > now_ms) return nullptr;
    run_ctx* run = in_order_.front().run;
    in_order_.pop();
    return run;
  }
  if (out_of_order_.front().deadline_ms > now_ms) return nullptr;
  std::pop_heap(out_of_order_.begin(), out_of_order_.end(), std::greater<>());
  run_ctx* run = out_of_order_.back().run;
  out_of_order_.pop_back();
  return run;
}

std::optional<int64_t> run_tracker::next_deadline() const {
  if (in_order_.empty() && out_of_order_.empty()) return std::nullopt;
  return earliest_in_order() ? in_order_.front().deadline_ms : out_of_order_.front().deadline_ms;
}

void run_tracker::release_all() {
  for (; !in_order_.empty(); in_order_.pop()) in_order_.front().run->release();
  for (const watched& w : out_of_order_) w.run->release();
  out_of_order_.clear();
}

void run_tracker::started() { outstanding_.fetch_add(1, std::memory_order_relaxed); }

bool run_tracker::ended() {
  outstanding_.fetch_sub(1, std::memory_order_acq_rel);
  return wake_on_end_.load(std::memory_order_acquire);
}

void run_tracker::wake_on_end() { wake_on_end_.store(true, std::memory_order_release); }

int run_tracker::outstanding() const { return outstanding_.load(std::memory_order_acquire); }

}  // namespace isitup
