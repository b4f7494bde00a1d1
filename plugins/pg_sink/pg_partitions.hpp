// The results table's time partitions (migration 6: PARTITION BY RANGE (scheduled_at)):
// creating them ahead and on demand, dropping those past retention, and moving the rows of a
// table created before migration 6 (<table>_unpartitioned) into them in batches.
//
// Partitions are named <table>_pYYYYMMDD (or _pYYYYMMDDHHMM when they do not start at midnight
// UTC) and cover [start, start + interval), start a multiple of the interval since the epoch
// (daily partitions start at midnight UTC). Partitions made with another interval, or attached
// by hand, are respected: a new one is clipped to the gap between its neighbours. Every change
// takes a transaction-scoped advisory lock per table, so concurrent writers never race.
//
// Functions take a transaction and change nothing outside it; the caller commits. Any thread,
// one transaction per connection (libpqxx). Throw pqxx errors.
#pragma once

#include <cstdint>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "pg_schema.hpp"

namespace isitup::pg {

constexpr int64_t hour_ms = 3'600'000;
constexpr int64_t day_ms = 86'400'000;

// Throws std::invalid_argument("partition_interval: ...") unless `ms` is a whole number of
// hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or 1 to 31 whole days.
void validate_partition_interval(int64_t ms);

// Parses a retention option: "0" (keep everything, returns 0) or a duration of at least an
// hour. Throws std::invalid_argument("<what>: ...").
int64_t parse_retention(const std::string& text, const char* what);

struct partition_range {
  std::string name;  // unqualified
  int64_t from_ms;   // inclusive (INT64_MIN: MINVALUE)
  int64_t to_ms;     // exclusive (INT64_MAX: MAXVALUE)
};

// The table's range partitions, ordered by start (a DEFAULT partition is left out).
std::vector<partition_range> list_partitions(pqxx::transaction_base& tx, const quoted_names& q);

// True when the results table is partitioned (migration 6; an operator may have made it a
// plain table again: then nothing here is done to it).
bool is_partitioned(pqxx::transaction_base& tx, const quoted_names& q);

// True when one of `parts` (ordered) holds `ms`.
bool covered(const std::vector<partition_range>& parts, int64_t ms);

// Creates the missing partitions that hold each of `times_ms` (under the lock, after listing
// again), updates `parts` (ordered, as list_partitions returns them) and returns the names
// created. Partitions are created as tables and then attached (SHARE UPDATE EXCLUSIVE on the
// results table: writers are not blocked).
std::vector<std::string> ensure_partitions(pqxx::transaction_base& tx, const table_names& n,
                                           const quoted_names& q, int64_t interval_ms,
                                           const std::vector<int64_t>& times_ms,
                                           std::vector<partition_range>& parts);

// ensure_partitions for every interval that starts in [from_ms, to_ms) (and the one holding
// from_ms): for loading rows by SQL (a restore, tests).
std::vector<std::string> ensure_partitions_between(pqxx::transaction_base& tx, const table_names& n,
                                                   const quoted_names& q, int64_t interval_ms,
                                                   int64_t from_ms, int64_t to_ms);

// The partitions wholly before `cutoff_ms` (to_ms <= cutoff_ms), dropped under the lock;
// waits at most `lock_timeout_ms` for writers to let go of the table. Returns what it dropped.
std::vector<partition_range> drop_partitions_before(pqxx::transaction_base& tx,
                                                    const table_names& n, const quoted_names& q,
                                                    int64_t cutoff_ms,
                                                    int64_t lock_timeout_ms = 10'000);

// Copies about `limit` rows of <table>_unpartitioned (nothing writes to it after migration 6)
// into the partitioned table, a range of its blocks at a time (creating the partitions they
// need), and records the next block in the old table's comment in the same transaction: a run
// killed at any point goes on from the last committed range, and a range copied twice changes
// nothing (ON CONFLICT DO NOTHING). Marks the rows' hours for the rollups when the rollup
// tables exist. Drops the old table after its last block. Returns the rows read, or -1 when
// there is no old table (nothing left to do). Skips (returns 0) while another connection
// moves rows of the same table.
int64_t move_unpartitioned(pqxx::transaction_base& tx, const table_names& n, const quoted_names& q,
                           int64_t interval_ms, int64_t limit);

// Rows left in <table>_unpartitioned as the planner estimates them (-1: no such table).
int64_t unpartitioned_estimate(pqxx::transaction_base& tx, const quoted_names& q);

// The advisory lock key text of a table's partition changes.
std::string partition_lock_key(const table_names& n);

}  // namespace isitup::pg
