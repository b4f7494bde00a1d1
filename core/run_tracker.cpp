#include "run_tracker.hpp"

#include <algorithm>
#include <functional>

namespace isitup {

void run_tracker::watch(run_ctx* run, int64_t deadline_ms) {
  deadlines_.push_back({deadline_ms, run});
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
}

run_ctx* run_tracker::take_expired(int64_t now_ms) {
  if (deadlines_.empty() || deadlines_.front().deadline_ms > now_ms) return nullptr;
  std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
  run_ctx* run = deadlines_.back().run;
  deadlines_.pop_back();
  return run;
}

std::optional<int64_t> run_tracker::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.front().deadline_ms;
}

void run_tracker::release_all() {
  for (const watched& w : deadlines_) w.run->release();
  deadlines_.clear();
}

void run_tracker::started() { outstanding_.fetch_add(1, std::memory_order_relaxed); }

bool run_tracker::ended() {
  outstanding_.fetch_sub(1, std::memory_order_acq_rel);
  return wake_on_end_.load(std::memory_order_acquire);
}

void run_tracker::wake_on_end() { wake_on_end_.store(true, std::memory_order_release); }

int run_tracker::outstanding() const { return outstanding_.load(std::memory_order_acquire); }

}  // namespace isitup
