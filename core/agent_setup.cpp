// The agent's set-up from its config, and SIGHUP reload: plugins loaded and created, checks
// prepared, sinks and sources wired to the pipeline.

#include <spdlog/spdlog.h>
#include <isitup/util/backoff.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>

#include <isitup/core/codec.hpp>
#include <isitup/core/completion_tickets.hpp>
#include <isitup/core/reload_plan.hpp>
#include "agent_impl.hpp"

namespace isitup {
namespace {

constexpr int64_t progress_interval_ms = 5000;  // progress of a long set-up

// A check's name in a message: cut to 100 characters with "…", so that a long name leaves
// room for the reason.
std::string shown_name(const std::string& name) {
  constexpr std::size_t max_chars = 100;
  return name.size() <= max_chars ? name : name.substr(0, max_chars) + "\u2026";
}

// One line for every check whose timeout is longer than its interval (a run still in flight
// makes the next one skip), naming the first few: 1,000 such checks are not 1,000 lines.
void warn_long_timeouts(const std::vector<std::unique_ptr<check_state>>& checks) {
  constexpr std::size_t named = 3;
  std::size_t count = 0;
  std::string first;
  for (const auto& c : checks) {
    const config::check& cc = c->cfg;
    if (cc.timeout_ms <= cc.interval_ms) continue;
    if (++count <= named)
      first += fmt::format("{}{}:{} '{}'", count > 1 ? ", " : "", cc.where.file.str(),
                           cc.where.line, shown_name(cc.name));
  }
  if (count == 1) spdlog::warn("check {} has a timeout longer than its interval", first);
  if (count > 1)
    spdlog::warn("{} checks have a timeout longer than their interval: {}{}", count, first,
                 count > named ? fmt::format(" and {} more", count - named) : "");
}

}  // namespace

std::shared_ptr<loaded_plugin> agent::impl::load(const std::string& name,
                                                 const config::location& where) {
  try {
    return host.load(name);
  } catch (const plugin_error& e) {
    throw config::config_error(where, std::string("plugin '") + name + "': " + e.what());
  }
}

void agent::impl::require_kind(const loaded_plugin& p, uint32_t kind, const char* what,
                               const config::location& where) {
  if (p.kinds() & kind) return;
  throw config::config_error(where, "plugin '" + p.name() + "' is not a " + what +
                                        " plugin (it provides: " + kinds_to_string(p.kinds()) +
                                        ")");
}

std::unique_ptr<isitup_options> agent::impl::options_for(const config::raw_options& raw,
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

void agent::impl::set_up() {
  set_up_sinks();
  set_up_checks();
  set_up_sources();
  set_up_catalog();
}

void agent::impl::set_up_checks() {
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
  publish_checks();
  warn_long_timeouts(checks);
  for (const auto& [name, bound] : cfg.max_in_flight_per_plugin)
    if (!check_plugins.contains(name))
      spdlog::warn("{}: agent.max_in_flight_per_plugin names '{}', which no check uses", cfg.file,
                   name);
}

std::unique_ptr<check_state> agent::impl::prepare_check(config::check c) {
  char err[1024];
  auto s = std::make_unique<check_state>();
  s->cfg = std::move(c);
  const config::check& cc = s->cfg;
  plugin_instance* inst = check_plugin(cc.plugin, cc.where);
  s->plugin = inst;
  s->options = options_for(cc.options, inst->loaded->check_schema(),
                           "check '" + shown_name(cc.name) + "' (" + cc.plugin + ") options");
  const isitup_check_spec_v1 spec{sizeof(isitup_check_spec_v1),
                                  cc.name.c_str(),
                                  cc.target.c_str(),
                                  cc.interval_ms,
                                  cc.timeout_ms,
                                  s->options.get()};
  err[0] = '\0';
  if (inst->loaded->check_ops()->prepare(inst->instance, &spec, &s->handle, err, sizeof err) !=
      ISITUP_OK)
    throw config::config_error(config::option_named_in(cc.options, err).value_or(cc.where),
                               "check '" + shown_name(cc.name) + "' (" + cc.plugin + "): " + err);
  if (cfg.http.enabled)
    s->history = history.ring_for(
        {cc.name, cc.plugin, cc.shown_target, cc.group, cc.interval_ms, cc.timeout_ms},
        std::max(checks.size(), cfg.checks.size()));
  return s;
}

plugin_instance* agent::impl::check_plugin(const std::string& name, const config::location& where) {
  auto found = check_plugins.find(name);
  if (found != check_plugins.end()) return found->second.get();
  auto p = load(name, where);
  require_kind(*p, ISITUP_KIND_CHECK, "check", where);
  auto inst = std::make_unique<plugin_instance>();
  inst->loaded = p;
  inst->ctx = std::make_unique<isitup_host_ctx>(name);
  inst->owner = completion_tickets::intern(name);
  if (auto bound = cfg.max_in_flight_per_plugin.find(name);
      bound != cfg.max_in_flight_per_plugin.end())
    inst->max_in_flight = bound->second;
  char err[1024] = "";
  if (p->check_ops()->create(host_table(), inst->ctx.get(), &inst->instance, err, sizeof err) !=
      ISITUP_OK)
    throw config::config_error(where, "plugin '" + name + "' failed to start: " + err);
  return check_plugins.emplace(name, std::move(inst)).first->second.get();
}

void agent::impl::release_check(check_state& c) {
  if (c.handle) c.plugin->loaded->check_ops()->release(c.plugin->instance, c.handle);
  c.handle = nullptr;
}

std::unique_ptr<plugin_instance> agent::impl::create_instance(const config::plugin_section& sec,
                                                              uint32_t kind, std::size_t index) {
  const bool sink = kind == ISITUP_KIND_SINK;
  const char* what = sink ? "sink" : "source";
  auto inst = std::make_unique<plugin_instance>();
  inst->loaded = load(sec.plugin, sec.where);
  require_kind(*inst->loaded, kind, what, sec.where);
  const std::string n = std::to_string(index);
  inst->ctx = std::make_unique<isitup_host_ctx>(sec.plugin + "." + what + n);
  inst->options =
      options_for(sec.options, sink ? inst->loaded->sink_schema() : inst->loaded->source_schema(),
                  std::string(what) + "s[" + n + "] (" + sec.plugin + ") options");
  const auto create = sink ? inst->loaded->sink_ops()->create : inst->loaded->source_ops()->create;
  char err[1024] = "";
  if (create(host_table(), inst->ctx.get(), inst->options.get(), &inst->instance, err,
             sizeof err) != ISITUP_OK)
    throw config::config_error(config::option_named_in(sec.options, err).value_or(sec.where),
                               std::string(what) + " '" + sec.plugin + "': " + err);
  return inst;
}

void agent::impl::set_up_sinks() {
  std::vector<sink_binding> bindings;
  for (std::size_t i = 0; i < cfg.sinks.size(); ++i) {
    const config::plugin_section& sec = cfg.sinks[i];
    auto inst = create_instance(sec, ISITUP_KIND_SINK, i);
    // A notifier gets events only, never results.
    if (!inst->loaded->is_notifier()) {
      // The first sink keeping alert state keeps it; any further one gets plain writes.
      if (inst->loaded->keeps_alert_state() && !state_sink) {
        state_sink =
            event_sink{sec.name, inst->loaded->sink_ops(), inst->instance, inst->ctx.get(), false};
        state_sink_index = bindings.size();
      }
      if ((inst->loaded->sink_ops()->sink_flags & ISITUP_SINK_POSITIONS) && !positions_sink) {
        positions_sink = inst.get();
        positions_sink_index = bindings.size();
      }
      bindings.push_back(sink_binding{inst->loaded->sink_ops(), inst->instance, inst->ctx.get()});
    }
    if (inst->loaded->takes_events())
      event_sinks.push_back(event_sink{sec.name, inst->loaded->sink_ops(), inst->instance,
                                       inst->ctx.get(), inst->loaded->is_notifier()});
    sinks.push_back(std::move(inst));
  }
  // A notify name the config accepted but whose sink cannot take events would lose every
  // notification quietly.
  for (const config::check& c : cfg.checks) {
    for (std::size_t i = 0; i < c.alert.notify.size(); ++i) {
      const std::string& name = c.alert.notify[i];
      const bool takes = std::any_of(event_sinks.begin(), event_sinks.end(),
                                     [&](const event_sink& s) { return s.name == name; });
      if (takes) continue;
      const auto sec =
          std::find_if(cfg.sinks.begin(), cfg.sinks.end(),
                       [&](const config::plugin_section& s) { return s.name == name; });
      throw config::config_error(i < c.notify_at.size() ? c.notify_at[i] : c.where,
                                 "check '" + c.name + "': notify names sink '" + name + "' (" +
                                     (sec == cfg.sinks.end() ? std::string("?") : sec->plugin) +
                                     "), which takes no events");
    }
  }
  pipe = std::make_unique<pipeline>(
      pipeline_options{cfg.queue_size, cfg.batch_size, cfg.batch_delay_ms, cfg.sink_timeout_ms},
      std::move(bindings));
  if (positions_sink) pipe->set_positions_sink(positions_sink_index);
}

void agent::impl::set_up_sources() {
  for (std::size_t i = 0; i < cfg.sources.size(); ++i) {
    const config::plugin_section& sec = cfg.sources[i];
    auto inst = create_instance(sec, ISITUP_KIND_SOURCE, i);
    const isitup_source_ops_v1* ops = inst->loaded->source_ops();
    void* instance = inst->instance;
    isitup_host_ctx* ctx = inst->ctx.get();
    // A batch of valid records to the alert tracker and the pipeline; `batch` stays as it was
    // unless ISITUP_OK.
    inst->ctx->submit_records = [this, ops, instance](
                                    std::vector<record>& batch, uint64_t token,
                                    const isitup_positions_v1* where) -> uint32_t {
      if (!pipe->may_fit(batch.size())) return ISITUP_RETRY;
      if (alerts)
        for (const record& r : batch) alerts->observe(r);  // a batch sent again: ignored there
      auto ack = [ops, instance, token](uint32_t st) { ops->ack(instance, token, st); };
      if (batch.empty()) {
        ack(ISITUP_OK);
        return ISITUP_OK;
      }
      std::unique_ptr<batch_positions> at;
      if (where && positions_sink) {
        at = std::make_unique<batch_positions>();
        at->group = where->group;
        at->topic = where->topic;
        at->items.assign(where->items, where->items + where->count);
      }
      return pipe->try_submit(std::move(batch), ack, std::move(at)) ? ISITUP_OK : ISITUP_RETRY;
    };
    inst->ctx->has_room = [this](std::size_t n) { return pipe->may_fit(n); };
    // Records the plugin built: copied and validated (hostile input) before they go on.
    inst->ctx->submit_at = [this, ctx](const isitup_record_v1* const* records, size_t count,
                                       uint64_t token,
                                       const isitup_positions_v1* where) -> uint32_t {
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
      return ctx->submit_records(batch, token, where);
    };
    inst->ctx->submit = [ctx](const isitup_record_v1* const* records, size_t count,
                              uint64_t token) {
      return ctx->submit_at(records, count, token, nullptr);
    };
    inst->ctx->claim = [this](isitup_positions_v1& claim, int64_t timeout_ms, std::string& why) {
      return claim_positions(claim, timeout_ms, why);
    };
    inst->ctx->partitions = [this, src = inst.get()](uint32_t change, const int32_t* parts,
                                                     size_t count) {
      on_partitions(*src, change, parts, count);
    };
    sources.push_back(std::move(inst));
  }
}

void agent::impl::on_partitions(plugin_instance& source, uint32_t change, const int32_t* parts,
                                std::size_t count) {
  if (change == ISITUP_PARTITIONS_ASSIGNED) {
    source.partitions.insert(parts, parts + count);
    source.partition_count = source.partitions.size();
    // Before the source reads them: results of a check another writer had are applied to the
    // state that writer committed, not to what this agent had (or nothing).
    if (alerts) alerts->reload_from_sink(std::chrono::seconds(60));
    source.assignment = 1;
    return;
  }
  for (std::size_t i = 0; i < count; ++i) source.partitions.erase(parts[i]);
  source.partition_count = source.partitions.size();
  if (change == ISITUP_PARTITIONS_JOINING || source.partitions.empty()) source.assignment = 0;
  const bool none_left = std::none_of(sources.begin(), sources.end(), [](const auto& s) {
    return s->assignment.load() == 1 && s->partition_count.load() > 0;
  });
  if (change == ISITUP_PARTITIONS_REVOKED && none_left && alerts) alerts->forget_source_checks();
}

uint32_t agent::impl::claim_positions(isitup_positions_v1& claim, int64_t timeout_ms,
                                      std::string& why) {
  for (std::size_t i = 0; i < claim.count; ++i) {
    claim.items[i].next_offset = -1;
    claim.items[i].epoch = 0;
  }
  if (!positions_sink) return ISITUP_OK;  // nothing is stored: the log's own offsets hold
  const isitup_sink_ops_v1* ops = positions_sink->loaded->sink_ops();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int attempt = 0;; ++attempt) {
    char err[512] = "";
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const uint32_t s = ops->claim_positions(positions_sink->instance, &claim,
                                            std::max<int64_t>(left.count(), 1), err, sizeof err);
    if (s == ISITUP_OK) return s;
    why = std::string("claiming partitions from sink ") + positions_sink->ctx->label + ": " + err;
    for (std::size_t i = 0; i < claim.count; ++i) {
      claim.items[i].next_offset = -1;
      claim.items[i].epoch = 0;
    }
    const auto wait =
        sdk::backoff(attempt, std::chrono::milliseconds(200), std::chrono::milliseconds(2000));
    if (s == ISITUP_ERROR || std::chrono::steady_clock::now() + wait >= deadline) return s;
    spdlog::warn("[{}] {} (trying again)", positions_sink->ctx->label, why);
    std::this_thread::sleep_for(wait);
  }
}

bool agent::impl::take_reload_request() {
  std::lock_guard lock(mu);
  return std::exchange(reload_requested, false);
}

void agent::impl::want_reload_step() {
  {
    std::lock_guard lock(mu);
    reload_requested = true;
  }
  cv.notify_all();
}

void agent::impl::reload() {
  if (feed) {
    spdlog::warn("reload: in catalog mode the checks come from the catalog; nothing to reload");
    return;
  }
  if (!loader) loader = std::make_unique<reload_loader>([this] { want_reload_step(); });
  if (!loaded) {
    if (auto r = loader->take()) {
      if (!r->next) {
        reloads_failed.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("reload refused, the running configuration stays: {}", r->error);
      } else {
        for (const std::string& what : r->restart_only)
          spdlog::warn("reload: {} changed in {}; that takes a restart and is not applied", what,
                       cfg.file);
        loaded = std::move(r);
      }
    } else if (loader->busy()) {
      reload_again = true;  // a SIGHUP while loading: load once more when this one is done
      return;
    } else {
      std::vector<const config::check*> running;
      running.reserve(checks.size());
      for (const auto& c : checks) running.push_back(c ? &c->cfg : nullptr);
      loader->start(cfg, std::move(running));
      return;
    }
  }
  if (loaded) {
    try {
      if (!prepare_some()) {
        want_reload_step();
        return;
      }
    } catch (const config::config_error& e) {
      drop_reload();
      reloads_failed.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("reload refused, the running configuration stays: {}", e.what());
    }
    if (loaded) apply_reload();
  }
  if (std::exchange(reload_again, false)) want_reload_step();
}

bool agent::impl::prepare_some() {
  constexpr int64_t slice_ms = 5;  // between two looks at the schedule
  const int64_t until = clock.now_ms() + slice_ms;
  auto& next = *loaded->next;
  const auto& add = loaded->plan.add;
  while (prepared.size() < add.size()) {
    prepared.push_back(prepare_check(std::move(next.checks[add[prepared.size()]])));
    if (prepared.size() % 64 == 0 && clock.now_ms() >= until) break;
  }
  return prepared.size() == add.size();
}

void agent::impl::drop_reload() {
  for (auto& c : prepared) release_check(*c);
  prepared.clear();
  loaded.reset();
}

void agent::impl::apply_reload() {
  const reload_plan& plan = loaded->plan;
  for (uint32_t id : plan.retire) {
    sched->remove(id);
    retired.push_back(std::move(checks[id]));
  }
  warn_long_timeouts(prepared);
  const int64_t now = clock.now_ms();
  for (auto& c : prepared) {
    if (alerts) alerts->configure(c->cfg.name, c->cfg.alert);
    const uint32_t id = sched->add(c->cfg.name, c->cfg.interval_ms, now);
    if (id != checks.size()) throw std::logic_error("reload: scheduler ids out of step");
    checks.push_back(std::move(c));
  }
  prepared.clear();
  ensure_pool();
  release_retired();
  publish_checks();
  reloads_ok.fetch_add(1, std::memory_order_relaxed);
  config_loaded_ms = clock.now_ms();
  spdlog::info("reload: {} checks ({} unchanged, {} changed, {} added, {} removed)",
               plan.unchanged + plan.changed + plan.added, plan.unchanged, plan.changed, plan.added,
               plan.removed);
  loaded.reset();
}

void agent::impl::release_retired() {
  std::erase_if(retired, [this](std::unique_ptr<check_state>& c) {
    if (c->plugin_runs.load(std::memory_order_acquire) != 0) return false;
    release_check(*c);
    return true;
  });
}

void agent::impl::ensure_pool() {
  if (pool) return;
  for (auto& [name, inst] : check_plugins)
    if (inst->loaded->check_ops()->flags & ISITUP_CHECK_BLOCKING) {
      pool = std::make_unique<worker_pool>(std::min(cfg.max_in_flight, 64));
      return;
    }
}

agent::impl::~impl() {
  http.reset();      // its threads read the agent
  http_svc.reset();  // waits for a history read still in a sink (destroyed below)
  loader.reset();    // cancels a reload still loading; its callback uses mu and cv
  drop_reload();
  runs.release_all();
  if (gate->gone) {
    // Shutdown gave up on checks still inside their plugin's start(): a thread is running
    // there, so neither the check, nor its plugin instance, nor the library may go.
    auto keep = [this](std::unique_ptr<check_state>& c) {
      if (!c || !c->in_plugin.load()) return;
      for (auto& [name, inst] : check_plugins)
        if (inst.get() == c->plugin) static_cast<void>(inst.release());
      static_cast<void>(c.release());
    };
    for (auto& c : checks) keep(c);
    for (auto& c : retired) keep(c);
    std::erase_if(retired, [](const auto& c) { return !c; });
  }
  for (auto& c : checks)
    if (c) release_check(*c);
  for (auto& c : retired) release_check(*c);
  for (auto& [name, inst] : check_plugins)
    if (inst && inst->instance) inst->loaded->check_ops()->destroy(inst->instance);
  for (auto& s : sources)
    if (s->instance) s->loaded->source_ops()->destroy(s->instance);
  // The catalog (stopped by run(), or never started): a revocation while it leaves the group
  // must not wait for a scheduler that is gone.
  if (feed) feed->close();
  if (catalog && catalog->instance) catalog->loaded->catalog_ops()->destroy(catalog->instance);
  // No event goes to a sink once it is being destroyed; a late completion lands in the
  // tracker's shared state, which outlives it.
  if (alerts) alerts->stop(std::chrono::milliseconds(0));
  // Sinks go before the pipeline: a sink may still complete a write while it is destroyed
  // (after a drain that timed out), and its completion lands in the pipeline.
  for (auto& s : sinks)
    if (s->instance) s->loaded->sink_ops()->destroy(s->instance);
  pipe.reset();
}

}  // namespace isitup
