#include "agent_http.hpp"

#include <chrono>
#include <memory>
#include <string>

#include <isitup/core/status_from_history.hpp>
#include <isitup/core/status_page.hpp>

namespace isitup {
namespace {

// The main loop beats at least once a second while the listener runs (agent::run): three
// missed beats mean it is stuck.
constexpr int64_t heartbeat_stale_ms = 3000;

http_reply text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

}  // namespace

http_reply agent_http::healthz() {
  const int64_t beat = a_.heartbeat_ms.load(std::memory_order_relaxed);
  const int64_t age = a_.clock.now_ms() - beat;
  if (beat == 0 || age > heartbeat_stale_ms)
    return text(503, "stalled: the main loop last ran " + std::to_string(age) + " ms ago");
  return text(200, "ok");
}

http_reply agent_http::readyz() {
  if (!a_.serving.load()) return text(503, "not ready: starting or stopping");
  const std::vector<sink_stats> sinks = a_.pipe->per_sink();
  std::string waiting;
  for (std::size_t i = 0; i < sinks.size() && i < a_.sinks.size(); ++i)
    if (!sinks[i].accepting) waiting += (waiting.empty() ? "" : ", ") + a_.cfg.sinks[i].name;
  if (!waiting.empty()) return text(503, "not ready: sinks retrying their last batch: " + waiting);
  std::string unassigned;  // a writer also has its partitions
  for (const auto& s : a_.sources)
    if (s->assignment.load() == 0) unassigned += (unassigned.empty() ? "" : ", ") + s->ctx->label;
  if (!unassigned.empty())
    return text(503, "not ready: no partition assignment yet for source " + unassigned);
  const pipeline_stats p = a_.pipe->stats();
  if (p.held >= p.capacity) return text(503, "not ready: the result queue is full");
  return text(200, "ready");
}

}  // namespace isitup

namespace isitup {

namespace {

// Each read_history call may take this long; a page waits for both, plus a margin, before it
// shows memory only.
constexpr int64_t history_timeout_ms = 1500;
constexpr auto history_wait = std::chrono::milliseconds(2 * history_timeout_ms + 500);

}  // namespace

agent_http::agent_http(agent::impl& a) : a_(a) {
  for (std::size_t i = 0; i < a_.sinks.size() && i < a_.cfg.sinks.size(); ++i) {
    const plugin_instance& s = *a_.sinks[i];
    if (!s.instance || !s.loaded->answers_history() || s.loaded->is_notifier()) continue;
    history_sink_ = a_.cfg.sinks[i].name;
    const isitup_sink_ops_v1* ops = s.loaded->sink_ops();
    void* instance = s.instance;
    history_ = std::make_unique<sink_history_cache>(
        [ops, instance, name = history_sink_](int64_t now_ms) {
          return read_sink_history(*ops, instance, name, now_ms, history_timeout_ms);
        },
        [&clock = a_.clock] { return clock.now_ms(); });
    break;
  }
}

agent_http::~agent_http() = default;

http_reply agent_http::status_page() {
  std::vector<check_snapshot> checks;
  for (const auto& ring : a_.history.rings()) checks.push_back(ring->snapshot());
  std::vector<incident_view> incidents;
  if (a_.alerts) {
    auto all = a_.alerts->open_incidents();
    for (auto& i : a_.alerts->recently_resolved()) all.push_back(std::move(i));
    for (auto& i : all)
      incidents.push_back({std::move(i.id), std::move(i.check), std::move(i.error_kind),
                           std::move(i.error_message), i.opened_at_ms, i.resolved_at_ms,
                           std::move(i.locations)});
  }
  std::shared_ptr<const sink_history> stored;
  if (history_) stored = history_->get(history_wait);
  status_view view = status_from_history(checks, std::move(incidents), a_.clock.now_ms(), a_.cfg.id,
                                         a_.cfg.location, stored.get());
  if (history_ && !stored)
    view.history_note = "History from sink " + history_sink_ + " not read yet; memory only.";
  return {200, "text/html; charset=utf-8", render_status_page(view)};
}

}  // namespace isitup
