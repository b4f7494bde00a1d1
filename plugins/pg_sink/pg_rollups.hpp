// Hourly and daily rollups of the results table (migration 7), kept up to date incrementally:
//
// - The writer, in the transaction that inserts rows, appends one mark per hour those rows fall
//   in to <table>_rollup_todo (an append-only list: no row is updated, so concurrent writers
//   never wait for each other).
// - roll_up_closed() takes the marks of hours (days) that have closed, aggregates each such
//   bucket again from the raw rows, replaces its rows in <table>_rollup_hourly (_daily) and
//   deletes exactly the marks it read, all in one transaction. A mark committed after that
//   transaction's snapshot stays, so a late row's hour is aggregated again on a later run; a
//   run killed at any point leaves the marks, and the next run does the same work again.
//   Aggregating a bucket twice gives the same rows (idempotent under replay).
// - An hour aggregated also marks its day; days are aggregated from the raw rows of the day
//   (exact percentiles), not from the hours.
//
// One row per (check_name, location, bucket) (location '' when the results had none):
// results, up, uptime (= up / results), p50_ms, p95_ms and max_ms of the total time of the
// up results (NULL when none had one), errors: {"<error kind>": count} of the down results.
//
// Functions take a connection or transaction; one thread at a time per connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <pqxx/pqxx>
#include <string>

#include "pg_schema.hpp"

namespace isitup::pg {

// The statement that marks the hours of the rows in the writer's staging table (run in the
// transaction that inserts them).
std::string mark_staged_hours_sql(const quoted_names& q);

struct rollup_counts {
  int64_t hours = 0, days = 0;  // buckets aggregated
  int64_t discarded = 0;        // marks of buckets whose raw rows are no longer all there
  bool busy = false;            // another connection was rolling up this table
};

// Aggregates every marked bucket that closed at least `grace_ms` before `now_ms`, in
// transactions of at most `buckets_per_transaction` buckets, until none is left. Skips (busy)
// while another connection rolls up the same table (advisory lock). A bucket some part of
// which has no partition any more (dropped by hand) is not aggregated again: its marks are
// discarded. Throws pqxx errors (what was committed stays).
// Stops before its next transaction once *stop is true.
rollup_counts roll_up_closed(pqxx::connection_base& c, const table_names& n, const quoted_names& q,
                             int64_t now_ms, int64_t grace_ms = 120'000,
                             int buckets_per_transaction = 24,
                             const std::atomic<bool>* stop = nullptr);

// Marks every hour in [from_ms, to_ms) to be rolled up again (rows loaded or changed by SQL).
void mark_hours_between(pqxx::transaction_base& tx, const quoted_names& q, int64_t from_ms,
                        int64_t to_ms);

// Deletes hourly and daily rollups of buckets that started before `cutoff_ms`; returns rows.
int64_t delete_rollups_before(pqxx::transaction_base& tx, const quoted_names& q, int64_t cutoff_ms);

// Statements of migration 7 (tables, indexes, views; marks for every hour of the existing
// partitions, so that the rows already there are rolled up too).
std::vector<std::string> rollup_migration(const quoted_names& q);

}  // namespace isitup::pg
