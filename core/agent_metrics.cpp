// GET /metrics: the agent's counters in the Prometheus text format (metrics_text.hpp).
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

#include <isitup/core/completion_tickets.hpp>
#include "agent_http.hpp"

namespace isitup {
namespace {

void process_metrics(prom_writer& w) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces), from field 3 on.
  const auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(text.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(in),
                               std::istream_iterator<std::string>()};
    if (f.size() > 21) {
      w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
      w.sample("process_cpu_seconds_total", (std::stod(f[11]) + std::stod(f[12])) / ticks);
      w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size.");
      w.sample("process_virtual_memory_bytes", std::stod(f[20]));
      w.family("process_resident_memory_bytes", "gauge", "Resident memory size.");
      w.sample("process_resident_memory_bytes", std::stod(f[21]) * page);
      std::ifstream boot("/proc/stat");
      std::string key;
      double btime = 0;
      while (boot >> key)
        if (key == "btime" && boot >> btime) break;
      if (btime > 0) {
        w.family("process_start_time_seconds", "gauge", "Start time since the epoch.");
        w.sample("process_start_time_seconds", btime + std::stod(f[19]) / ticks);
      }
    }
  }
  double fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): readdir on a stream only this call uses is safe
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++fds;
    closedir(d);
    w.family("process_open_fds", "gauge", "Open file descriptors.");
    w.sample("process_open_fds", fds - 1);  // not the one reading the directory
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    w.family("process_max_fds", "gauge", "Limit of open file descriptors.");
    w.sample("process_max_fds", static_cast<double>(limit.rlim_cur));
  }
}

double seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

http_reply agent_http::metrics() {
  prom_writer w;
  std::vector<std::pair<std::string, const plugin_instance*>> plugins;
  {
    std::lock_guard lock(a_.http_plugins_mu);
    plugins = a_.http_plugins;
  }
  auto by_plugin = [&](const char* name, const char* help,
                       const std::atomic<uint64_t> plugin_instance::*field) {
    w.family(name, "counter", help);
    for (const auto& [plugin, p] : plugins)
      w.sample(name, {{"plugin", plugin}}, static_cast<double>((p->*field).load()));
  };
  by_plugin("isitup_runs_started_total", "Check runs handed to their plugin.",
            &plugin_instance::runs_started);
  by_plugin("isitup_runs_finished_total", "Check runs completed (by the plugin or the timeout).",
            &plugin_instance::runs_finished);
  w.family("isitup_results_total", "counter", "Results of the agent's checks, up or down.");
  for (const auto& [plugin, p] : plugins) {
    w.sample("isitup_results_total", {{"plugin", plugin}, {"result", "up"}},
             static_cast<double>(p->runs_up.load()));
    w.sample("isitup_results_total", {{"plugin", plugin}, {"result", "down"}},
             static_cast<double>(p->runs_down.load()));
  }
  w.family("isitup_runs_timed_out_total", "counter",
           "Runs the agent ended because the plugin did not report within timeout + 1 s.");
  w.sample("isitup_runs_timed_out_total", static_cast<double>(a_.ended_by_host.load()));

  scheduler_stats s;
  {
    std::lock_guard lock(a_.sched_stats_mu);
    s = a_.sched_stats;
  }
  w.family("isitup_runs_skipped_total", "counter", "Runs not started when due, by reason.");
  const std::pair<const char*, uint64_t> skipped[] = {
      {"busy", s.skipped_busy},
      {"late", s.skipped_late},
      {"max_in_flight", s.skipped_capacity},
      {"plugin_bound", a_.skipped_plugin_bound.load()},
      {"queue_full", a_.skipped_queue_full.load()},
      {"still_in_plugin", a_.skipped_in_plugin.load()}};
  for (const auto& [reason, n] : skipped)
    w.sample("isitup_runs_skipped_total", {{"reason", reason}}, static_cast<double>(n));
  w.family("isitup_scheduler_lateness_seconds", "histogram",
           "How long after its scheduled time a run was started.");
  a_.lateness.write(w, "isitup_scheduler_lateness_seconds");

  const pipeline_stats p = a_.pipe->stats();
  w.family("isitup_queue_results", "gauge", "Results held in the pipeline (reserved included).");
  w.sample("isitup_queue_results", static_cast<double>(p.held));
  w.family("isitup_queue_capacity_results", "gauge", "pipeline.queue_size.");
  w.sample("isitup_queue_capacity_results", static_cast<double>(p.capacity));
  w.family("isitup_queue_rejected_total", "counter", "Results refused because the queue was full.");
  w.sample("isitup_queue_rejected_total", static_cast<double>(p.rejected_full));

  const std::vector<sink_stats> sinks = a_.pipe->per_sink();
  auto per_sink = [&](const char* name, const char* type, const char* help, auto value) {
    w.family(name, type, help);
    for (std::size_t i = 0; i < sinks.size() && i < a_.cfg.sinks.size(); ++i)
      w.sample(name, {{"sink", a_.cfg.sinks[i].name}, {"plugin", a_.cfg.sinks[i].plugin}},
               static_cast<double>(value(sinks[i])));
  };
  per_sink("isitup_sink_delivered_results_total", "counter", "Results a sink made durable.",
           [](const sink_stats& x) { return x.delivered; });
  per_sink("isitup_sink_retries_total", "counter",
           "Batch writes a sink asked to retry or did not complete in time.",
           [](const sink_stats& x) { return x.retries; });
  per_sink("isitup_sink_lost_results_total", "counter", "Results a sink refused for good.",
           [](const sink_stats& x) { return x.lost; });
  per_sink("isitup_sink_waiting_batches", "gauge", "Batches waiting to be written to a sink.",
           [](const sink_stats& x) { return x.waiting; });

  w.family("isitup_plugin_counter_total", "counter",
           "Counters plugins keep with the host's counter_add, by instance and name.");
  auto counters = [&](const plugin_instance* inst) {
    if (!inst || !inst->ctx) return;
    for (const auto& [name, value] : inst->ctx->counters())
      w.sample("isitup_plugin_counter_total", {{"instance", inst->ctx->label}, {"name", name}},
               static_cast<double>(value));
  };
  for (const auto& [plugin, inst] : plugins) counters(inst);
  for (const auto& inst : a_.sinks) counters(inst.get());
  for (const auto& inst : a_.sources) counters(inst.get());

  if (a_.alerts) {
    const alert_stats al = a_.alerts->stats();
    w.family("isitup_alert_transitions_total", "counter", "Incident events decided.");
    w.sample("isitup_alert_transitions_total", static_cast<double>(al.transitions));
    w.family("isitup_alert_events_pending", "gauge", "(event, sink) deliveries not confirmed.");
    w.sample("isitup_alert_events_pending", static_cast<double>(al.pending));
    w.family("isitup_alert_events_refused_total", "counter",
             "(event, sink) deliveries refused for good or dropped past a bound.");
    w.sample("isitup_alert_events_refused_total", static_cast<double>(al.refused));
    w.family("isitup_alert_events_uncommitted", "gauge",
             "Events the state sink has not committed with their rows yet.");
    w.sample("isitup_alert_events_uncommitted", static_cast<double>(al.uncommitted));
    w.family("isitup_alert_events_uncommitted_dropped_total", "counter",
             "Events dropped before the state sink committed them (over 100 for one check).");
    w.sample("isitup_alert_events_uncommitted_dropped_total",
             static_cast<double>(al.uncommitted_dropped));
    w.family("isitup_alert_checks", "gauge", "Checks whose alert state is held in memory.");
    w.sample("isitup_alert_checks", static_cast<double>(al.checks));
  }

  w.family("isitup_config_reloads_total", "counter", "SIGHUP reloads, applied or refused.");
  w.sample("isitup_config_reloads_total", {{"result", "success"}},
           static_cast<double>(a_.reloads_ok.load()));
  w.sample("isitup_config_reloads_total", {{"result", "failure"}},
           static_cast<double>(a_.reloads_failed.load()));
  w.family("isitup_config_last_reload_success_timestamp_seconds", "gauge",
           "When the running config was loaded (start or last applied reload).");
  w.sample("isitup_config_last_reload_success_timestamp_seconds",
           seconds(a_.config_loaded_ms.load()));
  w.family("isitup_completions_refused_total", "counter",
           "Repeated or late completions from plugins, ignored.");
  w.sample("isitup_completions_refused_total",
           static_cast<double>(completion_tickets::instance().refused_count()));

  if (a_.http) {
    const http_stats h = a_.http->stats();
    w.family("isitup_http_requests_total", "counter", "Requests the HTTP interface answered.");
    for (const auto& [code, n] : h.answered)
      w.sample("isitup_http_requests_total", {{"code", std::to_string(code)}},
               static_cast<double>(n));
    w.family("isitup_http_connections_refused_total", "counter",
             "Connections closed unserved: busy (503), head_timeout (408), too_large (431), bad.");
    const std::pair<const char*, uint64_t> refused[] = {{"busy", h.refused_busy},
                                                        {"head_timeout", h.refused_timeout},
                                                        {"too_large", h.refused_too_large},
                                                        {"bad", h.refused_bad}};
    for (const auto& [reason, n] : refused)
      w.sample("isitup_http_connections_refused_total", {{"reason", reason}},
               static_cast<double>(n));
  }
  const auto rings = a_.history.rings();
  w.family("isitup_checks", "gauge", "Checks the agent runs.");
  w.sample("isitup_checks", static_cast<double>(rings.size()));
  if (a_.cfg.http.per_check_metrics) per_check_metrics(w, rings);
  process_metrics(w);
  return {200, "text/plain; version=0.0.4; charset=utf-8", w.text()};
}

