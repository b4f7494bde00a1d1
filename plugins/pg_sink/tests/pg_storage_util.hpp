// Helpers of the storage tests (pg_storage_test.cpp, pg_migration_test.cpp): the day their
// data is of, and maintenance options for the binary's server.
#pragma once

#include <cstdint>

#include "pg_maintenance.hpp"
#include "pg_test_util.hpp"

namespace isitup::pg::testing {

constexpr int64_t nov_27_2026 = 1'795'737'600'000;  // 2026-11-27T00:00:00Z

inline maintenance_options maintenance_for(const table_names& names) {
  maintenance_options m;
  m.conninfo = server().conninfo();
  m.names = names;
  m.statement_timeout_ms = 60'000;
  return m;
}

}  // namespace isitup::pg::testing
