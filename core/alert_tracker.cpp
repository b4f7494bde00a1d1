#include <isitup/core/alert_tracker.hpp>

#include <spdlog/spdlog.h>
#include <isitup/util/backoff.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <isitup/core/alert_journal.hpp>
#include <isitup/core/alert_persist.hpp>
#include <isitup/core/alert_state.hpp>
#include <isitup/core/codec.hpp>
#include <isitup/core/completion_tickets.hpp>
#include <isitup/core/host_services.hpp>

namespace isitup {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t max_events_per_call = 100;
// Bounds on what results from elsewhere (a source) can make the tracker hold.
constexpr std::size_t max_checks = 100'000;

// Hashes std::string and std::string_view alike (lookups by a view make no string).
struct name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
constexpr std::size_t max_locations_per_check = 64;
// Events one sink may have waiting; past it (a sink down for very long while checks flap) new
// events for that sink are dropped and counted as refused.
constexpr std::size_t max_pending_per_sink = 100'000;
// Events of one check the state sink has not committed (its batches refused while the check
// flaps); past it the oldest is dropped and counted.
constexpr std::size_t max_uncommitted_per_check = 100;

std::chrono::milliseconds backoff(int attempt) {
  return sdk::backoff(attempt, std::chrono::milliseconds(200), std::chrono::seconds(30));
}

}  // namespace

struct alert_tracker::impl : std::enable_shared_from_this<alert_tracker::impl> {
  struct check_entry {
    alert::check_state state;
    const alert_settings* settings = nullptr;
    // With a state sink: `version` grows with every result taken, `persisted` is the highest
    // the sink committed, `unpersisted` the events it has not committed yet (decision order).
    // A result that changes only its location's last_ms (a steady check) does not count, so a
    // steady check's state is stored only every refresh_ms(): taking such a result again
    // after a restart changes nothing but that last_ms.
    int64_t version = 0, persisted = 0;
    int64_t refreshed_ms = INT64_MIN / 2;  // scheduled_at of the result that last counted
    std::vector<std::shared_ptr<alert::persisted_event>> unpersisted;
  };
  struct sink_queue {
    event_sink sink;
    std::deque<std::shared_ptr<const alert::event>> queue;
    bool in_flight = false;
    int attempt = 0;
    clock_type::time_point not_before{};
  };
  struct call {
    std::shared_ptr<impl> owner;
    std::size_t sink = 0;
    std::vector<std::shared_ptr<const alert::event>> events;
    std::vector<isitup_event_v1> views;
    std::vector<const isitup_event_v1*> pointers;
  };

  // Per configured check. Hashed: 100k names that share a long prefix (URLs) cost a string
  // compare per tree level. Node addresses never change: check_entry::settings points in.
  std::unordered_map<std::string, alert_settings, name_hash, std::equal_to<>> configured;
  alert_settings defaults;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, check_entry, std::less<>> checks;
  // Grows whenever an entry of `checks` is erased: a check_ref of an older generation may
  // point to a freed entry and is looked up again.
  uint64_t generation = 1;
  std::vector<sink_queue> sinks;
  std::unique_ptr<alert::journal> journal;
  std::optional<event_sink> state_sink;
  bool stopping = false;
  bool said_untracked = false;
  std::thread thread;
  alert_stats counts;
  std::deque<open_incident> resolved;  // the newest max_recent_resolved, for the HTTP interface

  // What a result may change besides its location's last_ms.
  static auto fingerprint(const alert::check_state& s, std::string_view location) {
    const auto l = s.locations.find(location);
    const bool known = l != s.locations.end();
    return std::make_tuple(s.locations.size(), s.forgotten, s.open ? s.open->id : std::string(),
                           s.open ? s.open->reminders : 0u, known, known && l->second.down,
                           known ? l->second.streak : 0,
                           known ? l->second.streak_since_ms : int64_t{0},
                           known ? l->second.down_since_ms : int64_t{0});
  }
  // How far a steady check's stored last_ms may lag: well within location_ttl, so that a
  // restart does not forget a location that was still reporting.
  static int64_t refresh_ms(const alert_settings& s) {
    return s.location_ttl_ms > 0 ? s.location_ttl_ms / 4 : 300'000;
  }

