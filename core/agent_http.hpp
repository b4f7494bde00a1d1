// What the agent's HTTP interface serves (http_server.hpp): health, readiness, metrics, the
// checks API and the status page, read from the running agent. Internal to core.
//
// Threads: every method runs on the listener's worker threads, several at once, while the
// agent runs; it reads only atomics, the published check list and thread-safe stats.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <isitup/core/http_server.hpp>
#include <isitup/core/sink_history.hpp>
#include "agent_impl.hpp"

namespace isitup {

class agent_http final : public http_service {
 public:
  // Finds the first sink that answers history (ISITUP_SINK_HISTORY) for the status page.
  explicit agent_http(agent::impl& a);
  ~agent_http() override;  // waits for a history read in progress (the sink's timeout)
  http_reply healthz() override;
  http_reply readyz() override;
  http_reply metrics() override;
  http_reply checks() override;
  http_reply check(const std::string& name, const std::string& last) override;
  http_reply status_page() override;

 private:
  std::map<std::string, open_incident> incidents_by_check() const;
  void per_check_metrics(prom_writer& w, const std::vector<std::shared_ptr<check_ring>>& rings);
  agent::impl& a_;
  // The history sink's reads for `/`: one at a time on the cache's thread, at most every 30 s.
  std::string history_sink_;
  std::unique_ptr<sink_history_cache> history_;
};

}  // namespace isitup
