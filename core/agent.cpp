#include "agent.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>

#include "codec.hpp"
#include "host_services.hpp"
#include "pipeline.hpp"
#include "reload_plan.hpp"
#include "scheduler.hpp"
#include "timer_wheel.hpp"
#include "worker_pool.hpp"

namespace isitup {
namespace {

constexpr int64_t grace_ms = 1000;              // past a run's timeout before the host ends it
constexpr int64_t status_interval_ms = 60000;   // how often the status line is logged
constexpr int64_t progress_interval_ms = 5000;  // progress of a long set-up

struct plugin_instance {
  std::shared_ptr<loaded_plugin> plugin;
  std::unique_ptr<isitup_host_ctx> ctx;
  std::unique_ptr<isitup_options> options;
  void* instance = nullptr;
  // Check plugins: agent.max_in_flight_per_plugin, and the runs counted against it (from
  // fire() until the run completes or the watchdog ends it, like max_in_flight).
  int max_in_flight = INT_MAX;
  std::atomic<int> in_flight{0};
};

struct check_state {
  config::check cfg;
  plugin_instance* plugin = nullptr;  // the check plugin's instance
  std::unique_ptr<isitup_options> options;
  void* handle = nullptr;  // the plugin's prepared check
  // Runs handed to the plugin (or queued for a worker) that it has not returned yet. A check
  // retired by a reload is released only once this is 0 (release() wants no run in flight).
  std::atomic<int> plugin_runs{0};
};

// One run of one check, shared by the plugin (until it calls done) and the watchdog.
struct run_ctx {
  void* owner;  // agent::impl
  uint32_t check = 0;
  check_state* cstate = nullptr;  // alive while the run is: see check_state::plugin_runs
  int64_t scheduled_ms = 0;
  std::atomic<int64_t> started_ms{0};  // 0 until the plugin is called (blocking: queued)
  std::atomic<int> state{0};  // 0 running, 1 completed by the plugin, 2 ended by the watchdog
  std::atomic<int> refs{2};
  void release() {
    if (refs.fetch_sub(1) == 1) delete this;
  }
};

}  // namespace

struct agent::impl {
  config::agent cfg;
  plugin_host& host;
  monotonic_clock clock;

  std::map<std::string, std::unique_ptr<plugin_instance>> check_plugins;
  // Indexed by scheduler id (ids are dense and never reused); null once a reload retired it.
  // Scheduler thread only: runs reach their check through run_ctx::state.
  std::vector<std::unique_ptr<check_state>> checks;
  std::vector<std::unique_ptr<check_state>> retired;  // removed by a reload, runs still out
  std::vector<std::unique_ptr<plugin_instance>> sinks;
  std::vector<std::unique_ptr<plugin_instance>> sources;
  std::map<const std::vector<option_schema>*, std::shared_ptr<const option_values>>
      defaults_by_schema;

  std::unique_ptr<pipeline> pipe;
  std::unique_ptr<scheduler> sched;
  std::unique_ptr<worker_pool> pool;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool reload_requested = false;
  // Whether a thread waits for runs to end (run_once, shut_down): only then does a completion
  // wake it. While run() schedules, a futex wake per completion would be pure cost.
  bool wake_on_run_end = false;
  int outstanding = 0;  // runs started and not yet completed or ended by the watchdog
  std::multimap<int64_t, run_ctx*> watchdog;  // deadline -> run; scheduler thread only

  std::atomic<uint64_t> up{0}, down{0}, skipped_queue_full{0}, skipped_plugin_bound{0},
      ended_by_host{0}, abandoned{0};
  std::atomic<bool> abandon_queued{false};

  impl(config::agent c, plugin_host& h) : cfg(std::move(c)), host(h) {}

  // ------------------------------------------------------------------ set-up

  std::shared_ptr<loaded_plugin> load(const std::string& name, const config::location& where) {
    try {
      return host.load(name);
    } catch (const plugin_error& e) {
      throw config::config_error(where, std::string("plugin '") + name + "': " + e.what());
    }
  }

