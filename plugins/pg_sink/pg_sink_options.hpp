// pg_sink's declared options, each with its type, default, range and the member of
// sink_config it fills (sdk::config_map): the plugin's registration and isitup-report (which
// validates a config's pg_sink section against the same declarations) use sink_options(),
// read_settings() (pg_sink_settings.hpp) reads settings_map() and adds the checks a
// declaration cannot state (names, connection string, partition interval, retention).
// Header-only; the map is built once and may be read from any thread.
#pragma once

#include <isitup/config_map.hpp>
#include <isitup/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace isitup::pg {

// The options as the config gives them (or their declared defaults), typed and in range.
struct sink_config {
  std::string connection;
  std::string schema, table;
  int64_t batch_size = 5000;
  std::chrono::milliseconds batch_delay{0};
  std::optional<std::string> sslmode;  // unset: the connection string's, else libpq's prefer
  std::chrono::milliseconds statement_timeout{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds reconnect_backoff_max{5'000};
  std::chrono::milliseconds partition_interval{86'400'000};
  std::string retention, rollup_retention;  // "0" or a duration (parse_retention)
  bool maintenance = true;
};

inline const sdk::config_map<sink_config>& settings_map() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using c = sink_config;
  static const auto map =
      sdk::config_map<c>()
          .string("connection", &c::connection, nullptr,
                  "libpq connection URI or key=value string; use ${VAR} for the password (or "
                  "leave it out and set PGPASSWORD)")
          .required()
          .string("schema", &c::schema, "public",
                  "schema of the results table (created if missing)")
          .string("table", &c::table, "check_results",
                  "results table (created if missing; at most 48 bytes: the other tables, views "
                  "and partitions add a suffix)")
          .integer("batch_size", &c::batch_size, "5000",
                   "most rows written in one transaction (1 to 1000000)", 1, 1'000'000)
          .duration("batch_delay", &c::batch_delay, "0ms",
                    "how long results may wait here for more to fill a transaction (up to 1h)",
                    milliseconds(0), hours(1))
          .string("sslmode", &c::sslmode, nullptr,
                  "libpq sslmode (disable, allow, prefer, require, verify-ca, verify-full); use "
                  "verify-full in production. Unset: the connection string's, else prefer")
          .one_of({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
          .duration("statement_timeout", &c::statement_timeout, "30s",
                    "server-side limit on each statement (COPY, INSERT, migrations), 1ms to 24h",
                    milliseconds(1), hours(24))
          .duration("connect_timeout", &c::connect_timeout, "10s",
                    "give up connecting after this (whole seconds, at least 2; up to 1h)",
                    milliseconds(0), hours(1))
          .duration("reconnect_backoff_max", &c::reconnect_backoff_max, "5s",
                    "longest wait between connection attempts while the server is unreachable "
                    "(1ms to 1h)",
                    milliseconds(1), hours(1))
          .duration("partition_interval", &c::partition_interval, "1d",
                    "time range of one partition of the results table: whole hours dividing a "
                    "day, or 1d to 31d",
                    hours(1), hours(31 * 24))
          .string("retention", &c::retention, "30d",
                  "how long raw results are kept (whole partitions are dropped); 0 keeps "
                  "everything")
          .string("rollup_retention", &c::rollup_retention, "400d",
                  "how long the hourly and daily rollups are kept; 0 keeps everything")
          .boolean("maintenance", &c::maintenance, "true",
                   "create partitions ahead, keep the rollups and drop what is past retention "
                   "from this agent (every minute); false when other writers do it");
  return map;
}

inline const std::vector<sdk::option>& sink_options() { return settings_map().options(); }

}  // namespace isitup::pg