void agent_http::per_check_metrics(prom_writer& w,
                                   const std::vector<std::shared_ptr<check_ring>>& rings) {
  const std::size_t limit = std::min(rings.size(), a_.cfg.http.per_check_metrics_limit);
  std::vector<std::pair<std::string, history_result>> last;
  last.reserve(limit);
  for (std::size_t i = 0; i < limit; ++i)
    if (auto r = rings[i]->last()) last.emplace_back(rings[i]->name(), *r);
  w.family("isitup_per_check_metrics_omitted", "gauge",
           "Checks without per-check series: beyond agent.http.per_check_metrics_limit.");
  w.sample("isitup_per_check_metrics_omitted", static_cast<double>(rings.size() - limit));
  w.family("isitup_check_up", "gauge", "1 when the check's last result was up, else 0.");
  for (const auto& [name, r] : last) w.sample("isitup_check_up", {{"check", name}}, r.up);
  w.family("isitup_check_duration_seconds", "gauge", "The last result's time, by phase.");
  for (const auto& [name, r] : last) {
    const std::pair<const char*, float> phases[] = {{"dns", r.dns_ms},
                                                    {"connect", r.connect_ms},
                                                    {"tls", r.tls_ms},
                                                    {"ttfb", r.ttfb_ms},
                                                    {"total", r.total_ms}};
    for (const auto& [phase, ms] : phases)
      if (ms >= 0)
        w.sample("isitup_check_duration_seconds", {{"check", name}, {"phase", phase}},
                 std::round(static_cast<double>(ms) * 1000) / 1e6);  // to the microsecond
  }
}

}  // namespace isitup
