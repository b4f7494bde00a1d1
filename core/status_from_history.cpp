#include "status_from_history.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace isitup {

namespace {

constexpr int64_t half_hour_ms = check_ring::half_hour_ms, day_ms = check_ring::day_ms;

int64_t floor_to(int64_t t, int64_t step) { return t - ((t % step) + step) % step; }

// Up and total of the buckets that start in [from, to].
template <std::size_t n>
std::optional<double> uptime(const std::array<history_bucket, n>& buckets, int64_t from,
                             int64_t to) {
  uint64_t total = 0, up = 0;
  for (const history_bucket& b : buckets)
    if (b.total > 0 && b.start_ms >= from && b.start_ms <= to) {
      total += b.total;
      up += std::min(b.up, b.total);
    }
  if (total == 0) return std::nullopt;
  return static_cast<double>(up) / static_cast<double>(total);
}

// The value at quantile q of sorted values, interpolated between neighbours (as PostgreSQL's
// percentile_cont does, so the agent's page and isitup-report agree).
double quantile(const std::vector<float>& sorted, double q) {
  const double at = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(at));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - static_cast<double>(lo));
}

std::vector<latency_point> latency(const std::vector<history_result>& results, int64_t now_ms) {
  const int64_t start = now_ms - day_ms;
  std::vector<std::pair<int64_t, float>> times;  // (half hour, total_ms)
  for (const history_result& r : results)
    if (r.up && r.total_ms >= 0 && r.at_ms > start && r.at_ms <= now_ms)
      times.emplace_back(floor_to(r.at_ms, half_hour_ms), r.total_ms);
  std::sort(times.begin(), times.end());
  std::vector<latency_point> points;
  std::vector<float> bucket;
  for (std::size_t i = 0; i < times.size();) {
    std::size_t j = i;
    bucket.clear();
    for (; j < times.size() && times[j].first == times[i].first; ++j)
      bucket.push_back(times[j].second);
    points.push_back({times[i].first, quantile(bucket, 0.5), quantile(bucket, 0.95)});
    i = j;
  }
  return points;
}

check_view view_of(const check_snapshot& s, int64_t now_ms) {
  check_view c;
  c.name = s.info.name;
  c.plugin = s.info.plugin;
  c.target = s.info.target;
  c.group = s.info.group;
  c.interval_ms = s.info.interval_ms;
  c.state = !s.up ? status_state::unknown : *s.up ? status_state::up : status_state::down;
  c.state_since_ms = s.up ? s.state_since_ms : 0;
  if (!s.results.empty()) {
    const history_result& r = s.results.back();
    last_result_view last;
    last.at_ms = r.at_ms;
    last.up = r.up;
    last.error_kind.assign(r.error_kind, strnlen(r.error_kind, sizeof r.error_kind));
    if (!r.up) last.error_message = s.last_error_message;
    if (r.total_ms >= 0) last.total_ms = r.total_ms;
    if (r.http_code != 0) last.http_code = r.http_code;
    c.last = std::move(last);
  }
  const int64_t this_half = floor_to(now_ms, half_hour_ms), today = floor_to(now_ms, day_ms);
  c.uptime.h24 = uptime(s.half_hours, this_half - 47 * half_hour_ms, this_half);
  c.uptime.d7 = uptime(s.days, today - 6 * day_ms, today);
  c.uptime.d30 = uptime(s.days, today - 29 * day_ms, today);
  c.uptime.d90 = uptime(s.days, today - 89 * day_ms, today);
  const auto days = static_cast<int64_t>(s.days.size());
  for (int64_t d = days - 1; d >= 0; --d) {
    status_segment seg{today - d * day_ms, today - (d - 1) * day_ms, 0, 0};
    // The ring's slot of a day, as check_ring::add places it.
    const history_bucket& b =
        s.days[static_cast<std::size_t>(((seg.start_ms / day_ms) % days + days) % days)];
    if (b.start_ms == seg.start_ms) {
      seg.total = b.total;
      seg.up = b.up;
    }
    c.segments.push_back(seg);
  }
  c.latency = latency(s.results, now_ms);
  return c;
}

}  // namespace

status_view status_from_history(const std::vector<check_snapshot>& checks,
                                std::vector<incident_view> incidents, int64_t now_ms,
                                std::string agent, std::string location) {
  status_view v;
  v.generated_at_ms = now_ms;
  v.agent = std::move(agent);
  v.location = std::move(location);
  v.checks.reserve(checks.size());
  for (const check_snapshot& s : checks) v.checks.push_back(view_of(s, now_ms));
  v.incidents = std::move(incidents);
  return v;
}

}  // namespace isitup
