// pg_history: answers the status page's history (ISITUP_SINK_HISTORY, read_history) from the
// rollups (pg_rollups.hpp), on a read connection of its own, so it never waits for the writer.
//
// A bucket sums results and up over every location and agent of a check. Its p50/p95 are the
// largest of the p50/p95 of the rollup rows it is made of (one per location; for a day not yet
// rolled up, one per location and hour): an upper bound of the true percentile, exact for a
// check seen from one location. A day whose daily rollup is not made yet (today, or the
// maintenance is behind) is made from its hourly rollups; the hour in progress has none (the
// agent shows what it saw itself for it).
//
// Not thread-safe: the host never calls read_history twice at once on one sink.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <string_view>

#include "pg_schema.hpp"

namespace isitup::pg {

struct history_row {
  std::string_view check;  // valid during the call of emit
  int64_t start_ms = 0;
  uint64_t results = 0, up = 0;
  double p50_ms, p95_ms;  // NaN when no up result had a total time
};

class pg_history {
 public:
  // `conninfo` as build_conninfo returns it.
  pg_history(std::string conninfo, table_names names);
  ~pg_history();
  pg_history(const pg_history&) = delete;
  pg_history& operator=(const pg_history&) = delete;

  // Calls emit once per non-empty (check, bucket) of length_ms (3600000 or 86400000) starting in
  // [from_ms, to_ms). Connects first if needed (libpq counts the connect timeout in whole
  // seconds, at least 2); the query runs with statement_timeout = timeout. Throws
  // std::invalid_argument for another length or a range PostgreSQL cannot hold, and
  // std::runtime_error with the reason when the database does not answer in time or at all
  // (the connection is dropped and made again on the next call).
  void read(int64_t from_ms, int64_t to_ms, int64_t length_ms, std::chrono::milliseconds timeout,
            const std::function<void(const history_row&)>& emit);

 private:
  std::string conninfo_;
  table_names names_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace isitup::pg