  const alert_settings* settings_for(std::string_view check) const {
    const auto it = configured.find(check);
    return it == configured.end() ? &defaults : &it->second;
  }

  // Sinks that get the events of a check with these settings.
  std::vector<std::size_t> recipients(const alert_settings& s) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < sinks.size(); ++i) {
      const event_sink& k = sinks[i].sink;
      if (!k.notifier || std::find(s.notify.begin(), s.notify.end(), k.name) != s.notify.end())
        out.push_back(i);
    }
    return out;
  }

  std::optional<std::size_t> sink_index(std::string_view name) const {
    for (std::size_t i = 0; i < sinks.size(); ++i)
      if (sinks[i].sink.name == name) return i;
    return std::nullopt;
  }

  alert::journal::contents live_locked() const {
    alert::journal::contents c;
    for (const auto& [name, e] : checks) c.states.emplace(name, e.state);
    // Undelivered events in decision order: merge the sink queues by first appearance.
    std::map<const alert::event*, std::size_t> at;
    for (const sink_queue& s : sinks) {
      for (const auto& ev : s.queue) {
        auto [it, fresh] = at.emplace(ev.get(), c.undelivered.size());
        if (fresh) c.undelivered.push_back({*ev, {}});
        c.undelivered[it->second].sinks.push_back(s.sink.name);
      }
    }
    std::stable_sort(c.undelivered.begin(), c.undelivered.end(),
                     [](const auto& a, const auto& b) { return a.ev.at_ms < b.ev.at_ms; });
    return c;
  }

  void compact_locked() {
    if (!journal) return;
    try {
      journal->compact(live_locked());
    } catch (const std::exception& e) {
      spdlog::error("alerts: {}", e.what());
    }
  }

  // The entry of r.check, made on its first result; null when it is not tracked.
  check_entry* entry_for(const record& r) {
    auto it = checks.find(r.check);
    if (it == checks.end()) {
      const alert_settings* s = settings_for(r.check);
      if (!s->enabled) return nullptr;
      if (checks.size() >= max_checks) {
        untracked("checks", max_checks);
        return nullptr;
      }
      it = checks.emplace(r.check, check_entry{}).first;
      it->second.settings = s;
    }
    return &it->second;
  }

  // With `ref`: its entry while no entry was erased since it was filled, else filled here.
  void observe(const record& r, check_ref* ref) {
    if (r.scheduled_at_ms == ISITUP_ABSENT_TIME || r.check.empty()) return;
    const alert::observation o{r.location.empty() ? r.agent : r.location, r.scheduled_at_ms, r.up,
                               r.error_kind, r.error_message};
    std::lock_guard lock(mu);
    check_entry* found = nullptr;
    if (ref && ref->entry_ && ref->generation_ == generation) {
      found = static_cast<check_entry*>(ref->entry_);
    } else {
      found = entry_for(r);
      if (!found) return;
      if (ref) {
        ref->entry_ = found;
        ref->generation_ = generation;
      }
    }
    check_entry& c = *found;
    if (!c.settings->enabled) return;
    if (c.state.locations.size() >= max_locations_per_check && !c.state.locations.count(o.location))
      return untracked("locations of one check", max_locations_per_check);
    // Whether the stored state changes is asked only with a state sink: each look is a lookup
    // of the location, two more per result than step() makes (http_agent_state).
    bool fresh = false;
    decltype(fingerprint(c.state, o.location)) before;
    if (state_sink) {
      const auto seen = c.state.locations.find(o.location);
      fresh = seen == c.state.locations.end() || o.scheduled_at_ms > seen->second.last_ms;
      before = fingerprint(c.state, o.location);
    }
    const uint64_t forgotten = c.state.forgotten;
    std::optional<alert::transition> t = alert::step(c.state, r.check, o, *c.settings);
    if (c.state.forgotten != forgotten) said_forgotten(r.check, c);
    if (state_sink && fresh &&
        (t || fingerprint(c.state, o.location) != before ||
         o.scheduled_at_ms - c.refreshed_ms >= refresh_ms(*c.settings))) {
      ++c.version;
      c.refreshed_ms = o.scheduled_at_ms;
    }
    if (!t) return;
    if (t->type == alert::transition_type::resolved) {
      resolved.push_back({r.check, t->inc.id, t->inc.error_kind, t->inc.error_message,
                          t->inc.opened_at_ms, t->inc.locations,
                          t->resolved_at_ms.value_or(t->at_ms)});
      if (resolved.size() > max_recent_resolved) resolved.pop_front();
    }
    auto ev =
        std::make_shared<const alert::event>(alert::make_event(*t, r.check, r.plugin, r.target));
    std::vector<std::size_t> to = recipients(*c.settings);
    std::erase_if(to, [&](std::size_t i) {
      if (sinks[i].queue.size() < max_pending_per_sink) return false;
      ++counts.refused;
      spdlog::error("[{}] {} events waiting already; {} dropped for this sink", sinks[i].sink.name,
                    max_pending_per_sink, ev->event_id);
      return true;
    });
    ++counts.transitions;
    spdlog::info("alert: {} {} (incident {}, since {}{})", ev->type, ev->check, ev->incident_id,
                 codec::format_time_ms(ev->opened_at_ms),
                 ev->error_kind.empty() ? "" : ", " + ev->error_kind + ": " + ev->error_message);
    if (state_sink) {  // handed to the sinks once the state sink committed it
      auto p = std::make_shared<alert::persisted_event>();
      p->ev = *ev;
      p->to = to;
      for (std::size_t i : to) p->sink_names.push_back(sinks[i].sink.name);
      c.unpersisted.push_back(std::move(p));
      if (c.unpersisted.size() > max_uncommitted_per_check) {
        if (counts.uncommitted_dropped++ % 1000 == 0)
          spdlog::error(
              "alerts: {}: {} events not committed by sink {} (its batches refused?); the oldest, "
              "{}, is dropped ({} so far)",
              r.check, c.unpersisted.size(), state_sink->name, c.unpersisted.front()->ev.event_id,
              counts.uncommitted_dropped);
        c.unpersisted.erase(c.unpersisted.begin());
      }
      return;
    }
    if (journal) {
      std::vector<std::string> names;
      names.reserve(to.size());
      for (std::size_t i : to) names.push_back(sinks[i].sink.name);
      try {
        journal->append_event(c.state, *ev, names);
      } catch (const std::exception& e) {
        spdlog::error("alerts: {} (the event is sent but would not survive a restart)", e.what());
      }
    }
    for (std::size_t i : to) sinks[i].queue.push_back(ev);
    cv.notify_all();
  }

  std::shared_ptr<const batch_state> make_batch_state(const std::vector<record>& records) {
    auto d = std::make_shared<alert::batch_delta>(
        [w = weak_from_this()](const alert::batch_delta& done) {
          if (auto p = w.lock()) p->committed(done);
        });
    std::unordered_set<std::string_view> taken;
    std::lock_guard lock(mu);
    for (const record& r : records) {
      if (!taken.insert(r.check).second) continue;
      const auto it = checks.find(r.check);
      if (it == checks.end()) continue;
      const check_entry& c = it->second;
      if (c.version > c.persisted) d->add_state(it->first, c.version, alert::encode_state(c.state));
      for (const auto& e : c.unpersisted) d->add_event(e);
    }
    if (d->empty()) return nullptr;
    d->finish();
    return d;
  }

  // The state sink committed `d`: its events go to their sinks (once, in decision order).
  void committed(const alert::batch_delta& d) {
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < d.checks().size(); ++i) {
      const auto it = checks.find(d.checks()[i]);
      if (it != checks.end())
        it->second.persisted = std::max(it->second.persisted, d.versions()[i]);
    }
    for (const auto& e : d.events()) {
      if (const auto it = checks.find(e->ev.check); it != checks.end())
        std::erase(it->second.unpersisted, e);
      if (std::exchange(e->released, true)) continue;
      const std::shared_ptr<const alert::event> ev(e, &e->ev);
      for (std::size_t i : e->to) sinks[i].queue.push_back(ev);
    }
    cv.notify_all();
  }

  // Tells the state sink that `events` reached sink `i` (or were refused by it for good).
  void report_delivered(std::size_t i,
                        const std::vector<std::shared_ptr<const alert::event>>& events) {
    if (!state_sink || events.empty()) return;
    std::lock_guard lock(mu);  // stop() ends the reports: the sink may be destroyed after it
    if (stopping) return;
    std::vector<const char*> ids;
    ids.reserve(events.size());
    for (const auto& e : events) ids.push_back(e->event_id.c_str());
    state_sink->ops->events_delivered(state_sink->instance, sinks[i].sink.name.c_str(), ids.data(),
                                      ids.size());
  }

  // Locations step() just forgot (silent longer than location_ttl): said with who is left.
  static void said_forgotten(const std::string& check, const check_entry& c) {
    std::string left;
    for (const auto& [name, l] : c.state.locations) left += (left.empty() ? "" : ", ") + name;
    spdlog::info(
        "alert: {}: a location silent past location_ttl ({} ms, or 3 intervals when longer) "
        "no longer counts; reporting: {}",
        check, c.settings->location_ttl_ms, left);
  }

  // A result beyond a bound: not tracked, said once.
  void untracked(const char* what, std::size_t bound) {
    if (!said_untracked) {
      spdlog::error("alerts: more than {} {}; results beyond that are not tracked", bound, what);
      said_untracked = true;
    }
  }

  bool idle_locked() const {
    return std::all_of(sinks.begin(), sinks.end(),
                       [](const sink_queue& s) { return s.queue.empty() && !s.in_flight; });
  }

  void run() {
    std::unique_lock lock(mu);
    for (;;) {
      const auto now = clock_type::now();
      std::vector<std::unique_ptr<call>> calls;
      std::optional<clock_type::time_point> wake;
      for (std::size_t i = 0; i < sinks.size(); ++i) {
        sink_queue& s = sinks[i];
        if (s.in_flight || s.queue.empty()) continue;
        if (s.not_before > now) {
          wake = std::min(wake.value_or(s.not_before), s.not_before);
          continue;
        }
        auto c = std::make_unique<call>();
        c->owner = shared_from_this();
        c->sink = i;
        const std::size_t n = std::min(s.queue.size(), max_events_per_call);
        c->events.assign(s.queue.begin(), s.queue.begin() + static_cast<std::ptrdiff_t>(n));
        s.in_flight = true;
        calls.push_back(std::move(c));
      }
      if (!calls.empty()) {
        lock.unlock();
        for (auto& c : calls) {
          for (const auto& ev : c->events) c->views.push_back(ev->view());
          for (const auto& v : c->views) c->pointers.push_back(&v);
          const event_sink& k = sinks[c->sink].sink;  // sinks never change after start
          // A ticket, not the pointer: a second completion is refused (completion_tickets).
          const sink_queue& q = sinks[c->sink];
          void* ticket = completion_tickets::instance().issue(
              c.get(), completion_tickets::intern(q.sink.ctx ? q.sink.ctx->label : q.sink.name));
          if (!ticket) {
            complete(*c, ISITUP_RETRY, "too many completions outstanding");
            continue;
          }
          call* raw = c.release();
          k.ops->write_events(k.instance, raw->pointers.data(), raw->pointers.size(),
                              &impl::on_done, ticket);
        }
        lock.lock();
        continue;
      }
      if (stopping) break;
      if (wake)
        cv.wait_until(lock, *wake);
      else
        cv.wait(lock);
    }
  }

  static void on_done(void* ticket, uint32_t status, const char* message) {
    completion_tickets& tickets = completion_tickets::instance();
    const completion_tickets::redeemed got = tickets.redeem(ticket);
    if (!got.state) {
      tickets.refused(got);
      return;
    }
    std::unique_ptr<call> c(static_cast<call*>(got.state));
    c->owner->complete(*c, status, message);
    if (status != ISITUP_RETRY) c->owner->report_delivered(c->sink, c->events);
  }

  void complete(const call& c, uint32_t status, const char* message) {
    std::lock_guard lock(mu);
    sink_queue& s = sinks[c.sink];
    s.in_flight = false;
    const std::string why = message ? message : "no reason given";
    std::string suffix;
    if (status == ISITUP_RETRY) {
      ++counts.retries;
      const auto wait = backoff(s.attempt++);
      s.not_before = clock_type::now() + wait;
      const std::string text =
          std::to_string(c.events.size()) + " events not delivered, will retry: " + why;
      if (!s.sink.ctx || s.sink.ctx->should_log(ISITUP_LOG_WARN, text, suffix))
        spdlog::warn("[{}] {} (in {} ms){}", s.sink.ctx ? s.sink.ctx->label : s.sink.name, text,
                     wait.count(), suffix);
      cv.notify_all();
      return;
    }
    if (status != ISITUP_OK) {
      counts.refused += c.events.size();
      spdlog::error("[{}] {} events refused for good, dropped: {}",
                    s.sink.ctx ? s.sink.ctx->label : s.sink.name, c.events.size(), why);
    } else {
      counts.delivered += c.events.size();
    }
    s.attempt = 0;
    s.not_before = {};
    for (std::size_t i = 0; i < c.events.size() && !s.queue.empty(); ++i) {
      if (journal) {
        try {
          journal->append_delivered(s.queue.front()->event_id, s.sink.name);
        } catch (const std::exception& e) {
          spdlog::error("alerts: {}", e.what());
        }
      }
      s.queue.pop_front();
    }
    if (journal && journal->size() > alert::journal::compact_threshold()) compact_locked();
    cv.notify_all();
  }
};

