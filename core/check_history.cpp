#include <isitup/core/check_history.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace isitup {

namespace {

float ms_or_absent(double v) { return std::isfinite(v) && v >= 0 ? static_cast<float>(v) : -1; }

void count(history_bucket& b, int64_t start, bool up) {
  if (b.start_ms != start) b = history_bucket{start, 0, 0};
  ++b.total;
  if (up) ++b.up;
}

int64_t floor_to(int64_t t, int64_t step) { return t - ((t % step) + step) % step; }

}  // namespace

check_ring::check_ring(check_info info, std::size_t capacity)
    : name_(info.name), info_(std::move(info)), ring_(std::max<std::size_t>(capacity, 1)) {}

void check_ring::add(const record& r) {
  history_result h;
  h.at_ms = r.scheduled_at_ms;
  h.up = r.up;
  h.http_code = r.http_code == ISITUP_ABSENT_INT ? 0 : r.http_code;
  h.total_ms = ms_or_absent(r.total_ms);
  h.dns_ms = ms_or_absent(r.dns_ms);
  h.connect_ms = ms_or_absent(r.connect_ms);
  h.tls_ms = ms_or_absent(r.tls_ms);
  h.ttfb_ms = ms_or_absent(r.ttfb_ms);
  std::memcpy(h.error_kind, r.error_kind.data(),
              std::min(r.error_kind.size(), sizeof h.error_kind - 1));
  const int64_t half = floor_to(h.at_ms, half_hour_ms);
  const int64_t day = floor_to(h.at_ms, day_ms);
  const auto slot = [](int64_t start, int64_t step, std::size_t n) {
    return static_cast<std::size_t>(((start / step) % static_cast<int64_t>(n) + n) % n);
  };
  std::lock_guard lock(mu_);
  ring_[next_] = h;
  next_ = (next_ + 1) % ring_.size();
  ++total_;
  if (!up_ || *up_ != r.up) since_ms_ = h.at_ms;
  up_ = r.up;
  if (!r.up) last_error_.assign(r.error_message, 0, 256);
  count(half_hours_[slot(half, half_hour_ms, half_hours_.size())], half, r.up);
  count(days_[slot(day, day_ms, days_.size())], day, r.up);
}

void check_ring::set_info(check_info info) {
  std::lock_guard lock(mu_);
  info_ = std::move(info);
}

check_snapshot check_ring::snapshot(std::size_t last) const {
  check_snapshot s;
  std::lock_guard lock(mu_);
  s.info = info_;
  s.capacity = ring_.size();
  s.total = total_;
  s.up = up_;
  s.state_since_ms = since_ms_;
  s.last_error_message = last_error_;
  s.half_hours = half_hours_;
  s.days = days_;
  const std::size_t held = std::min<uint64_t>(total_, ring_.size());
  const std::size_t n = std::min(held, last);
  s.results.reserve(n);
  for (std::size_t i = n; i > 0; --i)
    s.results.push_back(ring_[(next_ + ring_.size() - i) % ring_.size()]);
  return s;
}

std::optional<history_result> check_ring::last() const {
  std::lock_guard lock(mu_);
  if (total_ == 0) return std::nullopt;
  return ring_[(next_ + ring_.size() - 1) % ring_.size()];
}

std::shared_ptr<check_ring> check_history::ring_for(const check_info& info, std::size_t checks) {
  std::lock_guard lock(mu_);
  if (auto found = by_name_.find(info.name); found != by_name_.end()) {
    found->second->set_info(info);
    return found->second;
  }
  const std::size_t capacity =
      std::clamp<std::size_t>(total_budget / std::max<std::size_t>(checks, 1), 16, 1024);
  auto ring = std::make_shared<check_ring>(info, capacity);
  by_name_.emplace(info.name, ring);
  return ring;
}

void check_history::publish(std::vector<std::shared_ptr<check_ring>> rings) {
  std::map<std::string, std::shared_ptr<check_ring>, std::less<>> names;
  for (const auto& r : rings) names.emplace(r->name(), r);
  std::lock_guard lock(mu_);
  order_ = std::move(rings);
  by_name_ = std::move(names);
}

std::vector<std::shared_ptr<check_ring>> check_history::rings() const {
  std::lock_guard lock(mu_);
  return order_;
}

std::shared_ptr<check_ring> check_history::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  const auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : found->second;
}

}  // namespace isitup
