#include <isitup/core/status_from_history.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include <isitup/core/status_page_text.hpp>

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

constexpr int64_t hour_ms = sink_history::hour_ms;

// Up and total per UTC day and hour, from the sink plus the ring's results it had not yet.
struct merged_counts {
  std::map<int64_t, std::pair<uint64_t, uint64_t>> days, hours;  // start -> (total, up)

  void add(std::map<int64_t, std::pair<uint64_t, uint64_t>>& m, int64_t start, uint64_t total,
           uint64_t up) {
    auto& [t, u] = m[start];
    t += total;
    u += std::min(up, total);
  }
  std::optional<double> uptime(const std::map<int64_t, std::pair<uint64_t, uint64_t>>& m,
                               int64_t from, int64_t to) const {
    uint64_t total = 0, up = 0;
    for (auto it = m.lower_bound(from); it != m.end() && it->first <= to; ++it) {
      total += it->second.first;
      up += it->second.second;
    }
    if (total == 0) return std::nullopt;
    return static_cast<double>(up) / static_cast<double>(total);
  }
};

// The state of a check memory has no result for: its open incident, else the last two hours.
void state_from_stored(check_view& c, const stored_check& s, const incident_view* open,
                       int64_t this_hour, int64_t first_hour) {
  if (open) {
    c.state = status_state::down;
    c.state_since_ms = open->opened_at_ms;
    return;
  }
  uint64_t total = 0, up = 0;
  for (const stored_bucket& b : s.hours)
    if (b.results > 0 && b.start_ms >= this_hour - hour_ms && b.start_ms <= this_hour &&
        b.start_ms >= first_hour) {
      total += b.results;
      up += b.up;
    }
  if (total > 0) c.state = up > 0 ? status_state::up : status_state::down;
}

void apply_stored(check_view& c, const check_snapshot* mem, const stored_check& s,
                  const sink_history& h, const incident_view* open, int64_t now_ms) {
  const int64_t today = floor_to(now_ms, day_ms), this_hour = floor_to(now_ms, hour_ms);
  merged_counts m;
  for (const stored_bucket& b : s.days)
    if (b.results > 0) m.add(m.days, b.start_ms, b.results, b.up);
  for (const stored_bucket& b : s.hours)
    if (b.results > 0) m.add(m.hours, b.start_ms, b.results, b.up);
  if (mem)
    for (const history_result& r : mem->results)
      if (r.at_ms >= h.asked_at_ms && r.at_ms <= now_ms) {
        m.add(m.days, floor_to(r.at_ms, day_ms), 1, r.up ? 1 : 0);
        m.add(m.hours, floor_to(r.at_ms, hour_ms), 1, r.up ? 1 : 0);
      }
  c.uptime.h24 = m.uptime(m.hours, this_hour - 23 * hour_ms, this_hour);
  c.uptime.d7 = m.uptime(m.days, today - 6 * day_ms, today);
  c.uptime.d30 = m.uptime(m.days, today - 29 * day_ms, today);
  c.uptime.d90 = m.uptime(m.days, today - 89 * day_ms, today);
  c.segments.clear();
  for (int64_t d = 89; d >= 0; --d) {
    status_segment seg{today - d * day_ms, today - (d - 1) * day_ms, 0, 0};
    if (auto it = m.days.find(seg.start_ms); it != m.days.end()) {
      seg.total = static_cast<uint32_t>(std::min<uint64_t>(it->second.first, UINT32_MAX));
      seg.up = static_cast<uint32_t>(std::min<uint64_t>(it->second.second, seg.total));
    }
    c.segments.push_back(seg);
  }
  // Hourly points from the sink, then the ring's half hours after the last of them.
  std::vector<latency_point> points;
  for (const stored_bucket& b : s.hours)
    if (b.results > 0 && b.p50_ms >= 0 && b.p95_ms >= 0)
      points.push_back({b.start_ms, b.p50_ms, b.p95_ms});
  const int64_t after = points.empty() ? INT64_MIN : points.back().at_ms + hour_ms;
  for (const latency_point& p : c.latency)
    if (p.at_ms >= after) points.push_back(p);
  c.latency = std::move(points);
  if (c.state == status_state::unknown) state_from_stored(c, s, open, this_hour, h.first_hour_ms);
}

std::string history_note(const sink_history& h, std::size_t used) {
  if (!h.ok) return "History from sink " + h.sink + " unavailable (" + h.error + "); memory only.";
  std::string note = "History of " + std::to_string(used) + (used == 1 ? " check" : " checks") +
                     " from sink " + h.sink + ", read " + status_text::utc(h.asked_at_ms) + ".";
  if (h.dropped > 0) note += " " + std::to_string(h.dropped) + " buckets refused.";
  return note;
}

}  // namespace

status_view status_from_history(const std::vector<check_snapshot>& checks,
                                std::vector<incident_view> incidents, int64_t now_ms,
                                std::string agent, std::string location,
                                const sink_history* stored) {
  status_view v;
  v.generated_at_ms = now_ms;
  v.agent = std::move(agent);
  v.location = std::move(location);
  v.checks.reserve(checks.size());
  for (const check_snapshot& s : checks) v.checks.push_back(view_of(s, now_ms));
  v.incidents = std::move(incidents);
  if (!stored) return v;
  std::map<std::string_view, const incident_view*> open;
  for (const incident_view& i : v.incidents)
    if (i.resolved_at_ms == 0) {
      const incident_view*& slot = open[i.check];
      if (!slot || slot->opened_at_ms < i.opened_at_ms) slot = &i;
    }
  const auto open_of = [&](const std::string& name) -> const incident_view* {
    const auto it = open.find(name);
    return it == open.end() ? nullptr : it->second;
  };
  std::set<std::string_view> shown;
  std::size_t used = 0;
  for (std::size_t i = 0; i < v.checks.size(); ++i) {
    shown.insert(checks[i].info.name);
    const auto it = stored->checks.find(checks[i].info.name);
    if (it == stored->checks.end()) continue;
    apply_stored(v.checks[i], &checks[i], it->second, *stored, open_of(checks[i].info.name),
                 now_ms);
    ++used;
  }
  for (const auto& [name, s] : stored->checks) {
    if (shown.count(name)) continue;
    check_view c;
    c.name = name;
    apply_stored(c, nullptr, s, *stored, open_of(name), now_ms);
    v.checks.push_back(std::move(c));
    ++used;
  }
  v.history_note = history_note(*stored, used);
  return v;
}

}  // namespace isitup
