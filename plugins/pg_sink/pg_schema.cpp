#include "pg_schema.hpp"

#include <functional>
#include <stdexcept>

#include "pg_rollups.hpp"

namespace isitup::pg {

void validate_name(std::string_view name, std::string_view what, std::size_t max_bytes) {
  const std::string w(what);
  if (name.empty()) throw std::invalid_argument(w + ": must not be empty");
  if (name.size() > max_bytes)
    throw std::invalid_argument(w + ": at most " + std::to_string(max_bytes) + " bytes, got " +
                                std::to_string(name.size()));
  const auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!letter(name.front())) throw std::invalid_argument(w + ": must start with a letter or '_'");
  for (char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '-' && c != ' ')
      throw std::invalid_argument(w +
                                  ": only ASCII letters, digits, '_', '-' and spaces are "
                                  "allowed");
  }
  if (name.back() == ' ') throw std::invalid_argument(w + ": must not end with a space");
  if (name.size() >= 3 && (name.substr(0, 3) == "pg_" || name.substr(0, 3) == "PG_"))
    throw std::invalid_argument(w + ": names starting with pg_ are reserved by PostgreSQL");
}

const std::vector<std::string>& result_columns() {
  static const std::vector<std::string> columns{
      "agent",       "location",      "check_name",    "plugin",        "target",    "scheduled_at",
      "started_at",  "status",        "error_kind",    "error_message", "http_code", "http_version",
      "http_bytes",  "dns_ms",        "connect_ms",    "tls_ms",        "ttfb_ms",   "total_ms",
      "regex_match", "tls_not_after", "tls_days_left", "redirects",     "ip",        "extra"};
  return columns;
}

quoted_names::quoted_names(pqxx::connection_base& c, const table_names& n)
    : schema(c.quote_name(n.schema)),
      table(schema + "." + c.quote_name(n.table)),
      migrations(schema + "." + c.quote_name("isitup_migrations")),
      latest(schema + "." + c.quote_name(n.table + "_latest")),
      hourly(schema + "." + c.quote_name(n.table + "_hourly")),
      daily(schema + "." + c.quote_name(n.table + "_daily")),
      rejects(schema + "." + c.quote_name(n.table + "_rejects")),
      alert_state(schema + "." + c.quote_name(n.table + "_alert_state")),
      events(schema + "." + c.quote_name(n.table + "_events")),
      incidents(schema + "." + c.quote_name(n.table + "_incidents")),
      outbox(schema + "." + c.quote_name(n.table + "_outbox")),
      incidents_open(schema + "." + c.quote_name(n.table + "_incidents_open")),
      unpartitioned(schema + "." + c.quote_name(n.table + "_unpartitioned")),
      rollup_hourly(schema + "." + c.quote_name(n.table + "_rollup_hourly")),
      rollup_daily(schema + "." + c.quote_name(n.table + "_rollup_daily")),
      rollup_todo(schema + "." + c.quote_name(n.table + "_rollup_todo")),
      offsets(schema + "." + c.quote_name(n.table + "_offsets")) {}

const std::string& result_table_definition() {
  static const std::string definition =
      " (agent text NOT NULL,"
      " location text,"
      " check_name text NOT NULL,"
      " plugin text NOT NULL,"
      " target text NOT NULL,"
      " scheduled_at timestamptz NOT NULL,"
      " started_at timestamptz,"
      " status text NOT NULL CHECK (status IN ('up', 'down')),"
      " error_kind text,"
      " error_message text,"
      " http_code integer,"
      " http_version text,"
      " http_bytes bigint,"
      " dns_ms double precision,"
      " connect_ms double precision,"
      " tls_ms double precision,"
      " ttfb_ms double precision,"
      " total_ms double precision,"
      " regex_match boolean,"
      " tls_not_after timestamptz,"
      " tls_days_left integer,"
      " redirects integer,"
      " ip inet,"
      " extra jsonb,"
      " PRIMARY KEY (agent, check_name, scheduled_at))";
  return definition;
}

