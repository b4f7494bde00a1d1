// Records PostgreSQL refuses for good (a permanent data error: SQLSTATE class 22, class 23
// other than the unique violation ON CONFLICT absorbs, 54000), and the keyless ones the writer
// refuses itself: kept in <table>_rejects with the error and the record's JSON, bounded in
// size, so that they never block the rows around them. Used by pg_writer's I/O thread only.
#pragma once

#include <isitup/plugin.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

namespace isitup::pg {

// The record's v1 JSON (the host's codec); unset: the rejects table keeps the key only.
using record_json_fn = std::function<std::string(const isitup_record_v1&)>;

constexpr std::size_t max_reject_record_bytes = 16384;
constexpr std::size_t max_reject_error_bytes = 1024;

struct rejected_record {
  const isitup_record_v1* record;  // points into the batch written
  std::string sqlstate;
  std::string error;    // PostgreSQL's message (or the writer's), bounded
  bool stored = false;  // kept in the rejects table
};

// True for the SQLSTATEs the same row meets every time it is written again.
bool permanent_data_error(std::string_view sqlstate);

// `s` as valid UTF-8 (invalid bytes become U+FFFD) of at most `max_bytes` bytes, cut at a
// character boundary and ending with "…" when cut.
std::string bounded_text(std::string_view s, std::size_t max_bytes);

// "agent 'a', check 'c', scheduled_at 2026-11-27T18:00:00.000Z" for a log line: names cut
// to 100 bytes, control characters shown as '?'.
std::string describe_key(const isitup_record_v1& r);

// Inserts every reject into `table` (quoted, qualified) in one transaction, once per distinct
// record text (ON CONFLICT on its md5 DO NOTHING), and marks them stored. A permanent error
// leaves them unstored; any other error is thrown (the caller retries the batch).
void store_rejects(pqxx::connection& c, const std::string& table,
                   std::vector<rejected_record>& rejects, const record_json_fn& to_json);

namespace detail {
// From pg_writer.cpp: the ISO text of a time (years 0..9999, else the number of ms); whether
// the results table can store it (years 1..9999).
std::string iso_time(int64_t ms);
bool storable_time(int64_t ms);
}  // namespace detail

}  // namespace isitup::pg
