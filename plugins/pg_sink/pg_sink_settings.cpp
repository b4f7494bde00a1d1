#include "pg_sink_settings.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pg_conn_policy.hpp"
#include "pg_partitions.hpp"
#include "pg_schema.hpp"

namespace isitup::pg {
namespace {

std::string checked_sslmode(const std::string& mode) {
  static const char* const modes[] = {"disable", "allow",     "prefer",
                                      "require", "verify-ca", "verify-full"};
  if (mode.empty()) return mode;
  for (const char* m : modes)
    if (mode == m) return mode;
  throw std::invalid_argument(
      "sslmode: expected disable, allow, prefer, require, verify-ca or verify-full, got \"" + mode +
      "\"");
}

}  // namespace

sink_settings read_settings(const sdk::options_view& o) {
  sink_settings s;
  writer_options& w = s.writer;
  w.names.schema = o.string("schema");
  w.names.table = o.string("table");
  validate_name(w.names.schema, "schema", max_schema_bytes);
  validate_name(w.names.table, "table", max_table_bytes);
  if (w.names.table == "isitup_migrations")
    throw std::invalid_argument("table: isitup_migrations is the migrations table's name");
  const auto connect_timeout = o.duration("connect_timeout");
  w.conninfo = build_conninfo(o.string("connection"), checked_sslmode(o.string("sslmode")),
                              connect_timeout.count());
  refuse_code_loading(w.conninfo);
  w.statement_timeout_ms = o.duration("statement_timeout").count();
  if (w.statement_timeout_ms <= 0)
    throw std::invalid_argument("statement_timeout: must be more than 0");
  s.batch_size = o.integer("batch_size");
  if (s.batch_size < 1 || s.batch_size > 1'000'000)
    throw std::invalid_argument("batch_size: must be between 1 and 1000000");
  s.batch_delay = o.duration("batch_delay");
  s.backoff_max = std::max(o.duration("reconnect_backoff_max"), std::chrono::milliseconds(1));
  w.partition_interval_ms = o.duration("partition_interval").count();
  validate_partition_interval(w.partition_interval_ms);
  maintenance_options& m = s.maintenance;
  m.conninfo = w.conninfo;
  m.names = w.names;
  m.statement_timeout_ms = std::max<int64_t>(w.statement_timeout_ms, 600'000);
  m.partition_interval_ms = w.partition_interval_ms;
  m.retention_ms = parse_retention(o.string("retention"), "retention");
  m.rollup_retention_ms = parse_retention(o.string("rollup_retention"), "rollup_retention");
  if (m.retention_ms > 0 && m.retention_ms < w.partition_interval_ms)
    throw std::invalid_argument("retention: must be 0 or at least partition_interval");
  w.retention_ms = m.retention_ms;
  s.maintain = o.boolean("maintenance");
  return s;
}

}  // namespace isitup::pg
