#include "run_tracker.hpp"

namespace isitup {

void run_tracker::watch(run_ctx* run, int64_t deadline_ms) { deadlines_.emplace(deadline_ms, run); }

run_ctx* run_tracker::take_expired(int64_t now_ms) {
  if (deadlines_.empty() || deadlines_.begin()->first > now_ms) return nullptr;
  run_ctx* run = deadlines_.begin()->second;
  deadlines_.erase(deadlines_.begin());
  return run;
}

std::optional<int64_t> run_tracker::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void run_tracker::release_all() {
  for (auto& [deadline, run] : deadlines_) run->release();
  deadlines_.clear();
}

void run_tracker::started() {
  std::lock_guard lock(mu_);
  ++outstanding_;
}

bool run_tracker::ended() {
  std::lock_guard lock(mu_);
  --outstanding_;
  return wake_on_end_;
}

void run_tracker::wake_on_end() {
  std::lock_guard lock(mu_);
  wake_on_end_ = true;
}

int run_tracker::outstanding() const {
  std::lock_guard lock(mu_);
  return outstanding_;
}

}  // namespace isitup
