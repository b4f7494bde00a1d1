// isitup-report --html: the status page (core/status_page) built from the tables pg_sink
// writes. Used by report.cpp's main only; one thread.
#pragma once

#include <pqxx/pqxx>
#include <string>

#include <isitup/core/config.hpp>
#include <isitup/core/status_model.hpp>
#include "pg_schema.hpp"

namespace isitup::report {

// The status page's data as of `now` (timestamptz text, e.g. "now" or "2026-11-27 18:00Z"):
// every check with a result in the 90 days up to `now` (at most max_checks, by name), its last
// result and since when its state holds, uptime over 24 h / 7 d / 30 d / 90 d and 90 daily bar
// segments (UTC days, the last one today's) from the hourly and daily rollups (whole hours; the
// newest raw rows for hours not rolled up yet), p50/p95 of the up results' total_ms per UTC half
// hour over 24 h, and incidents open or resolved in the last 7 days from <table>_incidents when
// that table exists (none otherwise). Strings from the database are cut to a bound; targets lose
// any password. Throws pqxx errors.
status_view read_status_view(pqxx::connection& c, const pg::table_names& names,
                             const std::string& now);

constexpr std::size_t max_checks = 10'000;

// Sets group and interval of every check of `v` that `cfg` has a check of the same name for
// (the table knows neither); the others keep no group.
void apply_config(status_view& v, const config::agent& cfg);

// Writes `content` to `path` through a temporary file in the same folder and a rename, so a web
// server never serves half a page. Throws std::runtime_error naming the file on failure.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace isitup::report
