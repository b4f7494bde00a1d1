// pg_sink's declared options: used by the plugin's registration and by isitup-report, which
// validates a config's pg_sink section against the same declarations.
#pragma once

#include <isitup/plugin.hpp>

#include <vector>

namespace isitup::pg {

inline const std::vector<isitup::sdk::option>& sink_options() {
  static const std::vector<isitup::sdk::option> options{
      {"connection", ISITUP_OPT_STRING, nullptr,
       "libpq connection URI or key=value string; use ${VAR} for the password (or leave it "
       "out and set PGPASSWORD)",
       true},
      {"schema", ISITUP_OPT_STRING, "public", "schema of the results table (created if missing)"},
      {"table", ISITUP_OPT_STRING, "check_results",
       "results table (created if missing; at most 48 bytes: the other tables, views and "
       "partitions add a suffix)"},
      {"batch_size", ISITUP_OPT_INT, "5000", "most rows written in one transaction"},
      {"batch_delay", ISITUP_OPT_DURATION, "0ms",
       "how long results may wait here for more to fill a transaction"},
      {"sslmode", ISITUP_OPT_STRING, nullptr,
       "libpq sslmode (disable, allow, prefer, require, verify-ca, verify-full); use "
       "verify-full in production. Unset: the connection string's, else prefer"},
      {"statement_timeout", ISITUP_OPT_DURATION, "30s",
       "server-side limit on each statement (COPY, INSERT, migrations)"},
      {"connect_timeout", ISITUP_OPT_DURATION, "10s",
       "give up connecting after this (whole seconds, at least 2)"},
      {"reconnect_backoff_max", ISITUP_OPT_DURATION, "5s",
       "longest wait between connection attempts while the server is unreachable"},
      {"partition_interval", ISITUP_OPT_DURATION, "1d",
       "time range of one partition of the results table: whole hours dividing a day, or 1d to "
       "31d"},
      {"retention", ISITUP_OPT_STRING, "30d",
       "how long raw results are kept (whole partitions are dropped); 0 keeps everything"},
      {"rollup_retention", ISITUP_OPT_STRING, "400d",
       "how long the hourly and daily rollups are kept; 0 keeps everything"},
      {"maintenance", ISITUP_OPT_BOOL, "true",
       "create partitions ahead, keep the rollups and drop what is past retention from this "
       "agent (every minute); false when other writers do it"}};
  return options;
}

}  // namespace isitup::pg