alert_tracker::alert_tracker(const config::agent& cfg,
                             std::map<std::string, alert_settings> per_check,
                             std::vector<event_sink> sinks, std::optional<event_sink> state_sink)
    : impl_(std::make_shared<impl>()) {
  impl_->defaults = cfg.alert;
  impl_->configured.reserve(per_check.size());
  while (!per_check.empty()) {  // each name and its settings move over, neither is copied
    auto node = per_check.extract(per_check.begin());
    impl_->configured.emplace(std::move(node.key()), std::move(node.mapped()));
  }
  for (event_sink& s : sinks) impl_->sinks.push_back(impl::sink_queue{std::move(s), {}});
  if (state_sink) {
    restore_from_sink(std::move(*state_sink));
    return;
  }
  if (cfg.state_dir.empty()) {
    spdlog::info(
        "alerts: no agent.state_dir; check state and undelivered events are kept in "
        "memory only and do not survive a restart");
    return;
  }
  alert::journal::contents restored;
  impl_->journal = alert::journal::open(cfg.state_dir, restored);
  if (restored.skipped_lines > 0)
    spdlog::warn(
        "alerts: {} lines of {} could not be read and were dropped (a torn last line "
        "after a crash is one)",
        restored.skipped_lines, impl_->journal->path());
  for (auto& [name, st] : restored.states) {
    impl::check_entry e;
    e.state = std::move(st);
    e.settings = impl_->settings_for(name);
    impl_->checks.emplace(name, std::move(e));
  }
  std::size_t resent = 0, dropped = 0;
  for (auto& p : restored.undelivered) {
    auto ev = std::make_shared<const alert::event>(std::move(p.ev));
    for (const std::string& name : p.sinks) {
      if (const auto i = impl_->sink_index(name)) {
        impl_->sinks[*i].queue.push_back(ev);
        ++resent;
      } else {
        ++dropped;
      }
    }
  }
  if (dropped > 0) {
    spdlog::warn("alerts: {} undelivered events were for sinks no longer configured; dropped",
                 dropped);
    impl_->compact_locked();
  }
  spdlog::info("alerts: state of {} checks restored from {}; {} undelivered events to send",
               impl_->checks.size(), impl_->journal->path(), resent);
}

