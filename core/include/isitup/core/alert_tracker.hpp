// Turns the agent's results into state and incidents (alert_state) and hands every
// transition, as an event, to the sinks that take events: every such sink that is not a
// notifier, and the notifiers a check names in its alert `notify`. Delivery is at least once:
// with a state_dir the event is in the journal (fsync'd) before any sink sees it, a sink's
// ISITUP_RETRY gets the same events again after a backoff, and after a restart every event a
// sink had not confirmed is sent again with the same id. Per sink, events go out in the order
// they were decided (so in order per check), one write_events call at a time.
//
// With a state sink (a sink with ISITUP_SINK_ALERT_STATE, pg_sink on a writer) there is no
// journal: the state comes from the sink at start (load_state), every batch the pipeline
// makes carries the state and events its records produced (make_batch_state), and an event
// goes to the sinks only after the state sink committed it with its batch. Each delivery is
// then reported back to the state sink (events_delivered).
//
// Bounds (results from a source are hostile): at most 100 000 checks and 64 locations per
// check are tracked, at most 100 000 events wait per sink and 100 per check for the state
// sink's commit; beyond them results go untracked or events are dropped (oldest first for the
// commit), with an error logged and counted (stats).
//
// Threads: observe() from any thread (check completions, source submissions). One event
// thread calls write_events; completions come on any thread. start/stop from the main thread.
#pragma once

#include <isitup/plugin.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <isitup/core/config.hpp>
#include <isitup/core/pipeline.hpp>
#include <isitup/core/record.hpp>

struct isitup_host_ctx;

namespace isitup {

struct event_sink {
  std::string name;                         // the sink's config name
  const isitup_sink_ops_v1* ops = nullptr;  // write_events is non-NULL
  void* instance = nullptr;
  isitup_host_ctx* ctx = nullptr;  // for the log label and rate limiting
  bool notifier = false;
};

struct alert_stats {
  uint64_t transitions = 0;  // events decided
  uint64_t delivered = 0;    // (event, sink) deliveries confirmed
  uint64_t retries = 0;      // write_events calls answered ISITUP_RETRY
  uint64_t refused = 0;      // (event, sink) pairs refused for good (ISITUP_ERROR)
  std::size_t pending = 0;   // (event, sink) pairs not yet confirmed
  // With a state sink: events it has not committed yet, and those dropped past the bound of
  // 100 per check (a check whose batches the sink keeps refusing).
  std::size_t uncommitted = 0;
  uint64_t uncommitted_dropped = 0;
  std::size_t checks = 0;      // checks with state in memory
  std::size_t configured = 0;  // checks with their own settings
};

// An incident as the HTTP interface shows it: open, or recently resolved.
struct open_incident {
  std::string check, id, error_kind, error_message;
  int64_t opened_at_ms = 0;
  std::vector<std::string> locations;
  int64_t resolved_at_ms = 0;  // 0: open
};

class alert_tracker {
 public:
  // `per_check`: the alert settings of each configured check, by name; any other check (one a
  // source feeds) takes cfg.alert (defaults.alert). With cfg.state_dir, opens the journal,
  // restores state and queues every undelivered event; throws std::runtime_error when it
  // cannot.
  // With `state_sink`: restores from it instead (throws std::runtime_error when it cannot).
  alert_tracker(const config::agent& cfg, std::map<std::string, alert_settings> per_check,
                std::vector<event_sink> sinks, std::optional<event_sink> state_sink = {});
  ~alert_tracker();  // stop()s
  alert_tracker(const alert_tracker&) = delete;
  alert_tracker& operator=(const alert_tracker&) = delete;

  void start();
  // A SIGHUP reload: the settings of configured check `name` from now on (its state stays).
  void configure(const std::string& name, const alert_settings& s);
  // Where one check's state sits in the tracker, once its first result was observed: lets
  // observe() skip the lookup by name. Opaque; empty until then. A ref stays valid across
  // configure() and reloads of state; when the tracker forgets checks (forget_source_checks)
  // every ref is looked up again on its next use.
  class check_ref {
    friend class alert_tracker;
    void* entry_ = nullptr;
    uint64_t generation_ = 0;
  };
  // The same for many checks under one lock (a catalog's checks as they are applied). The
  // settings are copied.
  void configure(std::span<const std::pair<std::string_view, const alert_settings*>> many);
  // Checks that no longer run here (a catalog check deleted, its partition gone, or its new
  // value refused): their settings are dropped, and their state too unless an incident is open
  // or something of it is not stored yet (then it stays, with the default settings). Keeps a
  // probe whose catalog changes all day from holding every name it ever ran. Any thread.
  void forget(std::span<const std::string_view> names);
  // Feeds one result. A journal write failure is logged and the event still goes out.
  void observe(const record& r);
  // The same for a result of the check `ref` belongs to (r.check is that check's name); fills
  // `ref` on first use. `ref` is read and written under the tracker's lock: one ref per check
  // may be used from several threads.
  void observe(const record& r, check_ref& ref);
  // Waits up to `timeout` for every event to be confirmed, ends the event thread and writes
  // every check's state to the journal. True when nothing was left undelivered. A completion
  // arriving later is still accepted (and marked).
  bool stop(std::chrono::milliseconds timeout);

  alert_stats stats() const;
  // The incidents open now (at most `limit`), by check name. Any thread.
  std::vector<open_incident> open_incidents(std::size_t limit = 10000) const;
  // The last `max_recent_resolved` incidents this tracker saw resolve, oldest first (kept in
  // memory only). Any thread.
  static constexpr std::size_t max_recent_resolved = 100;
  std::vector<open_incident> recently_resolved() const;

  // With a state sink: the state and events a batch of these records carries to it (nullptr
  // when nothing of their checks is left to commit). Any thread.
  std::shared_ptr<const batch_state> make_batch_state(const std::vector<record>& records);

  // A source's partition share grew (Kafka rebalance): with a state sink, reads the stored
  // state again (load_state, up to `timeout`) and takes each stored state whose version this
  // tracker's memory of the check never reached (another writer stored it; or the check is new
  // here): uncommitted events of such a check are dropped, said. Outbox events not queued here are
  // queued (their earlier owner may have died mid-delivery: same ids). The host does not know
  // which checks a partition holds, so this covers every check. False (logged) when the sink
  // could not load: memory stays as it was. No-op without a state sink. Any thread but the
  // event thread; blocks.
  bool reload_from_sink(std::chrono::milliseconds timeout);
  // Every partitioned source's share is empty (revoked): forgets the state of checks fed from
  // elsewhere (not configured here) that have nothing uncommitted; reload_from_sink brings back
  // what a later assignment needs. No-op without a state sink. Any thread.
  void forget_source_checks();

 private:
  void restore_from_sink(event_sink s);

  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace isitup