  static void require_kind(const loaded_plugin& p, uint32_t kind, const char* what,
                           const config::location& where) {
    if (p.kinds() & kind) return;
    throw config::config_error(where, "plugin '" + p.name() + "' is not a " + what +
                                          " plugin (it provides: " + kinds_to_string(p.kinds()) +
                                          ")");
  }

  // The given options of one section, plus the schema's defaults, computed once per schema
  // and shared by every section that uses it.
  std::unique_ptr<isitup_options> options_for(const config::raw_options& raw,
                                              const std::vector<option_schema>& schema,
                                              const std::string& section) {
    auto o = std::make_unique<isitup_options>();
    o->values = config::validate_given_options(raw, schema, section);
    auto& defaults = defaults_by_schema[&schema];
    if (!defaults)
      defaults = std::make_shared<const option_values>(
          config::default_options(schema, section, raw.where()));
    o->defaults = defaults;
    return o;
  }

  void set_up() {
    set_up_sinks();
    set_up_checks();
    set_up_sources();
  }

  void set_up_checks() {
    checks.reserve(cfg.checks.size());
    // A big config takes a while: say how far it is every few seconds.
    int64_t next_progress = clock.now_ms() + progress_interval_ms;
    for (auto& c : cfg.checks) {
      checks.push_back(prepare_check(std::move(c)));
      if (checks.size() % 1024 == 0 && clock.now_ms() >= next_progress) {
        spdlog::info("preparing checks: {} of {}", checks.size(), cfg.checks.size());
        next_progress = clock.now_ms() + progress_interval_ms;
      }
    }
    cfg.checks = {};  // moved into checks: one copy of each check's config, not two
    for (const auto& [name, bound] : cfg.max_in_flight_per_plugin)
      if (!check_plugins.contains(name))
        spdlog::warn("{}: agent.max_in_flight_per_plugin names '{}', which no check uses", cfg.file,
                     name);
  }

  // Loads the check's plugin (once per plugin), validates its options and has the plugin
  // prepare it. Throws config_error at the check's line. Main thread.
  std::unique_ptr<check_state> prepare_check(config::check c) {
    char err[1024];
    auto s = std::make_unique<check_state>();
    s->cfg = std::move(c);
    const config::check& cc = s->cfg;
    plugin_instance* inst = check_plugin(cc.plugin, cc.where);
    s->plugin = inst;
    s->options = options_for(cc.options, inst->plugin->check_schema(),
                             "check '" + cc.name + "' (" + cc.plugin + ") options");
    const isitup_check_spec_v1 spec{sizeof(isitup_check_spec_v1),
                                    cc.name.c_str(),
                                    cc.target.c_str(),
                                    cc.interval_ms,
                                    cc.timeout_ms,
                                    s->options.get()};
    err[0] = '\0';
    if (inst->plugin->check_ops()->prepare(inst->instance, &spec, &s->handle, err, sizeof err) !=
        ISITUP_OK)
      throw config::config_error(cc.where, "check '" + cc.name + "' (" + cc.plugin + "): " + err);
    if (cc.timeout_ms > cc.interval_ms)
      spdlog::warn("{}:{}: check '{}' has a timeout longer than its interval", cc.where.file,
                   cc.where.line, cc.name);
    return s;
  }

  // The instance of check plugin `name`, loaded and created on first use.
  plugin_instance* check_plugin(const std::string& name, const config::location& where) {
    auto found = check_plugins.find(name);
    if (found != check_plugins.end()) return found->second.get();
    auto p = load(name, where);
    require_kind(*p, ISITUP_KIND_CHECK, "check", where);
    auto inst = std::make_unique<plugin_instance>();
    inst->plugin = p;
    inst->ctx = std::make_unique<isitup_host_ctx>(name);
    if (auto bound = cfg.max_in_flight_per_plugin.find(name);
        bound != cfg.max_in_flight_per_plugin.end())
      inst->max_in_flight = bound->second;
    char err[1024] = "";
    if (p->check_ops()->create(host_table(), inst->ctx.get(), &inst->instance, err, sizeof err) !=
        ISITUP_OK)
      throw config::config_error(where, "plugin '" + name + "' failed to start: " + err);
    return check_plugins.emplace(name, std::move(inst)).first->second.get();
  }