void alert_tracker::restore_from_sink(event_sink s) {
  impl& p = *impl_;
  alert::loaded_state l = alert::load_from_sink(*s.ops, s.instance, std::chrono::seconds(30));
  p.state_sink = std::move(s);
  if (l.unreadable > 0)
    spdlog::warn("alerts: {} states or events from sink {} could not be read and were dropped",
                 l.unreadable, p.state_sink->name);
  for (auto& [name, c] : l.checks) {
    impl::check_entry e;
    e.state = std::move(c.state);
    e.version = e.persisted = c.version;
    e.settings = p.settings_for(name);
    p.checks.emplace(name, std::move(e));
  }
  std::size_t resent = 0;
  for (auto& u : l.undelivered) {
    auto ev = std::make_shared<const alert::event>(std::move(u.ev));
    for (const std::string& name : u.sinks) {
      if (const auto i = p.sink_index(name)) {
        p.sinks[*i].queue.push_back(ev);
        ++resent;
      } else {  // a sink no longer configured: nobody will deliver it
        const char* id = ev->event_id.c_str();
        p.state_sink->ops->events_delivered(p.state_sink->instance, name.c_str(), &id, 1);
      }
    }
  }
  spdlog::info("alerts: state of {} checks restored from sink {}; {} undelivered events to send",
               p.checks.size(), p.state_sink->name, resent);
}

