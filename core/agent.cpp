#include "agent.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <string>
#include <thread>

#include <isitup/core/codec.hpp>
#include <isitup/core/completion_tickets.hpp>
#include <isitup/core/timer_wheel.hpp>
#include "agent_http.hpp"
#include "agent_impl.hpp"

namespace isitup {
namespace {

constexpr int64_t grace_ms = 1000;             // past a run's timeout before the host ends it
constexpr int64_t status_interval_ms = 60000;  // how often the status line is logged
constexpr int max_replacement_threads = 256;   // threads started in place of stuck ones

}  // namespace

void agent::impl::fire(uint32_t id, int64_t scheduled_ms) {
  check_state& c = *checks[id];
  const isitup_check_ops_v1* ops = c.plugin->loaded->check_ops();
  auto* run = new run_ctx;
  run->owner = this;
  run->check = id;
  run->cstate = &c;
  run->scheduled_ms = scheduled_ms;
  run->blocking = (ops->flags & ISITUP_CHECK_BLOCKING) != 0;
  c.plugin_runs.fetch_add(1, std::memory_order_relaxed);
  c.plugin->in_flight.fetch_add(1, std::memory_order_relaxed);
  c.plugin->runs_started.fetch_add(1, std::memory_order_relaxed);
  runs.started();
  run->ticket = completion_tickets::instance().issue(run, c.plugin->owner);
  if (!run->ticket) {  // millions of runs a plugin never completed
    run->state = run_state::completed;
    record r;
    r.error_kind = "internal";
    r.error_message = "not started: too many runs are still waiting for their plugin";
    complete(*run, std::move(r));
    c.plugin_runs.fetch_sub(1, std::memory_order_release);
    delete run;
    return;
  }
  const int64_t deadline = clock.now_ms() + c.cfg.timeout_ms + grace_ms;
  runs.watch(run, deadline);
  if (run->blocking) {
    run->refs = run_ctx::refs_blocking;
    run->gate = gate;
    c.entered_ms.store(0, std::memory_order_relaxed);
    c.in_plugin.store(true, std::memory_order_release);
    pool->post([this, run] { run_blocking(*run); });
    return;
  }
  run->started_ms = clock.now_ms();
  const isitup_run_v1 info{sizeof(isitup_run_v1), run->scheduled_ms, c.cfg.timeout_ms};
  ops->start(c.plugin->instance, c.handle, &info, &impl::on_done, run->ticket);
}

void agent::impl::run_blocking(run_ctx& run) {
  check_state& c = *run.cstate;
  if (abandon_queued.load() && abandon(run)) {
    c.in_plugin.store(false, std::memory_order_release);
  } else {
    const int64_t now = clock.now_ms();
    run.started_ms = now;
    c.entered_ms.store(now, std::memory_order_relaxed);
    const isitup_run_v1 info{sizeof(isitup_run_v1), run.scheduled_ms, c.cfg.timeout_ms};
    c.plugin->loaded->check_ops()->start(c.plugin->instance, c.handle, &info, &impl::on_done,
                                         run.ticket);
    const std::shared_ptr<run_gate> g = run.gate;
    std::lock_guard lock(g->mu);
    if (g->gone) {  // shutdown gave up on this run: the agent may be gone, touch nothing
      run.release();
      return;
    }
    if (completion_tickets::instance().redeem(run.ticket).state) {
      if (run.end(run_state::completed)) {
        record r;
        r.error_kind = "internal";
        r.error_message = "the plugin's start() returned without calling done";
        complete(run, std::move(r));
      }
      run.release();  // the plugin's reference
    }
    if (std::exchange(run.replaced, false)) pool->stuck_returned();
    c.entered_ms.store(0, std::memory_order_relaxed);
    c.in_plugin.store(false, std::memory_order_release);
  }
  c.plugin_runs.fetch_sub(1, std::memory_order_release);  // check may go now
  // The worker's reference (run_ctx::refs_blocking): the releases above were the plugin's.
  run.release();  // NOLINT(clang-analyzer-cplusplus.NewDelete): refs keeps `run` alive to here
}

bool agent::impl::abandon(run_ctx& run) {
  if (!run.end(run_state::ended_by_host)) return false;
  abandoned.fetch_add(1, std::memory_order_relaxed);
  pipe->cancel_reservation();
  run.cstate->plugin->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (sched) sched->finished(run.check);
  run_ended();
  if (completion_tickets::instance().redeem(run.ticket).state) run.release();  // never handed out
  return true;
}

void agent::impl::on_done(void* ticket, const isitup_record_v1* result) {
  completion_tickets& tickets = completion_tickets::instance();
  const completion_tickets::redeemed got = tickets.redeem(ticket);
  if (!got.state) {  // called twice, or after the watchdog ended the run: run may be gone
    tickets.refused(got);
    return;
  }
  auto* run = static_cast<run_ctx*>(got.state);
  std::unique_lock<std::mutex> lock;
  if (run->blocking) {
    lock = std::unique_lock(run->gate->mu);
    if (run->gate->gone) {
      lock.unlock();
      run->release();
      return;
    }
  }
  auto* self = static_cast<impl*>(run->owner);
  if (run->end(run_state::completed)) {
    if (result) {
      self->complete(*run, record::from(*result));
    } else {
      record r;
      r.error_kind = "internal";
      r.error_message = "the plugin completed the run without a result";
      self->complete(*run, std::move(r));
    }
  }
  if (!run->blocking) run->cstate->plugin_runs.fetch_sub(1, std::memory_order_release);
  if (lock.owns_lock()) lock.unlock();
  run->release();
}

void agent::impl::complete(const run_ctx& run, record r) {
  check_state& c = *run.cstate;
  const int64_t started = run.started_ms.load();
  auto set_identity = [&](record& x) {
    x.agent = cfg.id;
    x.location = cfg.location;
    x.check = c.cfg.name;
    x.plugin = c.cfg.plugin;
    x.target = c.cfg.shown_target;
    x.scheduled_at_ms = run.scheduled_ms;
    x.started_at_ms = started ? started : clock.now_ms();
  };
  set_identity(r);
  if (r.up) {
    r.error_kind.clear();
    r.error_message.clear();
  } else if (r.error_kind.empty()) {
    r.error_kind = "internal";
    if (r.error_message.empty()) r.error_message = "the check reported down without a reason";
  }
  if (std::string why; !codec::validate(r, why)) {
    c.plugin->ctx->add("invalid_results", 1);
    r = record{};
    set_identity(r);
    r.error_kind = "internal";
    r.error_message = "the plugin returned an invalid result: " + why;
  }
  (r.up ? up : down).fetch_add(1, std::memory_order_relaxed);
  c.plugin->runs_finished.fetch_add(1, std::memory_order_relaxed);
  (r.up ? c.plugin->runs_up : c.plugin->runs_down).fetch_add(1, std::memory_order_relaxed);
  if (c.history) c.history->add(r);
  if (alerts && c.cfg.alert.enabled) alerts->observe(r, c.alert_ref);
  pipe->push_reserved(std::move(r));
  c.plugin->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (sched) sched->finished(run.check);
  run_ended();
}

void agent::impl::run_watchdog(int64_t now) {
  while (run_ctx* run = runs.take_expired(now)) {
    if (run->state.load() == run_state::running && run->started_ms.load() == 0) {
      // Still waiting for a worker thread: its timeout has not begun.
      runs.watch(run, now + run->cstate->cfg.timeout_ms + grace_ms);
      continue;
    }
    if (run->end(run_state::ended_by_host)) {
      ended_by_host.fetch_add(1, std::memory_order_relaxed);
      record r;
      r.error_kind = "timeout";
      r.error_message = "no result within the timeout (+1 s); the plugin did not report";
      complete(*run, std::move(r));
      // The plugin's completion is void from now on: a late call is refused and counted.
      if (completion_tickets::instance().redeem(run->ticket).state) run->release();
      if (run->blocking) note_stuck(*run, now);
    }
    run->release();
  }
}

void agent::impl::note_stuck(run_ctx& run, int64_t now) {
  const check_state& c = *run.cstate;
  std::lock_guard lock(gate->mu);
  if (!c.in_plugin.load(std::memory_order_acquire)) return;  // came back just now
  run.replaced = pool->replace_stuck(max_replacement_threads);
  spdlog::warn(
      "check '{}' ({}): start() has not returned {} ms after it was called; its worker thread "
      "stays stuck there{}, and the check is not started again until it returns",
      c.cfg.name, c.cfg.plugin, now - run.started_ms.load(),
      run.replaced ? " (another thread takes its place)"
                   : " (no thread takes its place: " + std::to_string(max_replacement_threads) +
                         " already replace stuck ones)");
}

void agent::impl::wait_until(int64_t until_ms) {
  const int64_t now = clock.now_ms();
  if (until_ms <= now) return;
  std::unique_lock lock(mu);
  if (stop_requested || reload_requested || catalog_wake) return;
  cv.wait_for(lock, std::chrono::milliseconds(until_ms - now));
}

bool agent::impl::stopping() {
  std::lock_guard lock(mu);
  return stop_requested;
}

void agent::impl::run_ended() {
  if (!runs.ended()) return;
  { std::lock_guard lock(mu); }  // a waiter between its look and its wait sees the count
  cv.notify_all();
}

int64_t agent::impl::max_timeout() const {
  int64_t t = 0;
  for (const auto& c : checks)
    if (c) t = std::max(t, c->cfg.timeout_ms);
  for (const auto& c : retired) t = std::max(t, c->cfg.timeout_ms);
  return t;
}

void agent::impl::start_services() {
  ensure_pool();
  try {
    std::map<std::string, alert_settings> per_check;
    for (const auto& c : checks)
      if (c) per_check.emplace(c->cfg.name, c->cfg.alert);
    alerts = std::make_unique<alert_tracker>(cfg, std::move(per_check), event_sinks, state_sink);
  } catch (const std::runtime_error& e) {
    throw config::config_error(
        config::location{cfg.file, 0, 0},
        (state_sink ? "sink '" + state_sink->name + "': " : std::string("agent.state_dir: ")) +
            e.what());
  }
  if (state_sink)
    pipe->set_state_binding(
        state_binding{state_sink_index, [a = alerts.get()](const std::vector<record>& records) {
                        return a->make_batch_state(records);
                      }});
  alerts->start();
  pipe->start();
  char err[1024];
  for (auto& s : sources) {
    err[0] = '\0';
    if (s->loaded->source_ops()->start(s->instance, err, sizeof err) != ISITUP_OK)
      throw config::config_error(config::location{cfg.file, 0, 0},
                                 "source '" + s->loaded->name() + "' failed to start: " + err);
  }
}

void agent::impl::publish_checks() {
  if (!cfg.http.enabled) return;
  std::vector<std::shared_ptr<check_ring>> rings;
  rings.reserve(checks.size());
  for (const auto& c : checks)
    if (c && c->history) rings.push_back(c->history);
  history.publish(std::move(rings));
  std::lock_guard lock(http_plugins_mu);
  http_plugins.clear();
  for (const auto& [name, p] : check_plugins) http_plugins.emplace_back(name, p.get());
}

void agent::impl::start_http() {
  if (!cfg.http.enabled) return;
  http_svc = std::make_unique<agent_http>(*this);
  http = std::make_unique<http_server>(cfg.http, *http_svc);
  try {
    http->start();
  } catch (const std::runtime_error& e) {
    throw config::config_error(cfg.http.where, std::string("agent.http.listen: ") + e.what());
  }
}

std::vector<const check_state*> agent::impl::stuck_checks(int64_t now) const {
  std::vector<const check_state*> out;
  auto look = [&](const check_state* c) {
    if (!c || !c->in_plugin.load(std::memory_order_acquire)) return;
    const int64_t entered = c->entered_ms.load(std::memory_order_relaxed);
    if (entered != 0 && now >= entered + c->cfg.timeout_ms + grace_ms) out.push_back(c);
  };
  for (const auto& c : checks) look(c.get());
  for (const auto& c : retired) look(c.get());
  return out;
}

bool agent::impl::give_up_stuck_runs() {
  // Blocking starts still running: each gets until its own timeout + grace.
  std::vector<const check_state*> inside;
  for (const auto& c : checks)
    if (c && c->in_plugin.load()) inside.push_back(c.get());
  for (const auto& c : retired)
    if (c->in_plugin.load()) inside.push_back(c.get());
  for (;;) {
    const int64_t now = clock.now_ms();
    const bool waiting = std::any_of(inside.begin(), inside.end(), [&](const check_state* c) {
      const int64_t entered = c->entered_ms.load(std::memory_order_relaxed);
      return c->in_plugin.load() && entered != 0 && now < entered + c->cfg.timeout_ms + grace_ms;
    });
    if (!waiting) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string names;
  std::size_t stuck = 0;
  {
    std::lock_guard lock(gate->mu);
    for (const check_state* c : inside) {
      if (!c->in_plugin.load() || c->entered_ms.load() == 0) continue;
      if (++stuck <= 20) names += (names.empty() ? "'" : ", '") + c->cfg.name + "'";
    }
    if (stuck == 0) return false;
    gate->gone = true;  // from here on, a thread coming back from the plugin touches nothing
  }
  if (stuck > 20) names += " and " + std::to_string(stuck - 20) + " more";
  spdlog::warn(
      "shutdown: {} checks abandoned, their plugin's start() did not return within timeout + "
      "1 s: {} (their worker threads are left behind)",
      stuck, names);
  return true;
}

bool agent::impl::shut_down() {
  runs.wake_on_end();
  const int64_t until = clock.now_ms() + max_timeout() + grace_ms + 100;
  while (runs.outstanding() > 0 && clock.now_ms() < until) {
    run_watchdog(clock.now_ms());
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(50));
  }
  abandon_queued = true;
  const bool gave_up = give_up_stuck_runs();
  if (pool) {
    // Runs in progress finish (their timeouts have passed); queued ones abandon.
    const int left = pool->stop(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (left > 0 && !gave_up) {
      std::lock_guard lock(gate->mu);
      gate->gone = true;
    }
  }
  if (abandoned.load() > 0)
    spdlog::warn("shutdown: {} runs still waiting for a worker thread were not started",
                 abandoned.load());
  for (auto& s : sources) s->loaded->source_ops()->stop(s->instance);
  const auto drain_started = std::chrono::steady_clock::now();
  const bool delivered = pipe->drain(std::chrono::milliseconds(cfg.shutdown_timeout_ms));
  pipe->stop();
  if (alerts) {
    const auto left = std::chrono::milliseconds(cfg.shutdown_timeout_ms) -
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - drain_started);
    if (!alerts->stop(std::max(left, std::chrono::milliseconds(100))))
      spdlog::warn(
          "shutdown: some events were not delivered yet; they are sent again at the "
          "next start (with agent.state_dir)");
  }
  runs.release_all();
  return delivered;
}

std::string agent::impl::plugin_counters() const {
  std::string out;
  auto add = [&](const plugin_instance* p) {
    if (!p || !p->ctx) return;
    const std::string text = p->ctx->counters_text();
    if (!text.empty())
      out += (out.empty() ? "; counters: " : "; ") + p->ctx->label + " {" + text + "}";
  };
  for (const auto& [name, p] : check_plugins) add(p.get());
  for (const auto& p : sinks) add(p.get());
  for (const auto& p : sources) add(p.get());
  return out;
}

void agent::impl::log_status() {
  const pipeline_stats p = pipe->stats();
  const scheduler_stats s = sched ? sched->stats() : scheduler_stats{};
  spdlog::info(
      "status: {} runs ({} up, {} down, {} ended by timeout); skipped {} busy, {} late, {} at "
      "max_in_flight, {} at a plugin's bound, {} queue full, {} previous run still inside the "
      "plugin; {} workers stuck in a plugin; queue {}/{}; delivered {}, lost {}, sink retries "
      "{} ({} timed out, {} late completions ignored); {} repeated completions ignored{}",
      s.fired, up.load(), down.load(), ended_by_host.load(), s.skipped_busy, s.skipped_late,
      s.skipped_capacity, skipped_plugin_bound.load(), skipped_queue_full.load(),
      skipped_in_plugin.load(), stuck_checks(clock.now_ms()).size(), p.held, p.capacity,
      p.delivered, p.lost, p.retries, p.timed_out, p.late,
      completion_tickets::instance().refused_count(), plugin_counters());
  if (!alerts) return;
  const alert_stats a = alerts->stats();
  if (a.transitions > 0 || a.pending > 0)
    spdlog::info("alerts: {} transitions; events: {} delivered, {} waiting, {} retries, {} refused",
                 a.transitions, a.delivered, a.pending, a.retries, a.refused);
}

bool agent::impl::plugin_has_room(uint32_t id) const {
  const plugin_instance& p = *checks[id]->plugin;
  return p.in_flight.load(std::memory_order_relaxed) < p.max_in_flight;
}

agent::agent(config::agent cfg, plugin_host& plugins)
    : impl_(std::make_unique<impl>(std::move(cfg), plugins)) {
  impl_->set_up();
}

agent::~agent() = default;

void agent::request_reload() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->reload_requested = true;
  }
  impl_->cv.notify_all();
}

