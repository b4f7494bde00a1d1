#include "status_plot.hpp"

#include <algorithm>
#include <cmath>

namespace isitup::status_plot {

std::vector<latency_point> last_day(const std::vector<latency_point>& points, int64_t now_ms,
                                    int64_t bucket_ms) {
  const int64_t start = now_ms - window_ms;
  std::vector<latency_point> shown;
  for (const latency_point& p : points)
    if (p.at_ms >= start && p.at_ms <= now_ms && std::isfinite(p.p50_ms) &&
        std::isfinite(p.p95_ms) && p.p50_ms >= 0 && p.p95_ms >= 0)
      shown.push_back(p);
  std::stable_sort(shown.begin(), shown.end(), [](const latency_point& a, const latency_point& b) {
    return a.at_ms < b.at_ms;
  });
  if (bucket_ms <= 0) return shown;
  std::vector<latency_point> merged;
  std::size_t in_bucket = 0;
  for (const latency_point& p : shown) {
    const int64_t at = start + (p.at_ms - start) / bucket_ms * bucket_ms + bucket_ms / 2;
    if (merged.empty() || merged.back().at_ms != at) {
      if (!merged.empty()) merged.back().p50_ms /= static_cast<double>(in_bucket);
      merged.push_back({at, 0, 0});
      in_bucket = 0;
    }
    merged.back().p50_ms += p.p50_ms;
    merged.back().p95_ms = std::max(merged.back().p95_ms, p.p95_ms);
    ++in_bucket;
  }
  if (!merged.empty()) merged.back().p50_ms /= static_cast<double>(in_bucket);
  return merged;
}

std::string path(const std::vector<latency_point>& points, double latency_point::*field,
                 int64_t now_ms, int width, int y0, int height, double top_ms, int64_t gap_ms) {
  const int64_t start = now_ms - window_ms;
  if (!(top_ms > 0)) top_ms = 1;
  std::string d;
  int64_t px = 0, py = 0, pat = 0;
  bool first = true, lone = false;
  for (const latency_point& p : points) {
    const int64_t x = (p.at_ms - start) * width / window_ms;
    const int64_t y = y0 + height - std::llround(std::min(p.*field / top_ms, 1.0) * height);
    if (first || p.at_ms - pat > gap_ms) {
      if (lone) d += "0 0";
      d += "M" + std::to_string(x) + " " + std::to_string(y) + "l";
      lone = true;
    } else {
      if (!lone) d += ' ';
      d += std::to_string(x - px);
      if (y - py >= 0) d += ' ';
      d += std::to_string(y - py);
      lone = false;
    }
    first = false;
    px = x;
    py = y;
    pat = p.at_ms;
  }
  if (lone) d += "0 0";
  return d;
}

}  // namespace isitup::status_plot
