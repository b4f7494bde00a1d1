// The latency plot's geometry (internal to isitup_status_page). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <isitup/core/status_model.hpp>

namespace isitup::status_plot {

constexpr int64_t window_ms = 86'400'000;  // the plot shows the last 24 h

// The valid points of [now - 24 h, now], oldest first. With bucket_ms > 0, one point per
// bucket (aligned to now - 24 h, drawn at its middle): the mean of the p50s, the highest p95.
std::vector<latency_point> last_day(const std::vector<latency_point>& points, int64_t now_ms,
                                    int64_t bucket_ms);

// SVG path data for one line: x from 0 to `width` over the 24 h, y from y0 + height (0 ms) up
// to y0 (top_ms), in integers with relative commands; a gap longer than gap_ms starts a new
// subpath, a lone point is a dot.
std::string path(const std::vector<latency_point>& points, double latency_point::*field,
                 int64_t now_ms, int width, int y0, int height, double top_ms, int64_t gap_ms);

}  // namespace isitup::status_plot
