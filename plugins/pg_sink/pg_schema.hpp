// pg_sink's database objects: name validation, the results table's columns, and versioned
// migrations recorded in <schema>.isitup_migrations. Shared by the plugin, its tests, the
// benchmark and isitup-report. No SQL here is built from a value: identifiers are validated
// and then quoted with quote_name, values go as parameters.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <string_view>
#include <vector>

namespace isitup::pg {

// Longest table name: the open incidents view adds "_incidents_open" (15 bytes) within
// PostgreSQL's 63.
constexpr std::size_t max_table_bytes = 48;
constexpr std::size_t max_schema_bytes = 63;

// Throws std::invalid_argument("<what>: ...") unless `name` is 1..max_bytes bytes of ASCII
// letters, digits, '_', '-' and ' ', starting with a letter or '_', not ending with a space,
// and not starting with "pg_" (reserved by PostgreSQL).
void validate_name(std::string_view name, std::string_view what, std::size_t max_bytes);

// The results table's columns, in COPY order (matches copy_row in pg_writer).
const std::vector<std::string>& result_columns();

struct table_names {
  std::string schema = "public";
  std::string table = "check_results";
};

// Quoted identifiers for one configured table (quote_name needs a connection).
struct quoted_names {
  quoted_names(pqxx::connection_base& c, const table_names& n);
  std::string schema;          // "public"
  std::string table;           // "public"."check_results"
  std::string migrations;      // "public"."isitup_migrations"
  std::string latest;          // "public"."check_results_latest"
  std::string hourly;          // "public"."check_results_hourly"
  std::string daily;           // "public"."check_results_daily"
  std::string rejects;         // "public"."check_results_rejects"
  std::string alert_state;     // "public"."check_results_alert_state"
  std::string events;          // "public"."check_results_events"
  std::string incidents;       // "public"."check_results_incidents"
  std::string outbox;          // "public"."check_results_outbox"
  std::string incidents_open;  // "public"."check_results_incidents_open"
  std::string unpartitioned;   // "public"."check_results_unpartitioned" (during migration 6)
  std::string rollup_hourly;   // "public"."check_results_rollup_hourly"
  std::string rollup_daily;    // "public"."check_results_rollup_daily"
  std::string rollup_todo;     // "public"."check_results_rollup_todo"
  std::string offsets;         // "public"."check_results_offsets" (pg_offsets.hpp)
};

// The results table's column definitions and primary key, "(agent text NOT NULL, ...)".
const std::string& result_table_definition();

// The newest migration version this build knows.
int latest_migration();

// Brings the table to `up_to` (default: latest) in one transaction, under an advisory lock
// so that concurrent writers migrate once: creates the schema and the migrations table if
// missing, then applies each missing migration and records it. Applying when already up to
// date changes nothing. Returns the version the table is at afterwards. Throws pqxx errors.
int migrate(pqxx::connection_base& c, const table_names& n, int up_to = -1);

// The version recorded for the table (0: none).
int current_migration(pqxx::connection_base& c, const table_names& n);

}  // namespace isitup::pg
