#include "pg_partitions.hpp"

#include <isitup/duration.hpp>

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include "pg_rejects.hpp"

namespace isitup::pg {
namespace {

constexpr int64_t min_ms = std::numeric_limits<int64_t>::min();
constexpr int64_t max_ms = std::numeric_limits<int64_t>::max();

int64_t floor_to(int64_t ms, int64_t step) {
  int64_t q = ms / step;
  if (ms % step != 0 && ms < 0) --q;
  return q * step;
}

void lock(pqxx::transaction_base& tx, const table_names& n) {
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", partition_lock_key(n));
}

// "<table>_p20261127" or "<table>_p202611271800".
std::string partition_name(const table_names& n, int64_t from_ms) {
  const std::string iso = detail::iso_time(from_ms);  // 2026-11-27T18:00:00.000Z
  std::string name = n.table + "_p" + iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
  if (floor_to(from_ms, day_ms) != from_ms) name += iso.substr(11, 2) + iso.substr(14, 2);
  return name;
}

}  // namespace

std::string partition_lock_key(const table_names& n) {
  return "isitup_partitions:" + n.schema + "." + n.table;
}

void validate_partition_interval(int64_t ms) {
  const bool hours = ms > 0 && ms % hour_ms == 0 && day_ms % ms == 0;
  const bool days = ms > 0 && ms % day_ms == 0 && ms / day_ms <= 31;
  if (!hours && !days)
    throw std::invalid_argument(
        "partition_interval: expected whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) "
        "or 1d to 31d");
}

int64_t parse_retention(const std::string& text, const char* what) {
  if (text == "0") return 0;
  const auto ms = sdk::parse_duration_ms(text);
  if (!ms || *ms < hour_ms)
    throw std::invalid_argument(std::string(what) +
                                ": expected 0 (keep everything) or a duration of at least 1h "
                                "(e.g. 30d), got \"" +
                                bounded_text(text, 40) + "\"");
  return *ms;
}

std::vector<partition_range> list_partitions(pqxx::transaction_base& tx, const quoted_names& q) {
  // Bounds as PostgreSQL prints them: FOR VALUES FROM ('2026-11-27 00:00:00+00') TO (...),
  // or MINVALUE / MAXVALUE; a DEFAULT partition has neither.
  const pqxx::result r = tx.exec_params(
      "SELECT c.relname::text,"
      " (extract(epoch FROM nullif(trim(both '''' FROM b.m[1]), 'MINVALUE')::timestamptz)"
      "   * 1000)::bigint,"
      " (extract(epoch FROM nullif(trim(both '''' FROM b.m[2]), 'MAXVALUE')::timestamptz)"
      "   * 1000)::bigint"
      " FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
      " CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),"
      "   'FROM \\((.*)\\) TO \\((.*)\\)') AS m) b"
      " WHERE i.inhparent = $1::regclass AND b.m IS NOT NULL",
      q.table);
  std::vector<partition_range> parts;
  for (const auto& row : r)
    parts.push_back({row[0].as<std::string>(), row[1].is_null() ? min_ms : row[1].as<int64_t>(),
                     row[2].is_null() ? max_ms : row[2].as<int64_t>()});
  std::sort(parts.begin(), parts.end(), [](const partition_range& a, const partition_range& b) {
    return a.from_ms < b.from_ms;
  });
  return parts;
}

bool is_partitioned(pqxx::transaction_base& tx, const quoted_names& q) {
  return tx
      .exec_params1(
          "SELECT coalesce((SELECT relkind = 'p' FROM pg_class WHERE oid ="
          " to_regclass($1)), false)",
          q.table)[0]
      .as<bool>();
}

bool covered(const std::vector<partition_range>& parts, int64_t ms) {
  auto it = std::upper_bound(parts.begin(), parts.end(), ms,
                             [](int64_t t, const partition_range& p) { return t < p.from_ms; });
  if (it == parts.begin()) return false;
  --it;
  return ms < it->to_ms;
}

std::vector<std::string> ensure_partitions(pqxx::transaction_base& tx, const table_names& n,
                                           const quoted_names& q, int64_t interval_ms,
                                           const std::vector<int64_t>& times_ms,
                                           std::vector<partition_range>& parts) {
  std::vector<std::string> created;
  std::vector<int64_t> missing;
  for (int64_t t : times_ms)
    if (!covered(parts, t)) missing.push_back(t);
  if (missing.empty()) return created;
  lock(tx, n);
  parts = list_partitions(tx, q);  // another writer may have made them meanwhile
  for (int64_t t : missing) {
    if (covered(parts, t)) continue;
    int64_t from = floor_to(t, interval_ms), to = from + interval_ms;
    for (const partition_range& p : parts) {  // clip to the gap between the neighbours
      if (p.to_ms <= t) from = std::max(from, p.to_ms);
      if (p.from_ms > t) to = std::min(to, p.from_ms);
    }
    const std::string name = partition_name(n, from);
    const std::string qualified = q.schema + "." + tx.quote_name(name);
    tx.exec("CREATE TABLE " + qualified + " (LIKE " + q.table +
            " INCLUDING DEFAULTS INCLUDING CONSTRAINTS)");
    tx.exec("ALTER TABLE " + q.table + " ATTACH PARTITION " + qualified + " FOR VALUES FROM (" +
            tx.quote(detail::iso_time(from)) + ") TO (" + tx.quote(detail::iso_time(to)) + ")");
    parts.push_back({name, from, to});
    std::sort(parts.begin(), parts.end(), [](const partition_range& a, const partition_range& b) {
      return a.from_ms < b.from_ms;
    });
    created.push_back(name);
  }
  return created;
}

std::vector<std::string> ensure_partitions_between(pqxx::transaction_base& tx, const table_names& n,
                                                   const quoted_names& q, int64_t interval_ms,
                                                   int64_t from_ms, int64_t to_ms) {
  std::vector<int64_t> times{from_ms};
  for (int64_t t = floor_to(from_ms, interval_ms) + interval_ms; t < to_ms; t += interval_ms)
    times.push_back(t);
  std::vector<partition_range> parts = list_partitions(tx, q);
  return ensure_partitions(tx, n, q, interval_ms, times, parts);
}

std::vector<partition_range> drop_partitions_before(pqxx::transaction_base& tx,
                                                    const table_names& n, const quoted_names& q,
                                                    int64_t cutoff_ms, int64_t lock_timeout_ms) {
  std::vector<partition_range> dropped;
  lock(tx, n);
  tx.exec_params("SELECT set_config('lock_timeout', $1, true)", std::to_string(lock_timeout_ms));
  // A partition whose rows are still to be rolled up stays until they are.
  const bool rollups =
      !tx.exec_params1("SELECT to_regclass($1) IS NULL", q.rollup_todo)[0].as<bool>();
  for (const partition_range& p : list_partitions(tx, q)) {
    if (p.to_ms == max_ms || p.to_ms > cutoff_ms) continue;
    if (rollups &&
        !tx.exec_params("SELECT 1 FROM " + q.rollup_todo +
                            " WHERE bucket < $2::timestamptz AND bucket + CASE length WHEN"
                            " 'hour' THEN interval '1 hour' ELSE interval '1 day' END >"
                            " $1::timestamptz LIMIT 1",
                        detail::iso_time(p.from_ms == min_ms ? -62'135'596'800'000 : p.from_ms),
                        detail::iso_time(p.to_ms))
             .empty())
      continue;
    tx.exec("DROP TABLE " + q.schema + "." + tx.quote_name(p.name));
    dropped.push_back(p);
  }
  return dropped;
}

int64_t unpartitioned_estimate(pqxx::transaction_base& tx, const quoted_names& q) {
  const pqxx::row r = tx.exec_params1(
      "SELECT to_regclass($1) IS NOT NULL, coalesce((SELECT (reltuples * (1 - coalesce("
      " substring(obj_description(oid, 'pg_class') FROM '^isitup: moved blocks before"
      " ([0-9]+)$')::float8, 0) / greatest(relpages, 1)))::bigint FROM pg_class"
      " WHERE oid = to_regclass($1)), -1)",
      q.unpartitioned);
  if (!r[0].as<bool>()) return -1;
  return std::max<int64_t>(r[1].as<int64_t>(), 0);
}

int64_t move_unpartitioned(pqxx::transaction_base& tx, const table_names& n, const quoted_names& q,
                           int64_t interval_ms, int64_t limit) {
  if (tx.exec_params1("SELECT to_regclass($1) IS NULL", q.unpartitioned)[0].as<bool>()) return -1;
  if (!tx.exec_params1("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                       "isitup_convert:" + n.schema + "." + n.table)[0]
           .as<bool>())
    return 0;
  if (tx.exec_params1("SELECT to_regclass($1) IS NULL", q.unpartitioned)[0].as<bool>()) return -1;
  // Nothing writes to the old table any more: its rows are read a range of blocks at a time
  // (a TID range scan), and the next block to read is kept in the table's comment, in the same
  // transaction as the rows it moved.
  const pqxx::row at = tx.exec_params1(
      "SELECT coalesce(substring(obj_description($1::regclass, 'pg_class')"
      " FROM '^isitup: moved blocks before ([0-9]+)$')::bigint, 0),"
      " pg_relation_size($1::regclass) / current_setting('block_size')::bigint,"
      " greatest(1, (SELECT CASE WHEN relpages > 0 AND reltuples > 0"
      "   THEN reltuples / relpages ELSE 50 END FROM pg_class WHERE oid = $1::regclass))::bigint",
      q.unpartitioned);
  const int64_t from = at[0].as<int64_t>(), blocks = at[1].as<int64_t>();
  const int64_t to = std::min(blocks, from + std::max<int64_t>(1, limit / at[2].as<int64_t>()));
  int64_t moved = 0;
  if (from < to) {
    const std::string range = " WHERE ctid >= '(" + std::to_string(from) +
                              ",0)'::tid AND ctid < '(" + std::to_string(to) + ",0)'::tid";
    // The hours the rows fall in: their partitions (bounds are whole hours), their rollups.
    std::vector<int64_t> hours;
    for (const auto& row : tx.exec(
             "SELECT (extract(epoch FROM date_trunc('hour', scheduled_at, 'UTC')) * 1000)::bigint,"
             " count(*) FROM " +
             q.unpartitioned + range + " GROUP BY 1")) {
      hours.push_back(row[0].as<int64_t>());
      moved += row[1].as<int64_t>();
    }
    std::vector<partition_range> parts = list_partitions(tx, q);
    ensure_partitions(tx, n, q, interval_ms, hours, parts);
    std::string cols;
    for (const std::string& col : result_columns()) cols += (cols.empty() ? "" : ", ") + col;
    tx.exec("INSERT INTO " + q.table + " (" + cols + ") SELECT " + cols + " FROM " +
            q.unpartitioned + range + " ON CONFLICT DO NOTHING");
    if (!tx.exec_params1("SELECT to_regclass($1) IS NULL", q.rollup_todo)[0].as<bool>() &&
        !hours.empty()) {
      std::string list;
      for (int64_t h : hours) list += (list.empty() ? "{\"" : "\",\"") + detail::iso_time(h);
      tx.exec_params("INSERT INTO " + q.rollup_todo +
                         " (length, bucket) SELECT 'hour', unnest($1::timestamptz[])",
                     list + "\"}");
    }
  }
  if (to >= blocks) {
    tx.exec("DROP TABLE " + q.unpartitioned);
  } else {
    tx.exec("COMMENT ON TABLE " + q.unpartitioned + " IS " +
            tx.quote("isitup: moved blocks before " + std::to_string(to)));
  }
  return moved;
}

}  // namespace isitup::pg
