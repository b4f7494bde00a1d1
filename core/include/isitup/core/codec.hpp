// The v1 result record codec: the one place that turns records into JSON and back.
// Pure functions, no I/O, safe to call from any thread.
#pragma once

#include <isitup/plugin.h>

#include <string>
#include <string_view>

#include <isitup/core/record.hpp>

namespace isitup::codec {

// Appends the JSON object for `r` (one line, no trailing newline) to `out`.
void encode(const isitup_record_v1& r, std::string& out);
inline void encode(const record& r, std::string& out) { encode(r.view(), out); }

// Decodes and validates one v1 record. On failure returns false and sets `error` to a
// one-line reason naming the field ("http.code: expected an integer 0..999 (an HTTP status has
// three digits)").
bool decode(std::string_view json, record& out, std::string& error);

// Validates a record before it is encoded or produced (same rules as decode).
bool validate(const record& r, std::string& error);

// "2026-11-27T18:00:00.000Z" <-> epoch milliseconds. parse returns false on bad input.
std::string format_time_ms(int64_t epoch_ms);
bool parse_time_ms(std::string_view text, int64_t& epoch_ms);

}  // namespace isitup::codec
