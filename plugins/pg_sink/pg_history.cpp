#include "pg_history.hpp"

#include <limits>
#include <stdexcept>

#include "pg_conn_policy.hpp"
#include "pg_partitions.hpp"
#include "pg_rejects.hpp"

namespace isitup::pg {
namespace {

std::string hourly_sql(const quoted_names& q) {
  return "SELECT check_name, (extract(epoch FROM bucket) * 1000)::bigint, sum(results)::bigint,"
         " sum(up)::bigint, max(p50_ms), max(p95_ms) FROM " +
         q.rollup_hourly +
         " WHERE bucket >= $1::timestamptz AND bucket < $2::timestamptz GROUP BY 1, 2";
}

// Days from the daily rollups, and from the hourly ones for a (check, day) not rolled up yet.
std::string daily_sql(const quoted_names& q) {
  return "SELECT check_name, (extract(epoch FROM b) * 1000)::bigint, sum(results)::bigint,"
         " sum(up)::bigint, max(p50), max(p95) FROM ("
         " SELECT check_name, bucket AS b, results, up, p50_ms AS p50, p95_ms AS p95 FROM " +
         q.rollup_daily +
         " WHERE bucket >= $1::timestamptz AND bucket < $2::timestamptz"
         " UNION ALL"
         " SELECT h.check_name, date_trunc('day', h.bucket, 'UTC'), h.results, h.up, h.p50_ms,"
         " h.p95_ms FROM " +
         q.rollup_hourly +
         " h WHERE h.bucket >= $1::timestamptz AND h.bucket < $2::timestamptz + interval '1 day'"
         " AND date_trunc('day', h.bucket, 'UTC') >= $1::timestamptz"
         " AND date_trunc('day', h.bucket, 'UTC') < $2::timestamptz"
         " AND NOT EXISTS (SELECT 1 FROM " +
         q.rollup_daily +
         " d WHERE d.check_name = h.check_name AND d.bucket = date_trunc('day', h.bucket, 'UTC')))"
         " x GROUP BY 1, 2";
}

}  // namespace

pg_history::pg_history(std::string conninfo, table_names names)
    : conninfo_(std::move(conninfo)), names_(std::move(names)) {}

pg_history::~pg_history() = default;

void pg_history::read(int64_t from_ms, int64_t to_ms, int64_t length_ms,
                      std::chrono::milliseconds timeout,
                      const std::function<void(const history_row&)>& emit) {
  if (length_ms != hour_ms && length_ms != day_ms)
    throw std::invalid_argument("read_history: length_ms must be 3600000 or 86400000, got " +
                                std::to_string(length_ms));
  if (!detail::storable_time(from_ms) || !detail::storable_time(to_ms) || from_ms >= to_ms)
    return;  // nothing stored there
  try {
    if (!conn_) conn_ = open_session({conninfo_, 0, 0});  // each query sets its timeout
    const quoted_names q(*conn_, names_);
    pqxx::read_transaction tx(*conn_);
    tx.exec_params("SELECT set_config('statement_timeout', $1, true)",
                   std::to_string(std::max<int64_t>(1, timeout.count())));
    if (tx.exec_params1("SELECT to_regclass($1) IS NULL", q.rollup_hourly)[0].as<bool>())
      return;  // no rollups yet (the writer has not migrated the table)
    const pqxx::result r = tx.exec_params(length_ms == hour_ms ? hourly_sql(q) : daily_sql(q),
                                          detail::iso_time(from_ms), detail::iso_time(to_ms));
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    for (const auto& row : r) {
      const pqxx::field name = row[0];
      history_row h;
      h.check = std::string_view(name.c_str(), name.size());
      h.start_ms = row[1].as<int64_t>();
      h.results = row[2].as<uint64_t>();
      h.up = row[3].as<uint64_t>();
      h.p50_ms = row[4].is_null() ? nan : row[4].as<double>();
      h.p95_ms = row[5].is_null() ? nan : row[5].as<double>();
      emit(h);
    }
  } catch (const pqxx::sql_error& e) {
    conn_.reset();
    throw std::runtime_error("reading the history from PostgreSQL: " + bounded_text(e.what(), 300) +
                             " (SQLSTATE " + e.sqlstate() + ")");
  } catch (const pqxx::failure& e) {
    conn_.reset();
    throw std::runtime_error("reading the history from PostgreSQL: " + bounded_text(e.what(), 300));
  }
}

}  // namespace isitup::pg
