// The agent: turns a validated config into loaded plugins, prepared checks, a scheduler and
// a pipeline, and runs them. main() parses the command line and calls into this.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <isitup/core/config.hpp>
#include <isitup/core/plugin_host.hpp>

namespace isitup {

struct run_summary {
  uint64_t up = 0;
  uint64_t down = 0;
  bool delivered = true;  // every result reached every sink
};

struct publish_summary {
  std::size_t added = 0, changed = 0, removed = 0, unchanged = 0;
};

class agent {
 public:
  // Loads the plugins the config names, validates their options and prepares every check.
  // Creates every plugin instance but starts nothing (no thread, no source, no run): so
  // constructing and destroying an agent is how --check-config validates option values.
  // Throws config::config_error (bad options, a check its plugin refuses) or plugin_error.
  agent(config::agent cfg, plugin_host& plugins);
  ~agent();
  agent(const agent&) = delete;
  agent& operator=(const agent&) = delete;

  // Runs every check once (bounded by max_in_flight), delivers the results, shuts down.
  run_summary run_once();
  // Runs checks on their schedule until request_stop(); then stops scheduling, waits for runs
  // in flight (up to their timeout), delivers and flushes everything, shuts down.
  run_summary run();
  // Async-signal-unsafe; call from any ordinary thread (main's signal thread does).
  void request_stop();
  // Asks run() to re-read the config file and apply its checks (SIGHUP): see impl::reload.
  // Same thread rules as request_stop(); ignored by run_once().
  void request_reload();

  // --publish-checks: makes the config's catalog hold exactly the config's checks: new and
  // changed ones written, removed ones deleted (tombstones), unchanged ones left alone. With
  // dry_run it only reads the catalog and counts. Main thread, instead of run(). Throws
  // config::config_error (no catalog: section) or std::runtime_error (the catalog failed).
  publish_summary publish_checks(bool dry_run);

 private:
  friend class agent_http;  // the HTTP interface reads the running agent
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace isitup
