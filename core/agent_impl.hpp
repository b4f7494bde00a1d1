// The agent's insides, shared by agent.cpp (runs, the scheduling loop, shutdown) and
// agent_setup.cpp (plugins, checks, sinks and sources from the config; SIGHUP reload).
// Internal to core: not installed, not for plugins. Which thread touches what: THREADS.md.
#pragma once

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <isitup/core/alert_tracker.hpp>
#include <isitup/core/catalog_feed.hpp>
#include <isitup/core/check_history.hpp>
#include <isitup/core/host_services.hpp>
#include <isitup/core/http_server.hpp>
#include <isitup/core/metrics_text.hpp>
#include <isitup/core/pipeline.hpp>
#include <isitup/core/record.hpp>
#include <isitup/core/run_tracker.hpp>
#include <isitup/core/scheduler.hpp>
#include "agent.hpp"
#include "reload_loader.hpp"
#include "worker_pool.hpp"

namespace isitup {

// One created plugin instance: a check plugin's (shared by its checks), a sink or a source.
struct plugin_instance {
  std::shared_ptr<loaded_plugin> loaded;  // the plugin's code: its ops tables and schemas
  std::unique_ptr<isitup_host_ctx> ctx;
  std::unique_ptr<isitup_options> options;
  void* instance = nullptr;
  // Check plugins: agent.max_in_flight_per_plugin, and the runs counted against it (from
  // fire() until the run completes or the watchdog ends it, like max_in_flight).
  int max_in_flight = INT_MAX;
  std::atomic<int> in_flight{0};
  const char* owner = nullptr;  // ctx->label, interned: names the plugin for completion tickets
  // Check plugins, for /metrics: runs started and completed (by the plugin or the watchdog).
  std::atomic<uint64_t> runs_started{0}, runs_finished{0}, runs_up{0}, runs_down{0};
  // Sources, their partition share (isitup_host_v1.source_partitions): -1 never said (not
  // partitioned), 0 nothing assigned (joining, or all revoked), 1 assigned (perhaps 0
  // partitions). `partitions` belongs to the source's submitting thread.
  std::atomic<int> assignment{-1};
  std::set<int32_t> partitions;
  std::atomic<std::size_t> partition_count{0};  // partitions.size(), for other threads
};

// One configured check, prepared by its plugin.
struct check_state {
  config::check cfg;
  plugin_instance* plugin = nullptr;  // the check plugin's instance
  std::unique_ptr<isitup_options> options;
  void* handle = nullptr;  // the plugin's prepared check
  // Runs handed to the plugin (or queued for a worker) that it has not returned yet. A check
  // retired by a reload is released only once this is 0 (release() wants no run in flight).
  std::atomic<int> plugin_runs{0};
  // Blocking checks: a run is queued for a worker or inside start(), since entered_ms. The
  // check is not started again until start() returns (see agent::impl::fire).
  std::atomic<bool> in_plugin{false};
  std::atomic<int64_t> entered_ms{0};
  // Its recent results, with agent.http only (else null). Fed by complete().
  std::shared_ptr<check_ring> history;
  // Its state in the alert tracker, found on its first result (used under the tracker's lock).
  alert_tracker::check_ref alert_ref;
};

struct agent::impl {
  config::agent cfg;
  plugin_host& host;
  monotonic_clock clock;

  std::map<std::string, std::unique_ptr<plugin_instance>> check_plugins;
  // Indexed by scheduler id (ids are dense and never reused); null once a reload retired it.
  // Scheduler thread only: runs reach their check through run_ctx::cstate.
  std::vector<std::unique_ptr<check_state>> checks;
  std::vector<std::unique_ptr<check_state>> retired;  // removed by a reload, runs still out
  std::vector<std::unique_ptr<plugin_instance>> sinks;
  std::vector<std::unique_ptr<plugin_instance>> sources;
  std::map<const std::vector<option_schema>*, std::shared_ptr<const option_values>>
      defaults_by_schema;