namespace {

struct migration {
  int version;
  const char* description;
  std::function<std::vector<std::string>(const quoted_names&)> statements;
};

// "schema"."name" -> "name" (ALTER TABLE ... RENAME TO takes no schema). The names are
// validated (no '"' or '.' inside), so the last '.' separates them.
std::string unqualified(const std::string& qualified) {
  return qualified.substr(qualified.rfind("\".\"") + 2);
}

// The uptime and response-time view over `bucket` ('hour' or 'day', UTC).
std::string rollup_view(const std::string& name, const std::string& table, const char* bucket,
                        const char* column) {
  return "CREATE VIEW " + name + " AS SELECT check_name, date_trunc('" + bucket +
         "', scheduled_at, 'UTC') AS " + column +
         ", count(*) AS results, count(*) FILTER (WHERE status = 'up') AS up,"
         " round(100.0 * count(*) FILTER (WHERE status = 'up') / count(*), 2) AS uptime_pct,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up')"
         " AS p50_ms,"
         " percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up')"
         " AS p95_ms"
         " FROM " +
         table + " GROUP BY 1, 2";
}

// Latest: a skip scan over the primary key (one index probe per agent and check), so it
// stays fast on a table of millions of rows.
std::string latest_view(const quoted_names& q) {
  return "CREATE VIEW " + q.latest +
         " AS WITH RECURSIVE k AS ("
         " (SELECT agent, check_name FROM " +
         q.table +
         " ORDER BY agent, check_name LIMIT 1)"
         " UNION ALL"
         " SELECT n.agent, n.check_name FROM k CROSS JOIN LATERAL"
         " (SELECT agent, check_name FROM " +
         q.table +
         " r WHERE (r.agent, r.check_name) > (k.agent, k.check_name)"
         " ORDER BY agent, check_name LIMIT 1) n)"
         " SELECT r.* FROM k CROSS JOIN LATERAL (SELECT * FROM " +
         q.table +
         " r WHERE r.agent = k.agent AND r.check_name = k.check_name"
         " ORDER BY scheduled_at DESC LIMIT 1) r";
}

const std::vector<migration>& migrations() {
  static const std::vector<migration> list{
      {1, "results table, primary key (agent, check_name, scheduled_at)",
       [](const quoted_names& q) {
         return std::vector<std::string>{"CREATE TABLE " + q.table + result_table_definition()};
       }},
      {2, "indexes: a check's results over time; time ranges",
       [](const quoted_names& q) {
         return std::vector<std::string>{
             "CREATE INDEX ON " + q.table + " (check_name, scheduled_at DESC)",
             "CREATE INDEX ON " + q.table + " USING brin (scheduled_at)"};
       }},
      {3, "views: latest result per check and agent; uptime and p50/p95 per hour and day",
       [](const quoted_names& q) {
         return std::vector<std::string>{latest_view(q),
                                         rollup_view(q.hourly, q.table, "hour", "hour"),
                                         rollup_view(q.daily, q.table, "day", "day")};
       }},
      {4, "rejects table: records PostgreSQL refused for good, with the error",
       [](const quoted_names& q) {
         // No index on the record's fields (a rejected check name may be too long for one);
         // its md5 keeps a replayed reject from being stored twice.
         return std::vector<std::string>{"CREATE TABLE " + q.rejects +
                                         " (received_at timestamptz NOT NULL DEFAULT now(),"
                                         " sqlstate text NOT NULL,"
                                         " error_message text NOT NULL,"
                                         " record text NOT NULL,"
                                         " record_md5 text PRIMARY KEY)"};
       }},
      {5, "alert state: check state, events, incidents, outbox; view of open incidents",
       [](const quoted_names& q) {
         return std::vector<std::string>{
             "CREATE TABLE " + q.alert_state +
                 " (check_name text PRIMARY KEY,"
                 " version bigint NOT NULL,"
                 " state jsonb NOT NULL,"
                 " updated_at timestamptz NOT NULL DEFAULT now())",
             "CREATE TABLE " + q.events +
                 " (event_id text PRIMARY KEY,"
                 " seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,"
                 " type text NOT NULL,"
                 " incident_id text NOT NULL,"
                 " check_name text NOT NULL,"
                 " plugin text NOT NULL,"
                 " target text NOT NULL,"
                 " at timestamptz NOT NULL,"
                 " opened_at timestamptz NOT NULL,"
                 " resolved_at timestamptz,"
                 " error_kind text,"
                 " error_message text,"
                 " locations jsonb NOT NULL,"
                 " body jsonb NOT NULL)",
             "CREATE TABLE " + q.incidents +
                 " (incident_id text PRIMARY KEY,"
                 " check_name text NOT NULL,"
                 " plugin text NOT NULL,"
                 " target text NOT NULL,"
                 " opened_at timestamptz NOT NULL,"
                 " resolved_at timestamptz,"
                 " error_kind text,"
                 " error_message text,"
                 " locations jsonb NOT NULL,"
                 " opened_event_id text,"
                 " resolved_event_id text)",
             "CREATE INDEX ON " + q.incidents + " (check_name, opened_at DESC)",
             "CREATE TABLE " + q.outbox + " (event_id text NOT NULL REFERENCES " + q.events +
                 " ON DELETE CASCADE,"
                 " sink text NOT NULL,"
                 " delivered_at timestamptz,"
                 " PRIMARY KEY (event_id, sink))",
             "CREATE INDEX ON " + q.outbox + " (event_id) WHERE delivered_at IS NULL",
             "CREATE VIEW " + q.incidents_open +
                 " AS SELECT incident_id, check_name, opened_at,"
                 " date_trunc('second', now() - opened_at) AS open_for, error_kind,"
                 " error_message, locations FROM " +
                 q.incidents + " WHERE resolved_at IS NULL"};
       }},
      {6, "results table partitioned by range of scheduled_at; old rows moved in batches",
       [](const quoted_names& q) {
         // The old table keeps its rows under a new name; pg_partitions' move_unpartitioned
         // moves them over in batches of their own transactions (and drops it when empty).
         // The views follow the renamed table, so they are made again on the new one.
         return std::vector<std::string>{
             "DROP VIEW " + q.latest, "DROP VIEW " + q.hourly, "DROP VIEW " + q.daily,
             "ALTER TABLE " + q.table + " RENAME TO " + unqualified(q.unpartitioned),
             "CREATE TABLE " + q.table + result_table_definition() +
                 " PARTITION BY RANGE (scheduled_at)",
             "CREATE INDEX ON " + q.table + " (check_name, scheduled_at DESC)",
             "CREATE INDEX ON " + q.table + " USING brin (scheduled_at)", latest_view(q),
             rollup_view(q.hourly, q.table, "hour", "hour"),
             rollup_view(q.daily, q.table, "day", "day"),
             // A new database has nothing to move. Statistics for moving in batches.
             "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM " + q.unpartitioned + ") THEN DROP TABLE " +
                 q.unpartitioned + "; ELSE ANALYZE " + q.unpartitioned + "; END IF; END $$"};
       }},
      {7,
       "hourly and daily rollups per check and location, kept up by the writer; the views "
       "read them",
       [](const quoted_names& q) { return rollup_migration(q); }},
      {8, "Kafka positions stored with the rows, and the owner epoch of each partition",
       [](const quoted_names& q) {
         return std::vector<std::string>{
             "CREATE TABLE " + q.offsets +
             " (consumer_group text NOT NULL, topic text NOT NULL, partition integer NOT NULL,"
             " next_offset bigint, epoch bigint NOT NULL DEFAULT 0,"
             " updated_at timestamptz NOT NULL DEFAULT now(),"
             " PRIMARY KEY (consumer_group, topic, partition))"};
       }},
      {9, "alert state kept as text, and rewritten in place (fillfactor 50) like the positions",
       [](const quoted_names& q) {
         // Every transaction of a writer rewrites a row per check it wrote and per partition.
         // The state is the agent's own encoding, which it parses when it loads it: as jsonb
         // PostgreSQL parsed every state again on the way in, about a third of the statement
         // (from Kafka 121k rows/s with jsonb, 129k as text, medians of 18 runs). With full
         // pages each new version went to another page (a new index entry each, a table
         // growing until vacuum: 1,000 states took 8-11 ms, more each time); with room on the
         // page the update is HOT and the page prunes its dead versions itself (6 ms, flat).
         // The type change rewrites the table, so its pages get the room too.
         return std::vector<std::string>{
             "ALTER TABLE " + q.alert_state + " SET (fillfactor = 50)",
             "ALTER TABLE " + q.alert_state + " ALTER COLUMN state TYPE text",
             "ALTER TABLE " + q.offsets + " SET (fillfactor = 50)"};
       }},
  };
  return list;
}

int read_version(pqxx::transaction_base& tx, const table_names& n, const quoted_names& q) {
  const pqxx::result exists = tx.exec_params(
      "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = "
      "'isitup_migrations'",
      n.schema);
  if (exists.empty()) return 0;
  return tx
      .exec_params(
          "SELECT coalesce(max(version), 0) FROM " + q.migrations + " WHERE table_name = $1",
          n.table)[0][0]
      .as<int>();
}

}  // namespace

