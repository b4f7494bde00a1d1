// The data a status page shows: plain values, no behaviour. Filled by a builder (the agent's
// in-memory history, or isitup-report from PostgreSQL) and rendered by render_status_page().
// Every string may come from a config, a server or a plugin and is hostile: the renderer
// escapes it, builders only have to bound its length. Times are Unix epoch milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace isitup {

enum class status_state { unknown, up, down };

// One segment of the uptime bar: the results whose scheduled time is in [start_ms, end_ms).
// total == 0 means no data (drawn grey).
struct status_segment {
  int64_t start_ms = 0, end_ms = 0;
  uint32_t total = 0, up = 0;
};

// One point of the latency plot: percentiles of total_ms over the results of the bucket that
// starts at at_ms (a bucket without a measured total_ms has no point).
struct latency_point {
  int64_t at_ms = 0;
  double p50_ms = 0, p95_ms = 0;
};

// Uptime per window as a fraction of up results in [0, 1]; nullopt = no result in the window.
struct uptime_windows {
  std::optional<double> h24, d7, d30, d90;
};

// The newest result of a check.
struct last_result_view {
  int64_t at_ms = 0;  // scheduled time
  bool up = false;
  std::string error_kind, error_message;  // empty when up
  std::optional<double> total_ms;
  std::optional<int32_t> http_code;
};

// An incident: open while resolved_at_ms == 0. `cause` is the error_kind/error_message that
// opened it.
struct incident_view {
  std::string id, check, error_kind, error_message;
  int64_t opened_at_ms = 0, resolved_at_ms = 0;
  std::vector<std::string> locations;  // where it failed; empty = the agent's own
};

struct check_view {
  std::string name, plugin, target;  // target with any userinfo already redacted
  std::string group;                 // empty = no group
  int64_t interval_ms = 0;
  status_state state = status_state::unknown;
  int64_t state_since_ms = 0;  // 0 = unknown
  std::optional<last_result_view> last;
  uptime_windows uptime;
  std::vector<status_segment> segments;  // oldest first: 90 daily or 48 half-hourly
  std::vector<latency_point> latency;    // oldest first, the last 24 h
};

struct status_view {
  int64_t generated_at_ms = 0;
  std::string title;            // empty = "isitup status"
  std::string agent, location;  // shown in the footer when not empty
  int refresh_seconds = 0;      // > 0: the browser reloads the page this often (no script)
  std::vector<check_view> checks;
  std::vector<incident_view> incidents;  // open ones and recent resolved ones, any order
  std::string history_note;  // where the history came from (shown in the footer), or empty
};

}  // namespace isitup
