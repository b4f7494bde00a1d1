#include "report_html.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <isitup/util/error_text.hpp>

namespace isitup::report {

namespace {

constexpr int64_t day_ms = 86'400'000, half_hour_ms = 1'800'000;
constexpr int days_shown = 90;
constexpr std::size_t max_incidents = 500;
// `sql` with {table} and {incidents} replaced by quoted names. Times come back as epoch
// milliseconds, text columns cut to 1000 characters (left(x, 1000)).
std::string with_names(std::string sql, const std::string& table, const std::string& incidents,
                       const std::string& hourly, const std::string& daily) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"{table}", table},
                                 std::pair<std::string, std::string>{"{incidents}", incidents},
                                 std::pair<std::string, std::string>{"{hourly}", hourly},
                                 std::pair<std::string, std::string>{"{daily}", daily}})
    for (std::size_t at = sql.find(from); at != std::string::npos; at = sql.find(from, at))
      sql.replace(at, from.size(), to), at += to.size();
  return sql;
}

// The last result per check, and since when its state holds (within the 90 days). The check
// names come from a skip scan of the (check_name, scheduled_at) index, one probe per name, and
// each last result from one index probe (DISTINCT ON sorted 90 days of rows: 1.9 s of the 5.3 s
// for 200 checks and 5.2 million rows).
const char* checks_sql =
    "WITH RECURSIVE names AS ((SELECT check_name, 1 AS i FROM {table} ORDER BY check_name"
    "   LIMIT 1) UNION ALL SELECT (SELECT r.check_name FROM {table} r"
    "   WHERE r.check_name > n.check_name ORDER BY r.check_name LIMIT 1), n.i + 1"
    "   FROM names n WHERE n.check_name IS NOT NULL AND n.i < $2),"
    " last AS (SELECT l.* FROM names n CROSS JOIN LATERAL (SELECT check_name, plugin, target,"
    "   status, scheduled_at, error_kind, error_message, total_ms, http_code FROM {table} r"
    "   WHERE r.check_name = n.check_name AND r.scheduled_at <= $1::timestamptz"
    "   AND r.scheduled_at > $1::timestamptz - interval '90 days'"
    "   ORDER BY r.scheduled_at DESC LIMIT 1) l)"
    " SELECT left(l.check_name, 1000), left(l.plugin, 1000), left(l.target, 1000), l.status,"
    " (extract(epoch FROM l.scheduled_at) * 1000)::bigint, left(l.error_kind, 1000),"
    " left(l.error_message, 1000), l.total_ms, l.http_code,"
    " (SELECT (extract(epoch FROM min(r.scheduled_at)) * 1000)::bigint FROM {table} r"
    "   WHERE r.check_name = l.check_name AND r.scheduled_at <= $1::timestamptz"
    "   AND r.scheduled_at > coalesce((SELECT max(x.scheduled_at) FROM {table} x"
    "     WHERE x.check_name = l.check_name AND x.status <> l.status"
    "     AND x.scheduled_at <= $1::timestamptz"
    "     AND x.scheduled_at > $1::timestamptz - interval '90 days'),"
    "     $1::timestamptz - interval '90 days'))"
    " FROM last l ORDER BY l.check_name LIMIT $2";

// Results and up results per check and UTC day from the daily rollups of the 90 days, and for
// a day not rolled up yet (today) from its hourly rollups and the raw rows of the hours after
// the last one rolled up ($3). $2: the first hour of the 30 days, $4: the first day of the 90.
const char* days_sql =
    "WITH h AS (SELECT check_name, bucket, results, up FROM {hourly}"
    "   WHERE bucket >= $2::timestamptz AND bucket <= $1::timestamptz"
    " UNION ALL SELECT check_name, date_trunc('hour', scheduled_at, 'UTC'), count(*),"
    "   count(*) FILTER (WHERE status = 'up') FROM {table} WHERE scheduled_at >= $3::timestamptz"
    "   AND scheduled_at <= $1::timestamptz GROUP BY 1, 2),"
    " d AS (SELECT check_name, bucket AS day, results, up FROM {daily}"
    "   WHERE bucket >= $4::timestamptz AND bucket <= $1::timestamptz"
    " UNION ALL SELECT check_name, date_trunc('day', bucket, 'UTC'), results, up FROM h"
    "   WHERE NOT EXISTS (SELECT 1 FROM {daily} x WHERE x.check_name = h.check_name"
    "   AND x.bucket = date_trunc('day', h.bucket, 'UTC')))"
    " SELECT left(check_name, 1000), (extract(epoch FROM day) * 1000)::bigint, sum(results),"
    " sum(up) FROM d GROUP BY 1, 2";