  void release_check(check_state& c) {
    if (c.handle) c.plugin->plugin->check_ops()->release(c.plugin->instance, c.handle);
    c.handle = nullptr;
  }

  void set_up_sinks() {
    char err[1024];
    std::vector<sink_binding> bindings;
    for (std::size_t i = 0; i < cfg.sinks.size(); ++i) {
      const config::plugin_section& sec = cfg.sinks[i];
      auto inst = std::make_unique<plugin_instance>();
      inst->plugin = load(sec.plugin, sec.where);
      require_kind(*inst->plugin, ISITUP_KIND_SINK, "sink", sec.where);
      inst->ctx = std::make_unique<isitup_host_ctx>(sec.plugin + ".sink" + std::to_string(i));
      inst->options = options_for(sec.options, inst->plugin->sink_schema(),
                                  "sinks[" + std::to_string(i) + "] (" + sec.plugin + ") options");
      err[0] = '\0';
      if (inst->plugin->sink_ops()->create(host_table(), inst->ctx.get(), inst->options.get(),
                                           &inst->instance, err, sizeof err) != ISITUP_OK)
        throw config::config_error(sec.where, "sink '" + sec.plugin + "': " + err);
      bindings.push_back(sink_binding{inst->plugin->sink_ops(), inst->instance, inst->ctx.get()});
      sinks.push_back(std::move(inst));
    }
    pipe = std::make_unique<pipeline>(
        pipeline_options{cfg.queue_size, cfg.batch_size, cfg.batch_delay_ms}, std::move(bindings));
  }

  void set_up_sources() {
    char err[1024];
    for (std::size_t i = 0; i < cfg.sources.size(); ++i) {
      const config::plugin_section& sec = cfg.sources[i];
      auto inst = std::make_unique<plugin_instance>();
      inst->plugin = load(sec.plugin, sec.where);
      require_kind(*inst->plugin, ISITUP_KIND_SOURCE, "source", sec.where);
      inst->ctx = std::make_unique<isitup_host_ctx>(sec.plugin + ".source" + std::to_string(i));
      inst->options =
          options_for(sec.options, inst->plugin->source_schema(),
                      "sources[" + std::to_string(i) + "] (" + sec.plugin + ") options");
      err[0] = '\0';
      if (inst->plugin->source_ops()->create(host_table(), inst->ctx.get(), inst->options.get(),
                                             &inst->instance, err, sizeof err) != ISITUP_OK)
        throw config::config_error(sec.where, "source '" + sec.plugin + "': " + err);
      const isitup_source_ops_v1* ops = inst->plugin->source_ops();
      void* instance = inst->instance;
      isitup_host_ctx* ctx = inst->ctx.get();
      inst->ctx->submit = [this, ops, instance, ctx](const isitup_record_v1* const* records,
                                                     size_t count, uint64_t token) -> uint32_t {
        if (!pipe->may_fit(count)) return ISITUP_RETRY;  // before copying and validating
        std::vector<record> batch;
        batch.reserve(count);
        for (size_t k = 0; k < count; ++k) {
          record r = record::from(*records[k]);
          std::string why;
          if (!codec::validate(r, why)) {
            ctx->add("invalid_records", 1);
            spdlog::warn("[{}] dropped an invalid record from the source: {}", ctx->label, why);
            continue;
          }
          batch.push_back(std::move(r));
        }
        auto ack = [ops, instance, token](uint32_t st) { ops->ack(instance, token, st); };
        if (batch.empty()) {
          ack(ISITUP_OK);
          return ISITUP_OK;
        }
        return pipe->try_submit(std::move(batch), ack) ? ISITUP_OK : ISITUP_RETRY;
      };
      sources.push_back(std::move(inst));
    }
  }

  // ------------------------------------------------------------------ runs

