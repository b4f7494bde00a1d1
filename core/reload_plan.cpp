#include <isitup/core/reload_plan.hpp>

#include <unordered_map>

namespace isitup {

bool same_check(const config::check& a, const config::check& b) {
  return a.name == b.name && a.plugin == b.plugin && a.target == b.target &&
         a.interval_ms == b.interval_ms && a.timeout_ms == b.timeout_ms &&
         config::same_options(a.options, b.options) && a.alert == b.alert && a.group == b.group;
}

reload_plan plan_reload(const std::vector<const config::check*>& running,
                        const std::vector<config::check>& next) {
  std::unordered_map<std::string_view, uint32_t> by_name;
  by_name.reserve(running.size());
  for (uint32_t id = 0; id < running.size(); ++id)
    if (running[id] != nullptr) by_name.emplace(running[id]->name, id);

  reload_plan plan;
  for (std::size_t i = 0; i < next.size(); ++i) {
    auto found = by_name.find(next[i].name);
    if (found == by_name.end()) {
      plan.add.push_back(i);
      ++plan.added;
      continue;
    }
    const uint32_t id = found->second;
    by_name.erase(found);
    if (same_check(*running[id], next[i])) {
      ++plan.unchanged;
      continue;
    }
    plan.retire.push_back(id);
    plan.add.push_back(i);
    ++plan.changed;
  }
  for (const auto& [name, id] : by_name) {
    plan.retire.push_back(id);
    ++plan.removed;
  }
  return plan;
}

namespace {

bool same_sections(const std::vector<config::plugin_section>& a,
                   const std::vector<config::plugin_section>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].plugin != b[i].plugin || a[i].name != b[i].name ||
        !config::same_options(a[i].options, b[i].options))
      return false;
  return true;
}

}  // namespace

std::vector<std::string> restart_only_changes(const config::agent& running,
                                              const config::agent& next) {
  std::vector<std::string> out;
  if (running.id != next.id) out.emplace_back("agent.id");
  if (running.location != next.location) out.emplace_back("agent.location");
  if (running.max_in_flight != next.max_in_flight) out.emplace_back("agent.max_in_flight");
  if (running.max_in_flight_per_plugin != next.max_in_flight_per_plugin)
    out.emplace_back("agent.max_in_flight_per_plugin");
  if (running.queue_size != next.queue_size || running.batch_size != next.batch_size ||
      running.batch_delay_ms != next.batch_delay_ms ||
      running.shutdown_timeout_ms != next.shutdown_timeout_ms ||
      running.sink_timeout_ms != next.sink_timeout_ms)
    out.emplace_back("pipeline");
  if (!same_sections(running.sinks, next.sinks)) out.emplace_back("sinks");
  if (!same_sections(running.sources, next.sources)) out.emplace_back("sources");
  // Configured checks take their new alert settings; defaults.alert also applies to the
  // checks a source feeds, which only a restart changes.
  if (running.alert != next.alert) out.emplace_back("defaults.alert (for checks a source feeds)");
  if (running.state_dir != next.state_dir) out.emplace_back("agent.state_dir");
  if (!(running.http == next.http)) out.emplace_back("agent.http");
  return out;
}

}  // namespace isitup