void agent::request_stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

run_summary agent::run_once() {
  impl& a = *impl_;
  a.runs.wake_on_end();
  a.start_services();
  std::size_t next = 0;
  while (next < a.checks.size() && !a.stopping()) {
    const int64_t now = a.clock.now_ms();
    a.run_watchdog(now);
    if (a.runs.outstanding() < a.cfg.max_in_flight &&
        a.plugin_has_room(static_cast<uint32_t>(next)) && a.pipe->try_reserve()) {
      a.fire(static_cast<uint32_t>(next++), now);
      continue;
    }
    a.wait_until(std::min(now + 50, a.runs.next_deadline().value_or(now + 50)));
  }
  run_summary out;
  out.delivered = a.shut_down();
  out.up = a.up.load();
  out.down = a.down.load();
  return out;
}

run_summary agent::run() {
  impl& a = *impl_;
  a.sched = std::make_unique<scheduler>(make_timer_wheel(a.clock.now_ms()), a.cfg.max_in_flight);
  const int64_t start = a.clock.now_ms();
  if (a.catalog) a.start_catalog();
  for (const auto& c : a.checks) a.sched->add(c->cfg.name, c->cfg.interval_ms, start);
  a.start_services();
  a.heartbeat_ms = a.clock.now_ms();
  a.started_ms = a.config_loaded_ms = a.heartbeat_ms.load();
  a.start_http();
  a.serving = true;
  spdlog::info("agent '{}' running {} checks, {} sinks, {} sources{}", a.cfg.id, a.checks.size(),
               a.sinks.size(), a.sources.size(), a.catalog ? "; checks come from the catalog" : "");
  int64_t next_status = start + status_interval_ms;
  const scheduler::fire_fn fire = [&a](uint32_t id, int64_t scheduled) {
    a.lateness.observe_ms(a.clock.now_ms() - scheduled);
    if (a.checks[id]->in_plugin.load(std::memory_order_acquire)) {
      a.skipped_in_plugin.fetch_add(1, std::memory_order_relaxed);
      a.sched->finished(id);
      return;
    }
    if (!a.plugin_has_room(id)) {
      a.skipped_plugin_bound.fetch_add(1, std::memory_order_relaxed);
      a.sched->finished(id);
      return;
    }
    if (!a.pipe->try_reserve()) {
      a.skipped_queue_full.fetch_add(1, std::memory_order_relaxed);
      a.sched->finished(id);
      return;
    }
    a.fire(id, scheduled);
  };
  // Catalog mode: the main loop woke stall.stalled_ms later than it meant to (the process was
  // stopped or frozen), so the catalog's group may have given its partitions to others: no
  // check is started for stall.hold_ms, while the plugin reports that.
  const catalog_feed::stall_limits stall = a.catalog_stall_limits();
  int64_t meant_to_wake = start, hold_until = 0;
  while (!a.stopping()) {
    const int64_t now = a.clock.now_ms();
    a.heartbeat_ms.store(now, std::memory_order_relaxed);
    if (a.feed && now - meant_to_wake > stall.stalled_ms) {
      hold_until = now + stall.hold_ms;
      spdlog::warn(
          "this agent did not run for {} ms (stopped or frozen); checks start again in {} ms, "
          "when the catalog has said whether the group gave its partitions to others",
          now - meant_to_wake, stall.hold_ms);
    }
    if (a.take_reload_request()) a.reload();
    if (a.feed) a.catalog_step(now);
    if (now >= hold_until) a.sched->run_due(now, fire);
    a.run_watchdog(now);
    a.release_retired();
    if (a.http) {
      std::lock_guard lock(a.sched_stats_mu);
      a.sched_stats = a.sched->stats();
    }
    if (now >= next_status) {
      a.log_status();
      next_status += status_interval_ms;
    }
    int64_t wake = next_status;
    if (auto d = a.sched->next_due()) wake = std::min(wake, std::max(*d, hold_until));
    if (auto w = a.runs.next_deadline()) wake = std::min(wake, *w);
    if (a.http) wake = std::min(wake, now + 1000);  // the heartbeat /healthz reads
    if (a.feed)
      if (auto c = a.feed->next_due()) wake = std::min(wake, *c);
    meant_to_wake = std::max(wake, now);
    a.wait_until(wake);
  }
  a.serving = false;
  if (a.feed) a.stop_catalog();
  spdlog::info("stopping: waiting for {} runs in flight, then flushing sinks",
               a.runs.outstanding());
  run_summary out;
  out.delivered = a.shut_down();
  if (a.http) a.http->stop();
  out.up = a.up.load();
  out.down = a.down.load();
  a.log_status();
  return out;
}

}  // namespace isitup
