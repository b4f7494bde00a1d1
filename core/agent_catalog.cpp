// Catalog mode and --publish-checks: the agent's side of the catalog plugin kind.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "agent_impl.hpp"
#include "completion_tickets.hpp"
#include "reload_plan.hpp"

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
  inst->plugin = load(sec.plugin, sec.where);
  require_kind(*inst->plugin, ISITUP_KIND_CATALOG, "catalog", sec.where);
  inst->ctx = std::make_unique<isitup_host_ctx>(sec.plugin + ".catalog");
  inst->options = options_for(sec.options, inst->plugin->catalog_schema(),
                              "catalog (" + sec.plugin + ") options");
  char err[1024] = "";
  if (inst->plugin->catalog_ops()->create(host_table(), inst->ctx.get(), inst->options.get(),
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
  const isitup_catalog_ops_v1* ops = a.catalog->plugin->catalog_ops();
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
  feed = std::make_unique<catalog_feed>([this] { return clock.now_ms(); },
                                        [this] {
                                          {
                                            std::lock_guard lock(mu);
                                            catalog_wake = true;
                                          }
                                          cv.notify_all();
                                        });
  char err[1024] = "";
  if (catalog->plugin->catalog_ops()->start(catalog->instance, feed->events(), err, sizeof err) !=
      ISITUP_OK)
    throw config::config_error(cfg.catalog->where,
                               "catalog '" + cfg.catalog->plugin + "' failed to start: " + err);
}

void agent::impl::stop_catalog() {
  feed->close();  // a revocation while leaving the group does not wait for this thread
  catalog->plugin->catalog_ops()->stop(catalog->instance);
}

bool agent::impl::take_catalog_wake() {
  std::lock_guard lock(mu);
  return std::exchange(catalog_wake, false);
}

std::vector<config::check> agent::impl::catalog_wanted() {
  std::map<std::string, catalog_parsed> parsed;
  std::vector<config::check> out;
  for (const auto& [partition, messages] : catalog_partitions) {
    for (const auto& [key, m] : messages) {
      auto old = catalog_checks.find(key);
      catalog_parsed p;
      if (old != catalog_checks.end() && old->second.partition == partition &&
          old->second.offset == m.offset) {
        p = std::move(old->second);
      } else {
        p.partition = partition;
        p.offset = m.offset;
        try {
          p.check =
              config::parse_catalog_value(key, m.value, message_source(partition, m.offset), cfg);
        } catch (const config::config_error& e) {
          spdlog::error("{}; skipped", e.what());
        }
      }
      if (p.check) out.push_back(*p.check);
      parsed.emplace(key, std::move(p));
    }
  }
  catalog_checks = std::move(parsed);
  return out;
}

void agent::impl::catalog_step(int64_t now) {
  take_catalog_wake();
  if (!feed->due(now)) return;
  uint64_t generation = 0;
  for (catalog_change& c : feed->take(generation)) {
    switch (c.what) {
      case catalog_change::kind::assigned:
        // After a loss, an assignment lists all this agent owns: kept partitions not in it are
        // someone else's now.
        for (int32_t p : catalog_kept)
          if (std::find(c.partitions.begin(), c.partitions.end(), p) == c.partitions.end())
            catalog_partitions.erase(p);
        catalog_kept.clear();
        for (int32_t p : c.partitions) catalog_partitions[p].clear();  // read from its start
        break;
      case catalog_change::kind::revoked:
        for (int32_t p : c.partitions) {
          catalog_partitions.erase(p);
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
        if (c.value)
          part->second[c.key] = catalog_message{std::move(*c.value), c.offset};
        else
          part->second.erase(c.key);
        break;
      }
    }
  }
  std::vector<config::check> next = catalog_wanted();
  std::vector<const config::check*> running;
  running.reserve(checks.size());
  for (const auto& c : checks) running.push_back(c ? &c->cfg : nullptr);
  const reload_plan plan = plan_reload(running, next);
  for (uint32_t id : plan.retire) {
    sched->remove(id);
    retired.push_back(std::move(checks[id]));
  }
  std::size_t refused = 0;
  const int64_t at = clock.now_ms();
  for (std::size_t index : plan.add) {
    config::check& c = next[index];
    std::unique_ptr<check_state> prepared_check;
    try {
      prepared_check = prepare_check(c);
    } catch (const config::config_error& e) {
      // Options its plugin refuses, a plugin that is missing: the message is poison. Forget
      // the parse so the same message is not tried again.
      spdlog::error("{}: {}; skipped", e.where().file, e.message());
      if (auto it = catalog_checks.find(c.name); it != catalog_checks.end())
        it->second.check.reset();
      ++refused;
      continue;
    }
    if (alerts) alerts->configure(prepared_check->cfg.name, prepared_check->cfg.alert);
    const uint32_t id = sched->add(prepared_check->cfg.name, prepared_check->cfg.interval_ms, at);
    if (id != checks.size()) throw std::logic_error("catalog: scheduler ids out of step");
    checks.push_back(std::move(prepared_check));
  }
  ensure_pool();
  release_retired();
  if (plan.changed + plan.added + plan.removed > 0) publish_checks();  // to agent.http
  feed->applied(generation);
  if (plan.changed + plan.added + plan.removed + refused > 0)
    spdlog::info("catalog: {} checks ({} unchanged, {} changed, {} added, {} removed{})",
                 plan.unchanged + plan.changed + plan.added - refused, plan.unchanged, plan.changed,
                 plan.added, plan.removed,
                 refused ? ", " + std::to_string(refused) + " refused" : std::string());
}

}  // namespace isitup