  std::unique_ptr<pipeline> pipe;
  // Sinks that take events (set_up_sinks), and the tracker that feeds them (start_services).
  std::vector<event_sink> event_sinks;
  // The sink that keeps alert state with its rows (ISITUP_SINK_ALERT_STATE), if any, and its
  // index among the pipeline's sinks.
  std::optional<event_sink> state_sink;
  std::size_t state_sink_index = 0;
  // The first sink that stores sources' positions with its rows (ISITUP_SINK_POSITIONS): it
  // answers claims and is the only one to see batches' positions.
  plugin_instance* positions_sink = nullptr;
  std::size_t positions_sink_index = 0;
  std::unique_ptr<alert_tracker> alerts;
  std::unique_ptr<scheduler> sched;
  std::unique_ptr<worker_pool> pool;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool reload_requested = false;
  run_tracker runs;  // runs in flight: their deadlines, how many are out

  std::atomic<uint64_t> up{0}, down{0}, skipped_queue_full{0}, skipped_plugin_bound{0},
      skipped_in_plugin{0}, ended_by_host{0}, abandoned{0};
  std::shared_ptr<run_gate> gate = std::make_shared<run_gate>();

  // The HTTP interface (agent.http), while run() runs. The main loop stores the time of each
  // of its turns in heartbeat_ms (/healthz); serving is true from start to stop (/readyz).
  std::unique_ptr<http_service> http_svc;
  std::unique_ptr<http_server> http;
  std::atomic<int64_t> heartbeat_ms{0};
  std::atomic<bool> serving{false};
  check_history history;
  // How late runs start (fire time - scheduled time); the scheduler's counters as of the main
  // loop's last turn; SIGHUP reloads. For /metrics.
  latency_histogram lateness;
  std::mutex sched_stats_mu;
  scheduler_stats sched_stats;
  std::atomic<uint64_t> reloads_ok{0}, reloads_failed{0};
  std::atomic<int64_t> config_loaded_ms{0};  // start, then each applied reload
  int64_t started_ms = 0;
  // The check plugins' instances by name, for the listener's threads (check_plugins grows on
  // a reload). Instances live until the agent goes, after the listener.
  std::mutex http_plugins_mu;
  std::vector<std::pair<std::string, const plugin_instance*>> http_plugins;
  std::atomic<bool> abandon_queued{false};

  // SIGHUP reload in progress: the loader reads and plans the file off this thread; the new
  // checks are then prepared here a slice at a time, between runs, and swapped in at once.
  std::unique_ptr<reload_loader> loader;
  std::optional<reload_loader::result> loaded;
  std::vector<std::unique_ptr<check_state>> prepared;  // for loaded->plan.add, in order
  bool reload_again = false;  // a SIGHUP came while a reload was in progress

  // Catalog mode (cfg.catalog): the catalog plugin's instance, what it reports, and the
  // catalog as this agent sees it (scheduler thread only; agent_catalog.cpp). Each key lives
  // in the partition of its last message; a message read again (an offset not past the last
  // one taken from its partition) changes nothing.
  static constexpr uint32_t no_check = UINT32_MAX;
  struct catalog_key {
    int32_t partition = -1;  // of its last message
    int64_t offset = -1;     // of its last message
    // Its last message, read (on the plugin's thread), while not applied yet: the check, or
    // why the message is not one. By pointer: 100k entries stay small in the hash map.
    std::unique_ptr<config::check> check;
    std::string error;
    uint32_t id = no_check;  // the running check made from it, if any
    bool queued = false;     // in catalog_todo
    // Its last message is a tombstone, or its partition was revoked while it was queued; not
    // applied yet (catalog_apply erases it).
    bool deleted = false;
  };
  using catalog_entry = std::pair<const std::string, catalog_key>;
  struct catalog_tally {  // what the applies since the last log line did
    std::size_t changed = 0, added = 0, removed = 0, refused = 0;
  };
  std::unique_ptr<plugin_instance> catalog;
  std::unique_ptr<catalog_feed> feed;
  // Reads messages against cfg (which does not change in catalog mode); the plugin's thread.
  std::unique_ptr<config::catalog_reader> catalog_read;
  std::map<int32_t, int64_t> catalog_partitions;  // assigned: the last offset taken from each
  std::unordered_map<std::string, catalog_key> catalog_keys;
  // Keys to apply, in the order their messages came: elements of catalog_keys (which keep their
  // address through rehashes); a queued key is erased only by catalog_apply.
  std::vector<catalog_entry*> catalog_todo;
  std::size_t catalog_next = 0;           // catalog_todo[catalog_next..] are left
  std::vector<std::string> catalog_gone;  // names retired for good, not yet forgotten
  std::size_t catalog_running = 0;        // keys with a running check
  catalog_tally catalog_done;
  std::set<int32_t> catalog_kept;  // lost partitions whose checks run until the next assignment
  bool catalog_wake = false;       // guarded by mu

