// Parts of the v1 codec shared by codec.cpp (rules, time), codec_encode.cpp and
// codec_decode.cpp. Not part of the codec's interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <isitup/core/record.hpp>
#include <isitup/util/civil_time.hpp>
#include <isitup/util/utf8.hpp>

namespace isitup::codec::detail {

constexpr size_t time_length = sdk::utc_text_length;  // "2026-11-27T18:00:00.000Z"

// Writes `ms` as YYYY-MM-DDTHH:MM:SS.mmmZ at out (no NUL); false when out of range.
bool format_time(int64_t ms, char* out);

using sdk::is_utf8;
using sdk::utf8_prefix;

bool is_error_kind(std::string_view k);

// Sets error to "<field>: <what>" and returns false.
bool fail(std::string& error, std::string_view field, std::string_view what);

// Parses `text` as one JSON object and writes its compact form into `compact`; false when it
// is anything else. `depth` is how deep it nests (1 for {"a":1}).
bool compact_object(std::string_view text, std::string& compact, int& depth);

// The rules every record obeys (see validate()); `check_extra` also parses extra_json.
bool validate_record(const record& r, std::string& error, bool check_extra);

constexpr int max_extra_depth = 32;
constexpr const char* time_expected = "expected a UTC time like 2026-11-27T18:00:00.000Z";
constexpr const char* result_time_expected =
    "expected a UTC time from 1970-01-01 to 9999-12-31 like 2026-11-27T18:00:00.000Z";
constexpr const char* time_or_null_expected =
    "expected a UTC time like 2026-11-27T18:00:00.000Z or null";
constexpr const char* kind_expected = "expected 1..64 characters of [a-z0-9_]";
constexpr const char* code_expected =
    "expected an integer 0..999 (an HTTP status has three digits)";
constexpr const char* count_expected = "expected an integer >= 0";
constexpr const char* timing_expected = "expected a number >= 0";
constexpr const char* regex_expected = "expected true, false or null";
constexpr const char* extra_expected = "expected a JSON object";
constexpr const char* extra_too_deep = "nested deeper than 32 levels";

constexpr const char* timing_fields[] = {"timing_ms.dns", "timing_ms.connect", "timing_ms.tls",
                                         "timing_ms.ttfb", "timing_ms.total"};
constexpr const char* timing_names[] = {"dns", "connect", "tls", "ttfb", "total"};

}  // namespace isitup::codec::detail
