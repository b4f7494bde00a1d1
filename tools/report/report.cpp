// isitup-report: prints, from the database a pg_sink writes to, one line per check: its last
// status and when, uptime over 24 h and 7 d, p50/p95 total time over 24 h, the last result's
// key figures (DNS response code, ping loss and round trip, certificate days left), and its
// last error in the last 7 days; then, when pg_sink keeps the alert state there, the open
// incidents and the last incidents of each check. Reads connection, schema and table from an
// agent config's pg_sink section (the agent's and pg_sink's own validation). Replaces `make
// peek-data` of "Is it up?".
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include <isitup/core/config.hpp>
#include <isitup/core/host_services.hpp>
#include <isitup/core/options.hpp>
#include <isitup/core/status_page.hpp>
#include "pg_schema.hpp"
#include "pg_sink_options.hpp"
#include "pg_sink_settings.hpp"
#include "pg_writer.hpp"
#include "report_html.hpp"

namespace {

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2;

struct target {
  std::string conninfo;
  isitup::pg::table_names names;
};

// The `index`-th pg_sink section of the config (-1: the first), validated as the agent does:
// the agent's option rules, then pg_sink's own read_settings() (ranges, names, connection
// string, the refusal of options that load code), errors at the option they name.
target read_target(const std::string& file, int index) {
  const isitup::config::agent cfg = isitup::config::load_file(file);
  std::vector<isitup::option_schema> schema;
  for (const isitup::sdk::option& o : isitup::pg::sink_options())
    schema.push_back({o.name, isitup::option_type_of(o.type).value_or(isitup::option_type::string),
                      o.required,
                      o.default_value ? std::optional<std::string>(o.default_value) : std::nullopt,
                      o.description});
  for (std::size_t i = 0; i < cfg.sinks.size(); ++i) {
    const auto& s = cfg.sinks[i];
    if (s.plugin != "pg_sink" || (index >= 0 && static_cast<std::size_t>(index) != i)) continue;
    const std::string section = "sinks[" + std::to_string(i) + "] (pg_sink) options";
    const isitup_options options{isitup::config::validate_options(s.options, schema, section),
                                 nullptr};
    try {
      const isitup::pg::sink_settings settings =
          isitup::pg::read_settings(isitup::sdk::options_view(isitup::host_table(), &options));
      return {settings.writer.conninfo, settings.writer.names};
    } catch (const std::invalid_argument& e) {
      throw isitup::config::config_error(
          isitup::config::option_named_in(s.options, e.what()).value_or(s.where),
          section + ": " + e.what());
    }
  }
  throw isitup::config::config_error(
      {file, 0, 0}, index >= 0 ? "sinks[" + std::to_string(index) + "] is not a pg_sink"
                               : "no pg_sink in sinks:");
}

// Uptime and p50/p95 from the hourly rollups (per check and location) of the 7 days, and from
// the raw rows of the hours after the last one rolled up (partition pruning keeps that to the
// newest partitions). Windows are whole hours: the 24 hours (7 days) before the hour of $1,
// and that hour. The bounds ($2 7 days, $3 24 hours, $4 the first hour not rolled up, $5 the
// last errors' start) are values, not expressions, so the planner prunes partitions. p50 over 24 h
// is the median of the hourly p50s, p95 the largest hourly p95.
const char* report_sql =
    "WITH rolled AS (SELECT check_name, bucket, results, up, p50_ms, p95_ms FROM {rollup}"
    "   WHERE bucket >= $2::timestamptz AND bucket <= $1::timestamptz),"
    " fresh AS (SELECT check_name, date_trunc('hour', scheduled_at, 'UTC') AS bucket,"
    "   count(*) AS results, count(*) FILTER (WHERE status = 'up') AS up,"
    "   percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up')"
    "     AS p50_ms,"
    "   percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms) FILTER (WHERE status = 'up')"
    "     AS p95_ms"
    "   FROM {table} WHERE scheduled_at <= $1::timestamptz AND scheduled_at >= $4::timestamptz"
    "   GROUP BY 1, 2),"
    " h AS (SELECT * FROM rolled UNION ALL SELECT * FROM fresh),"
    " agg AS (SELECT check_name,"
    "   round(100.0 * sum(up) FILTER (WHERE bucket >= $3::timestamptz)"
    "     / nullif(sum(results) FILTER (WHERE bucket >= $3::timestamptz), 0), 2) AS up_24h,"
    "   round(100.0 * sum(up) / sum(results), 2) AS up_7d,"
    "   percentile_cont(0.5) WITHIN GROUP (ORDER BY p50_ms) FILTER (WHERE bucket >="
    "     $3::timestamptz) AS p50,"
    "   max(p95_ms) FILTER (WHERE bucket >= $3::timestamptz) AS p95"
    "   FROM h GROUP BY check_name),"
    " last AS (SELECT DISTINCT ON (check_name) check_name, status, scheduled_at, plugin, extra,"
    "   tls_days_left FROM {latest} ORDER BY check_name, scheduled_at DESC),"
    " err AS (SELECT DISTINCT ON (check_name) check_name, scheduled_at, error_kind,"
    "   error_message FROM {table} WHERE status = 'down'"
    "   AND scheduled_at > $5::timestamptz AND scheduled_at <= $1::timestamptz"
    "   ORDER BY check_name, scheduled_at DESC)"
    " SELECT l.check_name, l.status,"
    "   to_char(l.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'),"
    "   coalesce(to_char(a.up_24h, 'FM990.00') || '%', '-'),"
    "   coalesce(to_char(a.up_7d, 'FM990.00') || '%', '-'),"
    "   coalesce(to_char(a.p50, 'FM999999990.0'), '-'),"
    "   coalesce(to_char(a.p95, 'FM999999990.0'), '-'),"
    // The last result's key figures: a DNS check's response code, a ping's loss and average
    // round trip, a certificate's days left.
    "   coalesce(CASE WHEN l.plugin = 'dns_check' THEN left(l.extra->>'rcode', 16)"
    "       || coalesce(', ' || left(l.extra->>'matching_answers', 8) || ' answers', '')"
    "     WHEN l.plugin = 'icmp_check' THEN 'loss ' || left(l.extra->>'loss_percent', 8) || '%'"
    "       || coalesce(', rtt ' || left(l.extra->>'rtt_avg_ms', 12) || ' ms', '')"
    "     WHEN l.tls_days_left IS NOT NULL THEN 'tls ' || l.tls_days_left || ' days left' END,"
    "     '-'),"
    "   coalesce(to_char(e.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"') || ' '"
    "     || coalesce(e.error_kind, 'unknown') || coalesce(': ' || e.error_message, ''), '-')"
    " FROM last l LEFT JOIN agg a USING (check_name) LEFT JOIN err e USING (check_name)"
    " ORDER BY l.check_name";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// Control characters would break the table's lines.
std::string clean(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

std::string time_text(const char* column) {
  return std::string("to_char(") + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"')";
}

// Open incidents as of $1, oldest first.
std::string open_incidents_sql(const std::string& incidents) {
  return std::string("SELECT check_name, ") + time_text("opened_at") +
         ", date_trunc('second', $1::timestamptz - opened_at)::text,"
         " coalesce(error_kind, 'unknown') || coalesce(': ' || error_message, ''),"
         " coalesce((SELECT string_agg(l, ',') FROM jsonb_array_elements_text(locations) l), '-')"
         " FROM " +
         incidents +
         " WHERE opened_at <= $1::timestamptz AND (resolved_at IS NULL OR resolved_at >"
         " $1::timestamptz) ORDER BY opened_at, check_name";
}

// The last $2 incidents of each check opened by $1, newest first.
std::string history_sql(const std::string& incidents) {
  return std::string("SELECT check_name, ") + time_text("opened_at") +
         ", CASE WHEN resolved_at"
         " IS NULL OR resolved_at > $1::timestamptz THEN 'open' ELSE " +
         time_text("resolved_at") +
         " END, date_trunc('second', least(coalesce(resolved_at, $1::timestamptz),"
         " $1::timestamptz) - opened_at)::text,"
         " coalesce(error_kind, 'unknown') || coalesce(': ' || error_message, '')"
         " FROM (SELECT *, row_number() OVER (PARTITION BY check_name ORDER BY opened_at DESC)"
         " AS n FROM " +
         incidents +
         " WHERE opened_at <= $1::timestamptz) i WHERE n <= $2 ORDER BY check_name, opened_at"
         " DESC";
}

void print_table(const std::vector<std::string>& header, const std::vector<bool>& right,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i + 1 < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  const auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const std::size_t pad = i + 1 < r.size() ? width[i] - std::min(width[i], r[i].size()) : 0;
      if (right[i]) out.append(pad, ' ');
      out += r[i];
      if (i + 1 < r.size()) {
        if (!right[i]) out.append(pad, ' ');
        out += "  ";
      }
    }
    std::puts(out.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::vector<std::vector<std::string>> cells(const pqxx::result& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : r) {
    std::vector<std::string> c;
    for (const auto& f : row) c.push_back(clean(f.is_null() ? "-" : f.c_str()));
    rows.push_back(std::move(c));
  }
  return rows;
}

void print_incidents(pqxx::transaction_base& tx, const isitup::pg::quoted_names& q,
                     const std::string& now, int history) {
  const auto open = cells(tx.exec_params(open_incidents_sql(q.incidents), now));
  std::printf("\nOpen incidents: %zu\n", open.size());
  if (!open.empty())
    print_table({"CHECK", "OPENED", "OPEN FOR", "ERROR", "LOCATIONS"},
                {false, false, true, false, false}, open);
  const auto past = cells(tx.exec_params(history_sql(q.incidents), now, history));
  std::printf("\nIncidents per check (last %d each): %zu\n", history, past.size());
  if (!past.empty())
    print_table({"CHECK", "OPENED", "RESOLVED", "DURATION", "ERROR"},
                {false, false, false, true, false}, past);
}

int report_main(int argc, char** argv) {
  CLI::App app{"isitup-report: uptime and response times per check, from pg_sink's table"};
  std::string config_file, now = "now";
  int sink = -1;
  int history = 5;
  app.add_option("-c,--config", config_file, "Agent config file with a pg_sink sink")->required();
  app.add_option("--sink", sink, "Index in sinks: of the pg_sink to read (default: the first)");
  app.add_option("--now", now, "Report as of this time (timestamptz text; default: now)");
  std::string html_file;
  app.add_option("--html", html_file, "Write the status page (HTML) to this file instead");
  app.add_option("--incidents", history, "Incidents listed per check (default 5)")
      ->check(CLI::Range(0, 1000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }
  target t;
  try {
    t = read_target(config_file, sink);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isitup-report: %s\n", e.what());
    return exit_usage;
  }
  try {
    pqxx::connection c(t.conninfo);
    const int version = isitup::pg::current_migration(c, t.names);
    if (version < 7) {  // both read the rollups

      std::fprintf(stderr,
                   "isitup-report: %s.%s has no results yet (no table, or created by an older "
                   "pg_sink: run the agent once to upgrade it)\n",
                   t.names.schema.c_str(), t.names.table.c_str());
      return exit_failed;
    }
    if (!html_file.empty()) {
      isitup::status_view view = isitup::report::read_status_view(c, t.names, now);
      isitup::report::apply_config(view, isitup::config::load_file(config_file));
      isitup::report::write_file_atomically(html_file, isitup::render_status_page(view));
      return exit_ok;
    }
    const isitup::pg::quoted_names q(c, t.names);
    pqxx::read_transaction tx(c);
    const std::string sql =
        replace_all(replace_all(replace_all(report_sql, "{table}", q.table), "{latest}", q.latest),
                    "{rollup}", q.rollup_hourly);
    const pqxx::row bounds = tx.exec_params1(
        "SELECT $1::timestamptz, date_trunc('hour', $1::timestamptz - interval '7 days', 'UTC'),"
        " date_trunc('hour', $1::timestamptz - interval '24 hours', 'UTC'),"
        " coalesce((SELECT max(bucket) + interval '1 hour' FROM " +
            q.rollup_hourly +
            " WHERE bucket >= date_trunc('hour', $1::timestamptz - interval '7 days', 'UTC')"
            " AND bucket <= $1::timestamptz), date_trunc('hour', $1::timestamptz"
            " - interval '7 days', 'UTC')), $1::timestamptz - interval '7 days'",
        now);
    const std::vector<std::vector<std::string>> rows =
        cells(tx.exec_params(sql, bounds[0].c_str(), bounds[1].c_str(), bounds[2].c_str(),
                             bounds[3].c_str(), bounds[4].c_str()));
    std::printf("%s.%s: %zu checks, as of %s\n", t.names.schema.c_str(), t.names.table.c_str(),
                rows.size(),
                tx.exec_params1("SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', "
                                "'YYYY-MM-DD HH24:MI:SS\"Z\"')",
                                now)[0]
                    .c_str());
    print_table({"CHECK", "LAST", "AT", "UP 24H", "UP 7D", "P50 ms", "P95 ms", "FIGURES",
                 "LAST ERROR (7 d)"},
                {false, false, false, true, true, true, true, false, false}, rows);
    if (version >= 5) print_incidents(tx, q, now, history);
    return exit_ok;
  } catch (const std::exception& e) {
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    std::fprintf(stderr, "isitup-report: %s\n", what.c_str());
    return exit_failed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return report_main(argc, argv);
  } catch (const std::exception& e) {  // building the options, or out of memory reporting one
    std::fprintf(stderr, "isitup-report: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "isitup-report: unknown error\n");
  }
  return exit_failed;
}