int latest_migration() { return migrations().back().version; }

int current_migration(pqxx::connection_base& c, const table_names& n) {
  const quoted_names q(c, n);
  pqxx::read_transaction tx(c);
  return read_version(tx, n, q);
}

int migrate(pqxx::connection_base& c, const table_names& n, int up_to) {
  if (up_to < 0) up_to = latest_migration();
  const quoted_names q(c, n);
  pqxx::work tx(c);
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                 "isitup_migrations:" + n.schema + "." + n.table);
  // Existence first: CREATE ... IF NOT EXISTS would need CREATE rights even when nothing
  // is created, and a writer may have only the rights on its own schema and table.
  if (tx.exec_params("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", n.schema).empty())
    tx.exec("CREATE SCHEMA " + q.schema);
  int version = read_version(tx, n, q);
  if (version >= up_to) return version;  // nothing to do: the transaction rolls back
  if (tx.exec_params("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = "
                     "'isitup_migrations'",
                     n.schema)
          .empty())
    tx.exec("CREATE TABLE " + q.migrations +
            " (table_name text NOT NULL, version integer NOT NULL, description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, version))");
  for (const migration& m : migrations()) {
    if (m.version <= version || m.version > up_to) continue;
    for (const std::string& sql : m.statements(q)) tx.exec(sql);
    tx.exec_params(
        "INSERT INTO " + q.migrations + " (table_name, version, description) VALUES ($1, $2, $3)",
        n.table, m.version, std::string(m.description));
    version = m.version;
  }
  tx.commit();
  return version;
}

}  // namespace isitup::pg
