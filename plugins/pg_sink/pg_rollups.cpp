#include "pg_rollups.hpp"

#include <map>
#include <utility>
#include <vector>

#include "pg_partitions.hpp"
#include "pg_rejects.hpp"

namespace isitup::pg {
namespace {

// The rollup rows of one bucket [$1, $2), computed from the raw rows (partition pruning on
// the two parameters). Percentiles and max over the up results' total time.
std::string aggregate_sql(const quoted_names& q, const std::string& rollup) {
  return "WITH r AS MATERIALIZED (SELECT check_name, coalesce(location, '') AS location, status,"
         " total_ms, error_kind FROM " +
         q.table +
         " WHERE scheduled_at >= $1::timestamptz AND scheduled_at < $2::timestamptz),"
         " e AS (SELECT check_name, location, jsonb_object_agg(kind, n) AS errors FROM"
         " (SELECT check_name, location, coalesce(error_kind, 'unknown') AS kind, count(*) AS n"
         " FROM r WHERE status = 'down' GROUP BY 1, 2, 3) k GROUP BY 1, 2)"
         " INSERT INTO " +
         rollup +
         " (check_name, location, bucket, results, up, p50_ms, p95_ms, max_ms, errors)"
         " SELECT a.check_name, a.location, $1::timestamptz, a.results, a.up, a.p50, a.p95,"
         " a.mx, coalesce(e.errors, '{}'::jsonb) FROM (SELECT check_name, location,"
         " count(*) AS results, count(*) FILTER (WHERE status = 'up') AS up,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up')"
         " AS p50,"
         " percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up')"
         " AS p95,"
         " max(total_ms) FILTER (WHERE status = 'up') AS mx FROM r GROUP BY 1, 2) a"
         " LEFT JOIN e USING (check_name, location)";
}

std::string rollup_table(const std::string& name) {
  return "CREATE TABLE " + name +
         " (check_name text NOT NULL,"
         " location text NOT NULL,"
         " bucket timestamptz NOT NULL,"
         " results bigint NOT NULL,"
         " up bigint NOT NULL,"
         " uptime double precision GENERATED ALWAYS AS (up::double precision / results) STORED,"
         " p50_ms double precision,"
         " p95_ms double precision,"
         " max_ms double precision,"
         " errors jsonb NOT NULL,"
         " PRIMARY KEY (check_name, location, bucket))";
}

std::string rollup_view(const std::string& view, const std::string& rollup, const char* column) {
  return "CREATE VIEW " + view + " AS SELECT check_name, location, bucket AS " + column +
         ", results, up, round(100.0 * up / results, 2) AS uptime_pct, p50_ms, p95_ms, max_ms,"
         " errors FROM " +
         rollup;
}

// Every whole hour of [from, to) is in a partition.
bool raw_complete(const std::vector<partition_range>& parts, int64_t from, int64_t to) {
  for (int64_t t = from; t < to; t += hour_ms)
    if (!covered(parts, t) || !covered(parts, t + hour_ms - 1)) return false;
  return true;
}

}  // namespace

std::string mark_staged_hours_sql(const quoted_names& q) {
  return "INSERT INTO " + q.rollup_todo +
         " (length, bucket) SELECT DISTINCT 'hour', date_trunc('hour', scheduled_at, 'UTC')"
         " FROM pg_temp.isitup_staging";
}

std::vector<std::string> rollup_migration(const quoted_names& q) {
  return {rollup_table(q.rollup_hourly), rollup_table(q.rollup_daily),
          "CREATE INDEX ON " + q.rollup_hourly + " (bucket)",
          "CREATE INDEX ON " + q.rollup_daily + " (bucket)",
          "CREATE TABLE " + q.rollup_todo +
              " (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
              " length text NOT NULL CHECK (length IN ('hour', 'day')),"
              " bucket timestamptz NOT NULL)",
          // Every hour of every partition there is (rows moved later by migration 6 mark
          // their own hours).
          "INSERT INTO " + q.rollup_todo +
              " (length, bucket) SELECT 'hour', h FROM pg_catalog.pg_inherits i"
              " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
              " CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),"
              "   'FROM \\(''(.*)''\\) TO \\(''(.*)''\\)') AS m) b"
              " CROSS JOIN LATERAL generate_series(b.m[1]::timestamptz,"
              "   b.m[2]::timestamptz - interval '1 hour', interval '1 hour') h"
              " WHERE i.inhparent = " +
              "'" + q.table + "'::regclass AND b.m IS NOT NULL",
          "DROP VIEW " + q.hourly, "DROP VIEW " + q.daily,
          rollup_view(q.hourly, q.rollup_hourly, "hour"),
          rollup_view(q.daily, q.rollup_daily, "day")};
}

rollup_counts roll_up_closed(pqxx::connection_base& c, const table_names& n, const quoted_names& q,
                             int64_t now_ms, int64_t grace_ms, int buckets_per_transaction,
                             const std::atomic<bool>* stop) {
  rollup_counts counts;
  const std::string hourly = aggregate_sql(q, q.rollup_hourly);
  const std::string daily = aggregate_sql(q, q.rollup_daily);
  for (;;) {
    if (stop && *stop) return counts;
    pqxx::work tx(c);
    if (!tx.exec_params1("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                         "isitup_rollups:" + n.schema + "." + n.table)[0]
             .as<bool>()) {
      counts.busy = true;
      return counts;
    }
    // Hours first: an hour aggregated marks its day, which a later transaction takes.
    const pqxx::result marks = tx.exec_params(
        "SELECT id, length = 'day', (extract(epoch FROM bucket) * 1000)::bigint FROM " +
            q.rollup_todo +
            " WHERE bucket <= $1::timestamptz - CASE length WHEN 'hour' THEN interval '1 hour'"
            " ELSE interval '1 day' END - $2 * interval '1 ms'"
            " ORDER BY length = 'day', bucket LIMIT 10000",
        detail::iso_time(now_ms), grace_ms);
    if (marks.empty()) return counts;
    std::map<std::pair<bool, int64_t>, std::vector<int64_t>> buckets;
    std::string ids;
    for (const auto& row : marks) {
      const auto key = std::make_pair(row[1].as<bool>(), row[2].as<int64_t>());
      if (buckets.count(key) == 0 &&
          buckets.size() >= static_cast<std::size_t>(buckets_per_transaction))
        continue;  // the next transaction takes it
      buckets[key].push_back(row[0].as<int64_t>());
      ids += (ids.empty() ? "{" : ",") + row[0].as<std::string>();
    }
    ids += "}";
    const std::vector<partition_range> parts = list_partitions(tx, q);
    for (const auto& [key, unused] : buckets) {
      const auto& [day, start] = key;
      const int64_t end = start + (day ? day_ms : hour_ms);
      const std::string& rollup = day ? q.rollup_daily : q.rollup_hourly;
      if (!raw_complete(parts, start, end)) {
        ++counts.discarded;
        continue;
      }
      const std::string from = detail::iso_time(start), to = detail::iso_time(end);
      tx.exec_params("DELETE FROM " + rollup + " WHERE bucket = $1::timestamptz", from);
      tx.exec_params(day ? daily : hourly, from, to);
      if (day) {
        ++counts.days;
      } else {
        ++counts.hours;
        tx.exec_params("INSERT INTO " + q.rollup_todo +
                           " (length, bucket) VALUES ('day', date_trunc('day', $1::timestamptz,"
                           " 'UTC'))",
                       from);
      }
    }
    tx.exec_params("DELETE FROM " + q.rollup_todo + " WHERE id = ANY($1::bigint[])", ids);
    tx.commit();
  }
}

void mark_hours_between(pqxx::transaction_base& tx, const quoted_names& q, int64_t from_ms,
                        int64_t to_ms) {
  tx.exec_params("INSERT INTO " + q.rollup_todo +
                     " (length, bucket) SELECT 'hour', generate_series(date_trunc('hour',"
                     " $1::timestamptz, 'UTC'), $2::timestamptz - interval '1 ms', interval"
                     " '1 hour')",
                 detail::iso_time(from_ms), detail::iso_time(to_ms));
}

int64_t delete_rollups_before(pqxx::transaction_base& tx, const quoted_names& q,
                              int64_t cutoff_ms) {
  int64_t rows = 0;
  for (const std::string* t : {&q.rollup_hourly, &q.rollup_daily})
    rows += tx.exec_params("DELETE FROM " + *t + " WHERE bucket < $1::timestamptz",
                           detail::iso_time(cutoff_ms))
                .affected_rows();
  return rows;
}

}  // namespace isitup::pg
