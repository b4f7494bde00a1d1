// Catalog mode and --publish-checks: the agent's side of the catalog plugin kind.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <isitup/core/completion_tickets.hpp>
#include <isitup/core/reload_plan.hpp>
#include "agent_impl.hpp"

namespace isitup {
namespace {

std::string message_source(int32_t partition, int64_t offset) {
  return "catalog partition " + std::to_string(partition) + " offset " + std::to_string(offset);
}

}  // namespace

void agent::impl::set_up_catalog() {
  if (!cfg.catalog) return;
  const config::plugin_section& sec = *cfg.catalog;
  auto inst = std::make_unique<plugin_instance>();
  inst->loaded = load(sec.plugin, sec.where);
  require_kind(*inst->loaded, ISITUP_KIND_CATALOG, "catalog", sec.where);
  inst->ctx = std::make_unique<isitup_host_ctx>(sec.plugin + ".catalog");
  inst->options = options_for(sec.options, inst->loaded->catalog_schema(),
                              "catalog (" + sec.plugin + ") options");
  char err[1024] = "";
  if (inst->loaded->catalog_ops()->create(host_table(), inst->ctx.get(), inst->options.get(),
                                          &inst->instance, err, sizeof err) != ISITUP_OK)
    throw config::config_error(sec.where, "catalog '" + sec.plugin + "': " + err);
  catalog = std::move(inst);
}

publish_summary agent::publish_checks(bool dry_run) {
  impl& a = *impl_;
  if (!a.catalog)
    throw config::config_error({a.cfg.file, 1, 1},
                               "--publish-checks needs a catalog: section (catalog: {plugin: "
                               "kafka_sink, options: {brokers: ...}})");
  const isitup_catalog_ops_v1* ops = a.catalog->loaded->catalog_ops();
  // The catalog as it is: the last message per key wins, a tombstone deletes.
  std::map<std::string, std::optional<std::string>> current;
  char err[1024] = "";
  const auto collect = [](void* ctx, const isitup_catalog_entry_v1* e) {
    auto& out = *static_cast<std::map<std::string, std::optional<std::string>>*>(ctx);
    std::optional<std::string>& slot = out[std::string(e->key, e->key_len)];
    if (e->value)
      slot.emplace(e->value, e->value_len);
    else
      slot.reset();
  };
  if (ops->read_all(a.catalog->instance, collect, &current, err, sizeof err) != ISITUP_OK)
    throw std::runtime_error(std::string("cannot read the catalog: ") + err);

  struct pending {
    std::string key;
    std::optional<std::string> value;
  };
  std::vector<pending> writes;
  publish_summary out;
  std::set<std::string> wanted;
  for (const auto& c : a.checks) {
    const config::check& cc = c->cfg;
    wanted.insert(cc.name);
    std::string value = config::catalog_value(cc);
    const auto it = current.find(cc.name);
    if (it == current.end() || !it->second) {
      ++out.added;
      spdlog::debug("publish: + {}", cc.name);
    } else if (*it->second != value) {
      ++out.changed;
      spdlog::debug("publish: ~ {}", cc.name);
    } else {
      ++out.unchanged;
      continue;
    }
    writes.push_back({cc.name, std::move(value)});
  }
  for (const auto& [key, value] : current) {
    if (!value || wanted.contains(key)) continue;
    ++out.removed;
    spdlog::debug("publish: - {}", key);
    writes.push_back({key, std::nullopt});
  }
  if (dry_run || writes.empty()) return out;
  std::vector<isitup_catalog_entry_v1> entries;
  entries.reserve(writes.size());
  for (const pending& w : writes) {
    isitup_catalog_entry_v1 e{};
    e.struct_size = sizeof e;
    e.key = w.key.data();
    e.key_len = w.key.size();
    e.value = w.value ? w.value->data() : nullptr;
    e.value_len = w.value ? w.value->size() : 0;
    e.partition = -1;
    e.offset = -1;
    entries.push_back(e);
  }
  std::vector<const isitup_catalog_entry_v1*> pointers;
  pointers.reserve(entries.size());
  for (const auto& e : entries) pointers.push_back(&e);
  if (ops->publish(a.catalog->instance, pointers.data(), pointers.size(), err, sizeof err) !=
      ISITUP_OK)
    throw std::runtime_error(std::string("cannot publish to the catalog: ") + err);
  return out;
}

void agent::impl::start_catalog() {
  if (!checks.empty())
    spdlog::info(
        "catalog mode: the {} checks of {} are not run here (publish them with "
        "--publish-checks)",
        checks.size(), cfg.file);
  for (auto& c : checks) release_check(*c);
  checks.clear();
  publish_checks();  // agent.http shows the catalog's checks, not the file's
  catalog_read = std::make_unique<config::catalog_reader>(cfg);
  // Messages are read into checks on the plugin's thread: the scheduler thread only prepares
  // and schedules them.
  const auto read = [reader = catalog_read.get()](catalog_change& c) {
    const std::string source = message_source(c.partition, c.offset);
    try {
      c.check = std::make_unique<config::check>(reader->read(c.key, *c.value, source));
    } catch (const config::config_error& e) {
      c.error = e.what();
    } catch (const std::exception& e) {
      c.error = source + ": " + e.what();
    }
  };
  feed = std::make_unique<catalog_feed>([this] { return clock.now_ms(); },
                                        [this] {
                                          {
                                            std::lock_guard lock(mu);
                                            catalog_wake = true;
                                          }
                                          cv.notify_all();
                                        },
                                        read);
  char err[1024] = "";
  if (catalog->loaded->catalog_ops()->start(catalog->instance, feed->events(), err, sizeof err) !=
      ISITUP_OK)
    throw config::config_error(cfg.catalog->where,
                               "catalog '" + cfg.catalog->plugin + "' failed to start: " + err);
}

void agent::impl::stop_catalog() {
  feed->close();  // a revocation while leaving the group does not wait for this thread
  catalog->loaded->catalog_ops()->stop(catalog->instance);
}

catalog_feed::stall_limits agent::impl::catalog_stall_limits() const {
  if (!catalog) return {};
  // Zero when the plugin's table ends before it (plugin_host copies what is there).
  const isitup_catalog_ops_v1* ops = catalog->loaded->catalog_ops();
  const int64_t session_ms =
      ops->session_timeout_ms ? ops->session_timeout_ms(catalog->instance) : 0;
  const catalog_feed::stall_limits out = catalog_feed::stall_limits_for(session_ms);
  if (session_ms > 0)
    spdlog::debug("catalog: session timeout {} ms: a stall longer than {} ms holds checks {} ms",
                  session_ms, out.stalled_ms, out.hold_ms);
  return out;
}

bool agent::impl::take_catalog_wake() {
  std::lock_guard lock(mu);
  return std::exchange(catalog_wake, false);
}

void agent::impl::catalog_step(int64_t now) {
  take_catalog_wake();
  if (feed->due(now)) catalog_take();
  const bool applied = catalog_todo.empty() || catalog_apply_some();
  catalog_forget_gone();
  if (!applied) {
    std::lock_guard lock(mu);
    catalog_wake = true;  // more keys: come back after the checks that are due now
    return;
  }
  const catalog_tally t = std::exchange(catalog_done, {});
  if (t.changed + t.added + t.removed + t.refused == 0) return;
  ensure_pool();
  release_retired();
  publish_checks();  // to agent.http
  const std::size_t fresh = t.changed + t.added;
  spdlog::info("catalog: {} checks ({} unchanged, {} changed, {} added, {} removed{})",
               catalog_running, catalog_running > fresh ? catalog_running - fresh : 0, t.changed,
               t.added, t.removed,
               t.refused ? ", " + std::to_string(t.refused) + " refused" : std::string());
}

void agent::impl::catalog_take() {
  uint64_t generation = 0;
  for (catalog_change& c : feed->take(generation)) {
    switch (c.what) {
      case catalog_change::kind::assigned:
        // After a loss, an assignment lists all this agent owns: kept partitions not in it are
        // someone else's now. Kept ones in it keep their checks: what is read again is the same.
        for (int32_t p : catalog_kept)
          if (std::find(c.partitions.begin(), c.partitions.end(), p) == c.partitions.end())
            catalog_drop_partition(p);
        catalog_kept.clear();
        for (int32_t p : c.partitions) catalog_partitions.try_emplace(p, -1);
        break;
      case catalog_change::kind::revoked:
        for (int32_t p : c.partitions) {
          catalog_drop_partition(p);
          catalog_kept.erase(p);
        }
        break;
      case catalog_change::kind::lost:
        for (int32_t p : c.partitions)
          if (catalog_partitions.contains(p)) catalog_kept.insert(p);
        spdlog::warn(
            "catalog: the group is unreachable; the checks of {} partitions keep "
            "running until it answers",
            catalog_kept.size());
        break;
      case catalog_change::kind::entry: {
        const auto part = catalog_partitions.find(c.partition);
        if (part == catalog_partitions.end()) break;  // read before its revocation
        if (c.offset <= part->second) break;  // read again (a partition kept and assigned back)
        part->second = c.offset;
        // One lookup per message (try_emplace leaves the key alone when it is there).
        auto found =
            c.value ? catalog_keys.try_emplace(std::move(c.key)).first : catalog_keys.find(c.key);
        if (found == catalog_keys.end()) break;  // a tombstone of a key this agent does not have
        catalog_key& k = found->second;
        k.partition = c.partition;
        k.deleted = !c.value;
        k.offset = c.offset;
        k.check = std::move(c.check);
        k.error = std::move(c.error);
        catalog_queue(*found);
        break;
      }
    }
  }
  feed->applied(generation);  // revocations are applied: their checks are stopped
}

void agent::impl::catalog_drop_partition(int32_t p) {
  if (catalog_partitions.erase(p) == 0) return;
  for (auto it = catalog_keys.begin(); it != catalog_keys.end();) {
    if (it->second.partition != p) {
      ++it;
      continue;
    }
    catalog_key& k = it->second;
    if (k.id != no_check) ++catalog_done.removed;
    catalog_retire(k, true);
    if (!k.queued) {
      it = catalog_keys.erase(it);
      continue;
    }
    k.deleted = true;  // catalog_todo points at it
    k.check.reset();
    k.error.clear();
    ++it;
  }
}

void agent::impl::catalog_queue(catalog_entry& e) {
  if (e.second.queued) return;
  e.second.queued = true;
  catalog_todo.push_back(&e);
}

bool agent::impl::catalog_apply_some() {
  constexpr int64_t slice_ms = 5;  // between two looks at the schedule
  const int64_t until = clock.now_ms() + slice_ms;
  std::size_t done = 0;
  std::vector<std::pair<std::string_view, const alert_settings*>> started;
  while (catalog_next < catalog_todo.size()) {
    const check_state* c = catalog_apply(*catalog_todo[catalog_next++]);
    if (c && alerts) started.emplace_back(c->cfg.name, &c->cfg.alert);
    if (++done % 32 == 0 && clock.now_ms() >= until) break;
  }
  catalog_forget_gone();
  if (alerts && !started.empty()) alerts->configure(started);  // one lock for the slice
  if (catalog_next < catalog_todo.size()) return false;
  catalog_todo.clear();
  catalog_next = 0;
  return true;
}

void agent::impl::catalog_forget_gone() {
  if (catalog_gone.empty()) return;
  if (alerts) {
    const std::vector<std::string_view> names(catalog_gone.begin(), catalog_gone.end());
    alerts->forget(names);
  }
  catalog_gone.clear();
}

void agent::impl::catalog_retire(catalog_key& k, bool gone) {
  if (k.id == no_check) return;
  if (gone) catalog_gone.push_back(checks[k.id]->cfg.name);
  sched->remove(k.id);
  retired.push_back(std::move(checks[k.id]));
  k.id = no_check;
  --catalog_running;
}

const check_state* agent::impl::catalog_apply(catalog_entry& e) {
  catalog_key& k = e.second;
  k.queued = false;
  if (k.deleted) {  // a tombstone, or its partition was revoked meanwhile
    if (k.id != no_check) ++catalog_done.removed;
    catalog_retire(k, true);
    catalog_keys.erase(catalog_keys.find(e.first));
    return nullptr;
  }
  if (!k.check && k.error.empty()) return nullptr;
  std::unique_ptr<config::check> next = std::move(k.check);
  if (!k.error.empty()) spdlog::error("{}; skipped", std::exchange(k.error, {}));
  if (next && k.id != no_check && same_check(checks[k.id]->cfg, *next)) return nullptr;
  const bool was_running = k.id != no_check;
  catalog_retire(k, false);
  std::unique_ptr<check_state> prepared_check;
  if (next) {
    try {
      prepared_check = prepare_check(std::move(*next));
    } catch (const config::config_error& e) {
      // Options its plugin refuses, a plugin that is missing: the message is poison.
      spdlog::error("{}: {}; skipped", e.where().file.str(), e.message());
    }
  }
  if (!prepared_check) {
    ++catalog_done.refused;
    if (was_running) {
      ++catalog_done.removed;
      catalog_gone.push_back(retired.back()->cfg.name);  // retired just above
    }
    return nullptr;
  }
  const uint32_t id =
      sched->add(prepared_check->cfg.name, prepared_check->cfg.interval_ms, clock.now_ms());
  if (id != checks.size()) throw std::logic_error("catalog: scheduler ids out of step");
  checks.push_back(std::move(prepared_check));
  k.id = id;
  ++catalog_running;
  ++(was_running ? catalog_done.changed : catalog_done.added);
  return checks.back().get();
}

}  // namespace isitup