  impl(config::agent c, plugin_host& h) : cfg(std::move(c)), host(h) {}
  ~impl();

  // Set-up from the config (agent_setup.cpp). Main thread.
  std::shared_ptr<loaded_plugin> load(const std::string& name, const config::location& where);
  static void require_kind(const loaded_plugin& p, uint32_t kind, const char* what,
                           const config::location& where);
  // The given options of one section, plus the schema's defaults, computed once per schema
  // and shared by every section that uses it.
  std::unique_ptr<isitup_options> options_for(const config::raw_options& raw,
                                              const std::vector<option_schema>& schema,
                                              const std::string& section);
  void set_up();
  void set_up_checks();
  // Loads the check's plugin (once per plugin), validates its options and has the plugin
  // prepare it. Throws config_error at the check's line. Main thread.
  std::unique_ptr<check_state> prepare_check(config::check c);
  // The instance of check plugin `name`, loaded and created on first use.
  plugin_instance* check_plugin(const std::string& name, const config::location& where);
  void release_check(check_state& c);
  // A sink's or source's instance (kind ISITUP_KIND_SINK or ISITUP_KIND_SOURCE) from section
  // `index` of its list: loaded, checked to be of that kind, options validated, created; its
  // label is "<plugin>.sink<index>" or "<plugin>.source<index>". Throws config_error.
  std::unique_ptr<plugin_instance> create_instance(const config::plugin_section& sec, uint32_t kind,
                                                   std::size_t index);
  // Sinks wired to the pipeline and the alert tracker; sources to the pipeline (submit) and
  // to on_partitions.
  void set_up_sinks();
  void set_up_sources();
  // A source's share changed (its thread): reload or forget alert state, keep /readyz's view.
  void on_partitions(plugin_instance& source, uint32_t change, const int32_t* parts,
                     std::size_t count);
  // A source claims partitions (its thread): the positions sink's claim, retried until
  // timeout_ms; without such a sink every item reads "nothing stored, no epoch".
  uint32_t claim_positions(isitup_positions_v1& claim, int64_t timeout_ms, std::string& why);
  void set_up_catalog();

  // Catalog mode (agent_catalog.cpp). Scheduler (main) thread.
  // Releases the file's checks and joins the catalog's group.
  void start_catalog();
  void stop_catalog();
  // Takes what the catalog reported, when due: partitions assigned and revoked (a revoked
  // partition's checks stop here, before the plugin hears back), messages queued per key;
  // then applies queued keys for a few ms (catalog_apply_some), and asks to be called again
  // at once while keys are left, so the scheduler runs due checks in between.
  void catalog_step(int64_t now);
  void catalog_take();
  // Stops every check of partition `p` and forgets its keys (a queued one is marked deleted,
  // for catalog_apply to erase).
  void catalog_drop_partition(int32_t p);
  void catalog_queue(catalog_entry& e);
  // True once catalog_todo is empty.
  bool catalog_apply_some();
  // One key: a changed definition replaces its check (an unchanged one keeps its grid), a
  // deleted one stops, a message that is not a valid check is logged with its partition and
  // offset and skipped (the key then runs nothing). Returns the check it started, if any.
  const check_state* catalog_apply(catalog_entry& e);
  // Stops k's check; `gone`: it runs here no more (deleted, its partition gone, its new value
  // refused), so its alert settings and state are forgotten at the next catalog_forget_gone.
  void catalog_retire(catalog_key& k, bool gone);
  // Tells the alert tracker the names catalog_retire collected. Before configuring the checks
  // a slice started, so a name deleted and added again keeps its new settings.
  void catalog_forget_gone();
  bool take_catalog_wake();
  // From the catalog plugin's session timeout (catalog_feed::stall_limits_for); the defaults
  // for a plugin that does not say, or without a catalog.
  catalog_feed::stall_limits catalog_stall_limits() const;

