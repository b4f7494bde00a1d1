// The status page's data from the agent's memory (check_history snapshots and the incidents the
// alert tracker holds). Pure: no clock, no lock; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <isitup/core/check_history.hpp>
#include <isitup/core/sink_history.hpp>
#include <isitup/core/status_model.hpp>

namespace isitup {

// One check_view per snapshot, in the given order:
// - state from the last result (unknown before the first), since the start of its run;
// - uptime over 24 h from the 48 half-hour buckets of the last 24 h, over 7 / 30 / 90 d from the
//   day buckets of the last 7 / 30 / 90 UTC days (today included);
// - 90 daily bar segments ending with today (UTC);
// - latency: p50 and p95 of the up results' total_ms per UTC half hour of the last 24 h, from the
//   results the ring still holds (a ring shorter than 24 h gives a shorter plot).
// `incidents` are passed through (the renderer sorts them).
//
// With `stored` (a sink's history, sink_history.hpp), a check the sink has buckets for takes
// its uptime windows, its 90 daily segments and its latency plot (hourly p50/p95) from them,
// plus what the ring holds from stored->asked_at_ms on (results the sink had not yet when it
// was asked); its 24 h uptime then counts the 24 UTC hours ending with this one. A check with
// no memory result takes its state from its open incident (down since it opened), else from
// the last two stored hours (down when none of their results was up; unknown without them).
// Checks the sink knows and memory does not (a writer agent's checks, run by its probes)
// follow the configured ones, by name. view.history_note says where the history came from.
status_view status_from_history(const std::vector<check_snapshot>& checks,
                                std::vector<incident_view> incidents, int64_t now_ms,
                                std::string agent, std::string location,
                                const sink_history* stored = nullptr);

}  // namespace isitup
