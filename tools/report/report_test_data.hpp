// The report tests load rows by SQL, as a restore would: the partitions they go in are made
// first, and the rollups the report reads are made from them afterwards.
#pragma once

#include <pqxx/pqxx>

#include "pg_partitions.hpp"
#include "pg_rollups.hpp"
#include "pg_schema.hpp"

namespace isitup::report::testing {

constexpr int64_t aug_1_2026 = 1'785'542'400'000;
constexpr int64_t dec_1_2026 = 1'796'083'200'000;

// Daily partitions from 2026-08-01 to 2026-12-01 (the test data's days).
inline void make_partitions(pqxx::transaction_base& tx, const pg::table_names& names) {
  const pg::quoted_names q(tx.conn(), names);
  pg::ensure_partitions_between(tx, names, q, pg::day_ms, aug_1_2026, dec_1_2026);
}

// Rolls up every hour and day of those months (they all closed).
inline void make_rollups(pqxx::connection& c, const pg::table_names& names) {
  const pg::quoted_names q(c, names);
  {
    pqxx::work tx(c);
    pg::mark_hours_between(tx, q, aug_1_2026, dec_1_2026);
    tx.commit();
  }
  pg::roll_up_closed(c, names, q, dec_1_2026 + pg::day_ms);
}

}  // namespace isitup::report::testing