  // Runs (agent.cpp).
  void fire(uint32_t id, int64_t scheduled_ms);
  // A blocking run still queued for a worker at shutdown: it never started, so it yields no
  // result; its queue slot is given back. True when the run was abandoned here.
  bool abandon(run_ctx& run);
  static void on_done(void* ticket, const isitup_record_v1* result);
  // A blocking run on its worker thread: calls the plugin, then tidies up after it.
  void run_blocking(run_ctx& run);
  // Checks whose blocking start() is running past timeout + grace at `now`.
  std::vector<const check_state*> stuck_checks(int64_t now) const;
  // Shutdown: waits for blocking starts (up to their timeout + grace), then gives up on the
  // rest and names them. True when some were given up.
  bool give_up_stuck_runs();
  void complete(const run_ctx& run, record r);
  // Ends runs past their deadline with a timeout result. Scheduler thread.
  void run_watchdog(int64_t now);
  // The watchdog ended a blocking run whose start() is still running: log it, and start a
  // thread in its place (bounded). Scheduler thread.
  void note_stuck(run_ctx& run, int64_t now);
  // Waits until notified or `until_ms` on the agent clock.
  void wait_until(int64_t until_ms);
  bool stopping();
  // Counts a run out and wakes a thread waiting for that (run_tracker::wake_on_end).
  void run_ended();
  int64_t max_timeout() const;
  // Whether check `id`'s plugin is below its agent.max_in_flight_per_plugin. Scheduler thread
  // (the only one that adds to in_flight, so the answer holds until fire()).
  bool plugin_has_room(uint32_t id) const;

  // Life cycle (agent.cpp).
  void start_services();
  // Starts the HTTP listener when agent.http is set. Throws config_error when it cannot bind.
  void start_http();
  // Hands the rings of the running checks, in order, to `history`, and the check plugins to
  // http_plugins (agent.http only). Main thread, after set-up and each applied reload.
  void publish_checks();
  // Waits for runs in flight (their timeout + grace at most), then delivers everything.
  bool shut_down();
  void log_status();
  // "; counters: label {name=value, ...}; ..." of every plugin instance with a non-zero
  // counter (counter_add), or empty.
  std::string plugin_counters() const;

  // SIGHUP reload (agent_setup.cpp). Scheduler (main) thread.
  bool take_reload_request();
  // Re-reads the config file and applies its checks: unchanged ones keep their schedule,
  // removed ones stop (runs in flight still deliver), changed and new ones start at their
  // phase. All or nothing: a config error, or a check its plugin refuses, leaves everything
  // as it was. Sinks, sources and agent settings need a restart (said, not applied).
  // Never blocks the scheduler for long: each call does one step (start the loader, take
  // its result, prepare new checks for a few ms, swap) and asks to be called again
  // (reload_requested) while there is more to do.
  void reload();
  // Prepares the loaded plan's new checks for a few ms; true once all are prepared. Throws
  // config_error when the plugin refuses one.
  bool prepare_some();
  void apply_reload();
  void drop_reload();
  void want_reload_step();
  // Releases retired checks whose runs have all come back from their plugin.
  void release_retired();
  // The worker pool for blocking plugins, created once the first one is in use.
  void ensure_pool();
};

}  // namespace isitup
