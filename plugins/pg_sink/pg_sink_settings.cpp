#include "pg_sink_settings.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pg_conn_policy.hpp"
#include "pg_partitions.hpp"
#include "pg_schema.hpp"
#include "pg_sink_options.hpp"

namespace isitup::pg {

sink_settings read_settings(const sdk::options_view& o) {
  const sink_config given = settings_map().read(o);
  sink_settings s;
  writer_options& w = s.writer;
  w.names.schema = given.schema;
  w.names.table = given.table;
  validate_name(w.names.schema, "schema", max_schema_bytes);
  validate_name(w.names.table, "table", max_table_bytes);
  if (w.names.table == "isitup_migrations")
    throw std::invalid_argument("table: isitup_migrations is the migrations table's name");
  w.conninfo =
      build_conninfo(given.connection, given.sslmode.value_or(""), given.connect_timeout.count());
  refuse_code_loading(w.conninfo);
  w.statement_timeout_ms = given.statement_timeout.count();
  s.batch_size = given.batch_size;
  s.batch_delay = given.batch_delay;
  s.backoff_max = given.reconnect_backoff_max;
  w.partition_interval_ms = given.partition_interval.count();
  validate_partition_interval(w.partition_interval_ms);
  maintenance_options& m = s.maintenance;
  m.conninfo = w.conninfo;
  m.names = w.names;
  m.statement_timeout_ms = std::max<int64_t>(w.statement_timeout_ms, 600'000);
  m.partition_interval_ms = w.partition_interval_ms;
  m.retention_ms = parse_retention(given.retention, "retention");
  m.rollup_retention_ms = parse_retention(given.rollup_retention, "rollup_retention");
  if (m.retention_ms > 0 && m.retention_ms < w.partition_interval_ms)
    throw std::invalid_argument("retention: must be 0 or at least partition_interval");
  w.retention_ms = m.retention_ms;
  s.maintain = given.maintenance;
  return s;
}

}  // namespace isitup::pg
