// pg_maintenance: the work a writer does beside writing rows, on a connection of its own:
// finishing migration 6 (moving the rows of a table created before it into partitions, in
// batches), creating partitions ahead, keeping the rollups up to date (pg_rollups.hpp) and
// dropping what is past retention. Every step is its own short transaction, guarded by advisory
// locks, so several writers may run it at once and a writer killed at any point leaves nothing
// half done: the next run goes on from what was committed.
//
// Not thread-safe: one thread owns it (pg_sink's maintenance thread, a test, the benchmark),
// except stop(), which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "pg_partitions.hpp"
#include "pg_schema.hpp"

namespace isitup::pg {

struct maintenance_options {
  std::string conninfo;
  table_names names;
  int64_t statement_timeout_ms = 600'000;  // aggregating a busy day takes a while
  int64_t partition_interval_ms = day_ms;
  int partitions_ahead = 3;            // intervals created ahead of now (besides the current one)
  int64_t retention_ms = 30 * day_ms;  // raw results; 0: keep everything
  int64_t rollup_retention_ms = 400 * day_ms;  // hourly and daily rollups; 0: keep everything
  int64_t move_batch = 50'000;                 // rows moved per transaction (migration 6)
  int64_t move_budget_ms = 5'000;              // moving stops after this much time in one run()
  int64_t rollup_grace_ms = 120'000;           // a bucket is rolled up this long after it closed
};

// What one run() did (for the log).
struct maintenance_report {
  int64_t moved = 0;                     // rows moved out of <table>_unpartitioned
  int64_t left_to_move = -1;             // estimate of the rows still there; -1: none (done)
  bool moved_all = false;                // this run dropped the emptied old table
  std::vector<std::string> created;      // partitions created ahead
  std::vector<partition_range> dropped;  // partitions dropped (past retention)
  int64_t hours_rolled_up = 0, days_rolled_up = 0;
  int64_t rollup_marks_discarded = 0;  // buckets whose raw rows were dropped by hand
  int64_t rollup_rows_deleted = 0;     // rollups past rollup_retention
  std::vector<std::string> skipped;    // a step that failed, with why (retried next run)
};

class pg_maintenance {
 public:
  explicit pg_maintenance(maintenance_options options);
  ~pg_maintenance();
  pg_maintenance(const pg_maintenance&) = delete;
  pg_maintenance& operator=(const pg_maintenance&) = delete;

  // Runs every step as of `now_ms` (epoch ms). Connects (and migrates) first if needed; throws
  // std::exception when it cannot connect. A failing step is listed in `skipped` and the
  // connection is dropped; the others still run.
  maintenance_report run(int64_t now_ms);

  // Only the rollup step, as of now_ms (tests, the benchmark).
  void roll_up(int64_t now_ms, maintenance_report& report);

  // Cancels the statement running now (a long aggregation, a lock wait) and makes run() and
  // roll_up() give up at their next step: for a prompt shutdown. Any thread.
  void stop();

  const maintenance_options& options() const { return options_; }
  int backend_pid() const;

 private:
  void connect();
  template <class Step>
  void step(const char* what, maintenance_report& report, Step&& s);

  maintenance_options options_;
  std::mutex mu_;  // guards conn_ against stop() from another thread
  std::unique_ptr<pqxx::connection> conn_;
  std::atomic<bool> stopped_{false};
};

}  // namespace isitup::pg