bool alert_tracker::reload_from_sink(std::chrono::milliseconds timeout) {
  impl& p = *impl_;
  if (!p.state_sink) return true;
  alert::loaded_state l;
  try {
    l = alert::load_from_sink(*p.state_sink->ops, p.state_sink->instance, timeout);
  } catch (const std::exception& e) {
    spdlog::error(
        "alerts: after a partition assignment the state could not be read again from sink {}: "
        "{}; going on with the state in memory",
        p.state_sink->name, e.what());
    return false;
  }
  std::lock_guard lock(p.mu);
  if (p.stopping) return false;
  std::size_t taken = 0, stale_events = 0, queued = 0;
  for (auto& [name, c] : l.checks) {
    auto it = p.checks.find(name);
    if (it == p.checks.end()) {
      if (p.checks.size() >= max_checks) {
        p.untracked("checks", max_checks);
        continue;
      }
      it = p.checks.emplace(name, impl::check_entry{}).first;
      it->second.settings = p.settings_for(name);
    } else if (c.version <= it->second.version) {
      // This tracker's memory got there itself: its own commit (perhaps not confirmed yet), or
      // nobody wrote the check since. Memory is as new or newer.
      continue;
    }
    impl::check_entry& e = it->second;
    stale_events += e.unpersisted.size();
    e.unpersisted.clear();
    e.state = std::move(c.state);
    e.version = e.persisted = c.version;
    e.refreshed_ms = INT64_MIN / 2;
    ++taken;
  }
  if (stale_events > 0)
    spdlog::warn(
        "alerts: {} events decided here were not committed before another writer stored a newer "
        "state of their checks; dropped (that writer decides them)",
        stale_events);
  for (auto& u : l.undelivered) {
    std::shared_ptr<const alert::event> ev;
    for (const std::string& sink : u.sinks) {
      const auto i = p.sink_index(sink);
      if (!i) continue;
      auto& q = p.sinks[*i].queue;
      if (std::any_of(q.begin(), q.end(),
                      [&](const auto& x) { return x->event_id == u.ev.event_id; }))
        continue;
      if (!ev) ev = std::make_shared<const alert::event>(u.ev);
      q.push_back(ev);
      ++queued;
    }
  }
  p.cv.notify_all();
  spdlog::info(
      "alerts: partitions assigned: state of {} checks read again from sink {}, {} taken (stored "
      "by another writer or new here); {} undelivered events queued",
      l.checks.size(), p.state_sink->name, taken, queued);
  return true;
}

