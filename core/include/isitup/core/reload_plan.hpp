// What a SIGHUP reload changes: the checks of a freshly loaded config against the running
// ones, matched by name. Pure (no plugins, no scheduler), so the agent only applies the plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <isitup/core/config.hpp>

namespace isitup {

struct reload_plan {
  std::vector<uint32_t> retire;  // running ids to stop: removed from the config, or changed
  std::vector<std::size_t> add;  // indexes into the new config's checks to start: new or changed
  std::size_t unchanged = 0, changed = 0, added = 0, removed = 0;
};

// `running[id]` is the config of running check `id`, or nullptr for an id already retired.
// A check is unchanged when plugin, target, interval, timeout and options are all the same
// (where it is written in the file does not count); a changed check is retired and started
// anew (its first run at its splay phase for the new interval).
reload_plan plan_reload(const std::vector<const config::check*>& running,
                        const std::vector<config::check>& next);

bool same_check(const config::check& a, const config::check& b);

// What differs outside the checks (agent id and location, limits, pipeline, sinks, sources):
// a reload cannot apply these to a running agent. One short description each, e.g. "sinks".
std::vector<std::string> restart_only_changes(const config::agent& running,
                                              const config::agent& next);

}  // namespace isitup