// Results and up results per check in the 24 hours, 7 days and 30 days (whole hours: those
// before the hour of $1, and that hour), from the hourly rollups and the newest raw rows.
const char* windows_sql =
    "WITH h AS (SELECT check_name, bucket, results, up FROM {hourly}"
    "   WHERE bucket >= $2::timestamptz AND bucket <= $1::timestamptz"
    " UNION ALL SELECT check_name, date_trunc('hour', scheduled_at, 'UTC'), count(*),"
    "   count(*) FILTER (WHERE status = 'up') FROM {table} WHERE scheduled_at >= $3::timestamptz"
    "   AND scheduled_at <= $1::timestamptz GROUP BY 1, 2)"
    " SELECT left(check_name, 1000),"
    " sum(results) FILTER (WHERE bucket >= $4::timestamptz),"
    " sum(up) FILTER (WHERE bucket >= $4::timestamptz),"
    " sum(results) FILTER (WHERE bucket >= $5::timestamptz),"
    " sum(up) FILTER (WHERE bucket >= $5::timestamptz),"
    " sum(results), sum(up) FROM h GROUP BY 1";

// p50/p95 of the up results' total time per check and UTC half hour (by its number since the
// epoch) of the last 24 h.
const char* latency_sql =
    "SELECT left(check_name, 1000), floor(extract(epoch FROM scheduled_at) / 1800)::bigint,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms),"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms)"
    " FROM {table} WHERE status = 'up' AND total_ms IS NOT NULL"
    " AND scheduled_at > $1::timestamptz - interval '24 hours'"
    " AND scheduled_at <= $1::timestamptz GROUP BY 1, 2 ORDER BY 1, 2";

// Open incidents and those resolved in the last 7 days; locations as lines.
const char* incidents_sql =
    "SELECT left(incident_id::text, 1000), left(check_name, 1000),"
    " (extract(epoch FROM opened_at) * 1000)::bigint,"
    " (extract(epoch FROM resolved_at) * 1000)::bigint, left(error_kind, 1000),"
    " left(error_message, 1000),"
    " CASE WHEN jsonb_typeof(locations) = 'array' THEN (SELECT string_agg(left(x, 1000), E'\\n')"
    "   FROM (SELECT x FROM jsonb_array_elements_text(locations) x LIMIT 20) s) END"
    " FROM {incidents} WHERE opened_at <= $1::timestamptz"
    " AND (resolved_at IS NULL OR resolved_at > $1::timestamptz - interval '7 days')"
    " ORDER BY coalesce(resolved_at, 'infinity') DESC, opened_at DESC LIMIT $2";

std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : f.c_str(); }

std::optional<double> fraction(uint64_t total, uint64_t up) {
  if (total == 0) return std::nullopt;
  return static_cast<double>(up) / static_cast<double>(total);
}

}  // namespace