void alert_tracker::forget_source_checks() {
  impl& p = *impl_;
  if (!p.state_sink) return;
  std::lock_guard lock(p.mu);
  const std::size_t before = p.checks.size();
  std::erase_if(p.checks, [&](const auto& kv) {
    const impl::check_entry& e = kv.second;
    return e.version == e.persisted && e.unpersisted.empty() && !p.configured.count(kv.first);
  });
  if (before != p.checks.size()) ++p.generation;
  if (before != p.checks.size())
    spdlog::info("alerts: no partitions left: forgot the state of {} checks (it is stored)",
                 before - p.checks.size());
}

std::shared_ptr<const batch_state> alert_tracker::make_batch_state(
    const std::vector<record>& records) {
  if (!impl_->state_sink) return nullptr;
  return impl_->make_batch_state(records);
}

alert_tracker::~alert_tracker() { stop(std::chrono::milliseconds(0)); }

void alert_tracker::start() {
  impl_->thread = std::thread([p = impl_.get()] { p->run(); });
}

void alert_tracker::observe(const record& r) { impl_->observe(r, nullptr); }

void alert_tracker::observe(const record& r, check_ref& ref) { impl_->observe(r, &ref); }

void alert_tracker::configure(const std::string& name, const alert_settings& s) {
  const std::pair<std::string_view, const alert_settings*> one{name, &s};
  configure(std::span(&one, 1));
}