  void fire(uint32_t id, int64_t scheduled_ms) {
    check_state& c = *checks[id];
    auto* run = new run_ctx{this, id, &c, scheduled_ms, {0}, {0}, {2}};
    c.plugin_runs.fetch_add(1, std::memory_order_relaxed);
    c.plugin->in_flight.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mu);
      ++outstanding;
    }
    const int64_t deadline = clock.now_ms() + c.cfg.timeout_ms + grace_ms;
    watchdog.emplace(deadline, run);
    const isitup_check_ops_v1* ops = c.plugin->plugin->check_ops();
    auto start = [this, run, ops, &c] {
      if (abandon_queued.load() && abandon(*run)) return;
      run->started_ms = clock.now_ms();
      const isitup_run_v1 info{sizeof(isitup_run_v1), run->scheduled_ms, c.cfg.timeout_ms};
      ops->start(c.plugin->instance, c.handle, &info, &impl::on_done, run);
    };
    if (ops->flags & ISITUP_CHECK_BLOCKING)
      pool->post(std::move(start));
    else
      start();
  }

  // A blocking run still queued for a worker at shutdown: it never started, so it yields no
  // result; its queue slot is given back. True when the run was abandoned here.
  bool abandon(run_ctx& run) {
    int expected = 0;
    if (!run.state.compare_exchange_strong(expected, 2)) return false;
    abandoned.fetch_add(1, std::memory_order_relaxed);
    pipe->cancel_reservation();
    run.cstate->plugin->in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (sched) sched->finished(run.check);
    if (run_ended()) cv.notify_all();
    run.cstate->plugin_runs.fetch_sub(1, std::memory_order_release);
    run.release();
    return true;
  }

  static void on_done(void* ctx, const isitup_record_v1* result) {
    auto* run = static_cast<run_ctx*>(ctx);
    check_state* check = run->cstate;
    int expected = 0;
    if (run->state.compare_exchange_strong(expected, 1))
      static_cast<impl*>(run->owner)->complete(*run, record::from(*result));
    check->plugin_runs.fetch_sub(1, std::memory_order_release);  // check may go now
    run->release();
  }

  void complete(const run_ctx& run, record r) {
    const check_state& c = *run.cstate;
    const int64_t started = run.started_ms.load();
    auto set_identity = [&](record& x) {
      x.agent = cfg.id;
      x.location = cfg.location;
      x.check = c.cfg.name;
      x.plugin = c.cfg.plugin;
      x.target = c.cfg.target;
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
    pipe->push_reserved(std::move(r));
    c.plugin->in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (sched) sched->finished(run.check);
    if (run_ended()) cv.notify_all();
  }

  // Ends runs past their deadline with a timeout result. Scheduler thread.
  void run_watchdog(int64_t now) {
    while (!watchdog.empty() && watchdog.begin()->first <= now) {
      run_ctx* run = watchdog.begin()->second;
      watchdog.erase(watchdog.begin());
      if (run->state.load() == 0 && run->started_ms.load() == 0) {
        // Still waiting for a worker thread: its timeout has not begun.
        watchdog.emplace(now + run->cstate->cfg.timeout_ms + grace_ms, run);
        continue;
      }
      int expected = 0;
      if (run->state.compare_exchange_strong(expected, 2)) {
        ended_by_host.fetch_add(1, std::memory_order_relaxed);
        record r;
        r.error_kind = "timeout";
        r.error_message = "no result within the timeout (+1 s); the plugin did not report";
        complete(*run, std::move(r));
      }
      run->release();
    }
  }

  void release_watchdog() {
    for (auto& [deadline, run] : watchdog) run->release();
    watchdog.clear();
  }

  std::optional<int64_t> next_watchdog() const {
    if (watchdog.empty()) return std::nullopt;
    return watchdog.begin()->first;
  }

  // Waits until notified or `until_ms` on the agent clock.
  void wait_until(int64_t until_ms) {
    const int64_t now = clock.now_ms();
    if (until_ms <= now) return;
    std::unique_lock lock(mu);
    if (stop_requested || reload_requested) return;
    cv.wait_for(lock, std::chrono::milliseconds(until_ms - now));
  }

  bool stopping() {
    std::lock_guard lock(mu);
    return stop_requested;
  }
  // Counts a run out; true when someone is waiting for that.
  bool run_ended() {
    std::lock_guard lock(mu);
    --outstanding;
    return wake_on_run_end;
  }
  void wake_on_run_ends() {
    std::lock_guard lock(mu);
    wake_on_run_end = true;
  }
  int outstanding_runs() {
    std::lock_guard lock(mu);
    return outstanding;
  }

  int64_t max_timeout() const {
    int64_t t = 0;
    for (const auto& c : checks)
      if (c) t = std::max(t, c->cfg.timeout_ms);
    for (const auto& c : retired) t = std::max(t, c->cfg.timeout_ms);
    return t;
  }

  // ------------------------------------------------------------------ reload (SIGHUP)

  bool take_reload_request() {
    std::lock_guard lock(mu);
    return std::exchange(reload_requested, false);
  }

  // Re-reads the config file and applies its checks: unchanged ones keep their schedule,
  // removed ones stop (runs in flight still deliver), changed and new ones start at their
  // phase. All or nothing: a config error, or a check its plugin refuses, leaves everything
  // as it was. Sinks, sources and agent settings need a restart (said, not applied).
  // Scheduler (main) thread.
  void reload() {
    config::agent next;
    try {
      next = config::load_file(cfg.file);
    } catch (const config::config_error& e) {
      spdlog::error("reload refused, the running configuration stays: {}", e.what());
      return;
    }
    for (const std::string& what : restart_only_changes(cfg, next))
      spdlog::warn("reload: {} changed in {}; that takes a restart and is not applied", what,
                   cfg.file);
    std::vector<const config::check*> running;
    running.reserve(checks.size());
    for (const auto& c : checks) running.push_back(c ? &c->cfg : nullptr);
    const reload_plan plan = plan_reload(running, next.checks);

    std::vector<std::unique_ptr<check_state>> fresh;
    try {
      for (std::size_t i : plan.add) fresh.push_back(prepare_check(std::move(next.checks[i])));
    } catch (const config::config_error& e) {
      for (auto& c : fresh) release_check(*c);
      spdlog::error("reload refused, the running configuration stays: {}", e.what());
      return;
    }
    for (uint32_t id : plan.retire) {
      sched->remove(id);
      retired.push_back(std::move(checks[id]));
    }
    const int64_t now = clock.now_ms();
    for (auto& c : fresh) {
      const uint32_t id = sched->add(c->cfg.name, c->cfg.interval_ms, now);
      if (id != checks.size()) throw std::logic_error("reload: scheduler ids out of step");
      checks.push_back(std::move(c));
    }
    ensure_pool();
    release_retired();
    spdlog::info("reload: {} checks ({} unchanged, {} changed, {} added, {} removed)",
                 plan.unchanged + plan.changed + plan.added, plan.unchanged, plan.changed,
                 plan.added, plan.removed);
  }

  // Releases retired checks whose runs have all come back from their plugin.
  void release_retired() {
    std::erase_if(retired, [this](std::unique_ptr<check_state>& c) {
      if (c->plugin_runs.load(std::memory_order_acquire) != 0) return false;
      release_check(*c);
      return true;
    });
  }

  // The worker pool for blocking plugins, created once the first one is in use.
  void ensure_pool() {
    if (pool) return;
    for (auto& [name, inst] : check_plugins)
      if (inst->plugin->check_ops()->flags & ISITUP_CHECK_BLOCKING) {
        pool = std::make_unique<worker_pool>(std::min(cfg.max_in_flight, 64));
        return;
      }
  }

  void start_services() {
    ensure_pool();
    pipe->start();
    char err[1024];
    for (auto& s : sources) {
      err[0] = '\0';
      if (s->plugin->source_ops()->start(s->instance, err, sizeof err) != ISITUP_OK)
        throw config::config_error(config::location{cfg.file, 0, 0},
                                   "source '" + s->plugin->name() + "' failed to start: " + err);
    }
  }

  // Waits for runs in flight (their timeout + grace at most), then delivers everything.
  bool shut_down() {
    wake_on_run_ends();
    const int64_t until = clock.now_ms() + max_timeout() + grace_ms + 100;
    while (outstanding_runs() > 0 && clock.now_ms() < until) {
      run_watchdog(clock.now_ms());
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    abandon_queued = true;
    pool.reset();  // runs in progress finish (their timeouts have passed); queued ones abandon
    if (abandoned.load() > 0)
      spdlog::warn("shutdown: {} runs still waiting for a worker thread were not started",
                   abandoned.load());
    for (auto& s : sources) s->plugin->source_ops()->stop(s->instance);
    const bool delivered = pipe->drain(std::chrono::milliseconds(cfg.shutdown_timeout_ms));
    pipe->stop();
    release_watchdog();
    return delivered;
  }

  void log_status() {
    const pipeline_stats p = pipe->stats();
    const scheduler_stats s = sched ? sched->stats() : scheduler_stats{};
    spdlog::info(
        "status: {} runs ({} up, {} down, {} ended by timeout); skipped {} busy, {} late, {} at "
        "max_in_flight, {} at a plugin's bound, {} queue full; queue {}/{}; delivered {}, lost "
        "{}, sink retries {}",
        s.fired, up.load(), down.load(), ended_by_host.load(), s.skipped_busy, s.skipped_late,
        s.skipped_capacity, skipped_plugin_bound.load(), skipped_queue_full.load(), p.held,
        p.capacity, p.delivered, p.lost, p.retries);
  }

  // Whether check `id`'s plugin is below its agent.max_in_flight_per_plugin. Scheduler thread
  // (the only one that adds to in_flight, so the answer holds until fire()).
  bool plugin_has_room(uint32_t id) const {
    const plugin_instance& p = *checks[id]->plugin;
    return p.in_flight.load(std::memory_order_relaxed) < p.max_in_flight;
  }

  ~impl() {
    release_watchdog();
    for (auto& c : checks)
      if (c) release_check(*c);
    for (auto& c : retired) release_check(*c);
    for (auto& [name, inst] : check_plugins)
      if (inst->instance) inst->plugin->check_ops()->destroy(inst->instance);
    for (auto& s : sources)
      if (s->instance) s->plugin->source_ops()->destroy(s->instance);
    // Sinks go before the pipeline: a sink may still complete a write while it is destroyed
    // (after a drain that timed out), and its completion lands in the pipeline.
    for (auto& s : sinks)
      if (s->instance) s->plugin->sink_ops()->destroy(s->instance);
    pipe.reset();
  }
};

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
  a.wake_on_run_ends();
  a.start_services();
  std::size_t next = 0;
  while (next < a.checks.size() && !a.stopping()) {
    const int64_t now = a.clock.now_ms();
    a.run_watchdog(now);
    if (a.outstanding_runs() < a.cfg.max_in_flight &&
        a.plugin_has_room(static_cast<uint32_t>(next)) && a.pipe->try_reserve()) {
      a.fire(static_cast<uint32_t>(next++), now);
      continue;
    }
    a.wait_until(std::min(now + 50, a.next_watchdog().value_or(now + 50)));
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
  for (const auto& c : a.checks) a.sched->add(c->cfg.name, c->cfg.interval_ms, start);
  a.start_services();
  spdlog::info("agent '{}' running {} checks, {} sinks, {} sources", a.cfg.id, a.checks.size(),
               a.sinks.size(), a.sources.size());
  int64_t next_status = start + status_interval_ms;
  const scheduler::fire_fn fire = [&a](uint32_t id, int64_t scheduled) {
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
  while (!a.stopping()) {
    const int64_t now = a.clock.now_ms();
    if (a.take_reload_request()) a.reload();
    a.sched->run_due(now, fire);
    a.run_watchdog(now);
    a.release_retired();
    if (now >= next_status) {
      a.log_status();
      next_status += status_interval_ms;
    }
    int64_t wake = next_status;
    if (auto d = a.sched->next_due()) wake = std::min(wake, *d);
    if (auto w = a.next_watchdog()) wake = std::min(wake, *w);
    a.wait_until(wake);
  }
  spdlog::info("stopping: waiting for {} runs in flight, then flushing sinks",
               a.outstanding_runs());
  run_summary out;
  out.delivered = a.shut_down();
  out.up = a.up.load();
  out.down = a.down.load();
  a.log_status();
  return out;
}

}  // namespace isitup