status_view read_status_view(pqxx::connection& c, const pg::table_names& names,
                             const std::string& now) {
  const pg::quoted_names q(c, names);
  const std::string& incidents_name = q.incidents;  // pg_sink's migration 5 (may be absent)
  pqxx::read_transaction tx(c);
  const auto sql = [&](const char* s) {
    return with_names(s, q.table, incidents_name, q.rollup_hourly, q.rollup_daily);
  };

  status_view v;
  v.generated_at_ms = tx.exec_params1(
                            "SELECT (extract(epoch FROM $1::timestamptz) * 1000)"
                            "::bigint",
                            now)[0]
                          .as<int64_t>();
  v.title = names.schema + "." + names.table;
  std::map<std::string, std::size_t> index;
  for (const auto& row : tx.exec_params(sql(checks_sql), now, static_cast<int64_t>(max_checks))) {
    check_view cv;
    cv.name = text(row[0]);
    cv.plugin = text(row[1]);
    cv.target = config::redact_userinfo(text(row[2]));
    cv.state = text(row[3]) == "up" ? status_state::up : status_state::down;
    last_result_view last;
    last.at_ms = row[4].as<int64_t>();
    last.up = cv.state == status_state::up;
    last.error_kind = text(row[5]);
    last.error_message = text(row[6]);
    if (!row[7].is_null()) last.total_ms = row[7].as<double>();
    if (!row[8].is_null()) last.http_code = row[8].as<int32_t>();
    cv.last = std::move(last);
    cv.state_since_ms = row[9].as<int64_t>(0);
    const int64_t first_day = (v.generated_at_ms / day_ms - (days_shown - 1)) * day_ms;
    for (int d = 0; d < days_shown; ++d)
      cv.segments.push_back({first_day + d * day_ms, first_day + (d + 1) * day_ms, 0, 0});
    index.emplace(cv.name, v.checks.size());
    v.checks.push_back(std::move(cv));
  }
  const auto find = [&](const pqxx::field& name) -> check_view* {
    const auto it = index.find(text(name));
    return it == index.end() ? nullptr : &v.checks[it->second];
  };
  // Results and up results per check: 24 h, 7 d, 30 d, 90 d.
  std::map<check_view*, std::array<uint64_t, 8>> windows;
  // The bounds as values, so the planner prunes the raw rows' partitions.
  const pqxx::row b = tx.exec_params1(
      "SELECT $1::timestamptz, date_trunc('hour', $1::timestamptz - interval '30 days', 'UTC'),"
      " coalesce((SELECT max(bucket) + interval '1 hour' FROM " +
          q.rollup_hourly +
          " WHERE bucket >= date_trunc('hour', $1::timestamptz - interval '30 days', 'UTC')"
          " AND bucket <= $1::timestamptz), date_trunc('hour', $1::timestamptz - interval"
          " '30 days', 'UTC')), date_trunc('day', $1::timestamptz - interval '90 days', 'UTC'),"
          " date_trunc('hour', $1::timestamptz - interval '24 hours', 'UTC'),"
          " date_trunc('hour', $1::timestamptz - interval '7 days', 'UTC')",
      now);
  for (const auto& row :
       tx.exec_params(sql(days_sql), b[0].c_str(), b[1].c_str(), b[2].c_str(), b[3].c_str()))
    if (check_view* cv = find(row[0])) {
      std::array<uint64_t, 8>& w = windows[cv];
      w[6] += row[2].as<uint64_t>(0);
      w[7] += row[3].as<uint64_t>(0);
      const int64_t d = (row[1].as<int64_t>() - cv->segments.front().start_ms) / day_ms;
      if (d < 0 || d >= days_shown) continue;  // the day before the first segment (90 d only)
      cv->segments[static_cast<std::size_t>(d)].total = row[2].as<uint32_t>();
      cv->segments[static_cast<std::size_t>(d)].up = row[3].as<uint32_t>();
    }
  for (const auto& row : tx.exec_params(sql(windows_sql), b[0].c_str(), b[1].c_str(), b[2].c_str(),
                                        b[4].c_str(), b[5].c_str()))
    if (check_view* cv = find(row[0])) {
      std::array<uint64_t, 8>& w = windows[cv];
      for (int k = 0; k < 6; ++k) w[static_cast<std::size_t>(k)] += row[k + 1].as<uint64_t>(0);
    }
  for (auto& [cv, w] : windows) {
    cv->uptime.h24 = fraction(w[0], w[1]);
    cv->uptime.d7 = fraction(w[2], w[3]);
    cv->uptime.d30 = fraction(w[4], w[5]);
    cv->uptime.d90 = fraction(w[6], w[7]);
  }
  for (const auto& row : tx.exec_params(sql(latency_sql), now))
    if (check_view* cv = find(row[0]))
      cv->latency.push_back(
          {row[1].as<int64_t>() * half_hour_ms, row[2].as<double>(0), row[3].as<double>(0)});
  if (!tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", incidents_name)[0].as<bool>())
    return v;
  for (const auto& row :
       tx.exec_params(sql(incidents_sql), now, static_cast<int64_t>(max_incidents))) {
    incident_view i;
    i.id = text(row[0]);
    i.check = text(row[1]);
    i.opened_at_ms = row[2].as<int64_t>(0);
    i.resolved_at_ms = row[3].as<int64_t>(0);
    i.error_kind = text(row[4]);
    i.error_message = text(row[5]);
    const std::string locations = text(row[6]);
    for (std::size_t at = 0; at < locations.size();) {
      const std::size_t end = std::min(locations.find('\n', at), locations.size());
      i.locations.push_back(locations.substr(at, end - at));
      at = end + 1;
    }
    v.incidents.push_back(std::move(i));
  }
  return v;
}

void apply_config(status_view& v, const config::agent& cfg) {
  std::map<std::string_view, const config::check*> by_name;
  for (const config::check& c : cfg.checks) by_name.emplace(c.name, &c);
  for (check_view& c : v.checks)
    if (const auto it = by_name.find(c.name); it != by_name.end()) {
      c.group = it->second->group;
      c.interval_ms = it->second->interval_ms;
    }
}

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  const auto fail = [&](const std::string& what) {
    const std::string reason = sdk::error_text(errno);
    std::remove(temp.c_str());
    throw std::runtime_error(what + ": " + reason);
  };
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) fail("cannot write " + temp);
  const bool written = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  if (std::fclose(f) != 0 || !written) fail("cannot write " + temp);
  if (std::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename " + temp + " to " + path);
}

}  // namespace isitup::report