void alert_tracker::configure(
    std::span<const std::pair<std::string_view, const alert_settings*>> many) {
  impl& p = *impl_;
  std::lock_guard lock(p.mu);
  for (const auto& [name, s] : many) {
    // One lookup: a catalog's checks are mostly new names.
    const auto [found, fresh] = p.configured.try_emplace(std::string(name), *s);
    if (!fresh) found->second = *s;
    if (p.checks.empty()) continue;  // a probe taking its catalog: nothing observed yet
    const auto it = p.checks.find(name);
    if (it != p.checks.end()) it->second.settings = &found->second;
  }
}

void alert_tracker::forget(std::span<const std::string_view> names) {
  impl& p = *impl_;
  std::lock_guard lock(p.mu);
  bool erased = false;
  for (const std::string_view name : names) {
    const auto it = p.checks.find(name);
    if (it != p.checks.end()) {
      impl::check_entry& e = it->second;
      if (!e.state.open && e.version == e.persisted && e.unpersisted.empty()) {
        p.checks.erase(it);
        erased = true;
      } else {
        e.settings = &p.defaults;  // its settings entry goes below
      }
    }
    const auto c = p.configured.find(name);
    if (c != p.configured.end()) p.configured.erase(c);
  }
  if (erased) ++p.generation;
}

bool alert_tracker::stop(std::chrono::milliseconds timeout) {
  impl& p = *impl_;
  std::unique_lock lock(p.mu);
  const bool started = p.thread.joinable();
  if (started) p.cv.wait_for(lock, timeout, [&] { return p.idle_locked(); });
  const bool idle = p.idle_locked();
  const bool was_stopping = std::exchange(p.stopping, true);
  p.cv.notify_all();
  lock.unlock();
  if (p.thread.joinable()) p.thread.join();
  lock.lock();
  if (!was_stopping) p.compact_locked();
  return idle;
}

alert_stats alert_tracker::stats() const {
  std::lock_guard lock(impl_->mu);
  alert_stats s = impl_->counts;
  for (const auto& q : impl_->sinks) s.pending += q.queue.size();
  for (const auto& [name, c] : impl_->checks) s.uncommitted += c.unpersisted.size();
  s.checks = impl_->checks.size();
  s.configured = impl_->configured.size();
  return s;
}

std::vector<open_incident> alert_tracker::open_incidents(std::size_t limit) const {
  std::vector<open_incident> out;
  std::lock_guard lock(impl_->mu);
  for (const auto& [name, c] : impl_->checks) {
    if (!c.state.open) continue;
    if (out.size() >= limit) break;
    const alert::incident& i = *c.state.open;
    out.push_back({name, i.id, i.error_kind, i.error_message, i.opened_at_ms, i.locations});
  }
  return out;
}

std::vector<open_incident> alert_tracker::recently_resolved() const {
  std::lock_guard lock(impl_->mu);
  return {impl_->resolved.begin(), impl_->resolved.end()};
}

}  // namespace isitup
