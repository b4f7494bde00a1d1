// The v1 wire codec: the rules a record obeys (validate) and the time format. Encoding is in
// codec_encode.cpp, decoding in codec_decode.cpp; both apply the rules below.
#include <isitup/core/codec.hpp>

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>

#include "codec_internal.hpp"

namespace isitup::codec {
namespace detail {
namespace {

constexpr int64_t min_time_ms = sdk::earliest_utc_text_ms;  // 0000-01-01T00:00:00.000Z
constexpr int64_t max_time_ms = sdk::latest_utc_text_ms;    // 9999-12-31T23:59:59.999Z

bool time_in_range(int64_t ms) { return ms >= min_time_ms && ms <= max_time_ms; }

// When a result was due or started: from 1970 on (every result store keeps these as its key
// and most cannot hold year 0000, PostgreSQL among them).
bool result_time_in_range(int64_t ms) { return ms >= 0 && ms <= max_time_ms; }

// Strings cross the C ABI NUL-terminated, so a NUL inside one cannot be carried.
bool check_text(std::string& error, const char* field, const std::string& s) {
  if (s.find('\0') != std::string::npos) return fail(error, field, "contains a NUL character");
  if (!is_utf8(s)) return fail(error, field, "is not valid UTF-8");
  return true;
}

bool check_required_text(std::string& error, const char* field, const std::string& s) {
  if (s.empty()) return fail(error, field, "expected a non-empty string");
  return check_text(error, field, s);
}

bool timing_ok(double ms) { return ms == ISITUP_ABSENT_MS || (std::isfinite(ms) && ms >= 0); }

// A RapidJSON SAX handler that writes what it is handed through a Writer and records how
// deep it nests. Reader's iterative mode keeps the stack flat however deep the input is.
class compacting_handler {
 public:
  using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
  explicit compacting_handler(json_writer& w) : w_(w) {}
  int max_depth() const { return max_depth_; }

  bool Null() { return w_.Null(); }
  bool Bool(bool b) { return w_.Bool(b); }
  bool Int(int i) { return w_.Int(i); }
  bool Uint(unsigned u) { return w_.Uint(u); }
  bool Int64(int64_t i) { return w_.Int64(i); }
  bool Uint64(uint64_t u) { return w_.Uint64(u); }
  bool Double(double d) { return w_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return w_.RawValue(s, n, rapidjson::kNumberType);
  }
  bool String(const char* s, rapidjson::SizeType n, bool) { return w_.String(s, n); }
  bool Key(const char* s, rapidjson::SizeType n, bool) { return w_.Key(s, n); }
  bool StartObject() { return enter() && w_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return w_.EndObject(n);
  }
  bool StartArray() { return enter() && w_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return w_.EndArray(n);
  }

 private:
  bool enter() {
    if (++depth_ > max_depth_) max_depth_ = depth_;
    return true;
  }
  json_writer& w_;
  int depth_ = 0, max_depth_ = 0;
};

bool check_extra_text(std::string& error, const std::string& extra) {
  std::string compact;
  int depth = 0;
  if (!compact_object(extra, compact, depth)) return fail(error, "extra", extra_expected);
  if (depth > max_extra_depth) return fail(error, "extra", extra_too_deep);
  return true;
}

}  // namespace

bool format_time(int64_t ms, char* out) {
  if (!time_in_range(ms)) return false;
  const sdk::day_and_time t = sdk::split_epoch_ms(ms);
  // The records of one thread mostly fall on the same day: keep its date text.
  thread_local int64_t last_days = std::numeric_limits<int64_t>::min();
  thread_local char date_text[10];
  if (t.days != last_days) {
    sdk::put_date(t.days, date_text);
    last_days = t.days;
  }
  std::memcpy(out, date_text, 10);
  out[10] = 'T';
  sdk::put_time_of_day(t.ms_of_day, out + 11);
  out[23] = 'Z';
  return true;
}

bool is_error_kind(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool fail(std::string& error, std::string_view field, std::string_view what) {
  error.assign(field);
  error += ": ";
  error += what;
  return false;
}

bool compact_object(std::string_view text, std::string& compact, int& depth) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{' ||
      text.find('\0') != std::string_view::npos)
    return false;
  rapidjson::StringBuffer buffer;
  compacting_handler::json_writer w(buffer);
  compacting_handler handler(w);
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::Reader reader;
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  if (reader.Parse<flags>(ms, handler).IsError()) return false;
  compact.assign(buffer.GetString(), buffer.GetSize());
  depth = handler.max_depth();
  return true;
}

bool validate_record(const record& r, std::string& error, bool check_extra) {
  if (!check_required_text(error, "agent", r.agent) || !check_text(error, "location", r.location) ||
      !check_required_text(error, "check", r.check) ||
      !check_required_text(error, "plugin", r.plugin) ||
      !check_required_text(error, "target", r.target))
    return false;
  if (!result_time_in_range(r.scheduled_at_ms))
    return fail(error, "scheduled_at", result_time_expected);
  if (!result_time_in_range(r.started_at_ms))
    return fail(error, "started_at", result_time_expected);
  if (r.up) {
    if (!r.error_kind.empty() || !r.error_message.empty())
      return fail(error, "error", "expected null when status is up");
  } else {
    if (!is_error_kind(r.error_kind)) return fail(error, "error.kind", kind_expected);
    if (!check_text(error, "error.message", r.error_message)) return false;
  }
  if (r.http_code != ISITUP_ABSENT_INT && (r.http_code < 0 || r.http_code > 999))
    return fail(error, "http.code", code_expected);
  if (!check_text(error, "http.version", r.http_version)) return false;
  if (r.http_bytes != ISITUP_ABSENT_INT && r.http_bytes < 0)
    return fail(error, "http.bytes", count_expected);
  const double timings[] = {r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.total_ms};
  for (size_t i = 0; i < std::size(timings); ++i)
    if (!timing_ok(timings[i])) return fail(error, timing_fields[i], timing_expected);
  if (r.regex_match != ISITUP_ABSENT_INT && r.regex_match != 0 && r.regex_match != 1)
    return fail(error, "regex_match", regex_expected);
  if (r.tls_not_after_ms != ISITUP_ABSENT_TIME && !time_in_range(r.tls_not_after_ms))
    return fail(error, "tls.not_after", time_or_null_expected);
  if (r.redirects != ISITUP_ABSENT_INT && r.redirects < 0)
    return fail(error, "redirects", count_expected);
  if (!check_text(error, "ip", r.ip)) return false;
  if (check_extra && !r.extra_json.empty() && !check_extra_text(error, r.extra_json)) return false;
  return true;
}

}  // namespace detail

std::string format_time_ms(int64_t epoch_ms) {
  char text[detail::time_length];
  return detail::format_time(epoch_ms, text) ? std::string(text, detail::time_length)
                                             : std::string();
}

bool parse_time_ms(std::string_view t, int64_t& epoch_ms) {
  return sdk::parse_utc_ms(t.data(), t.size(), epoch_ms);
}

bool validate(const record& r, std::string& error) {
  try {
    return detail::validate_record(r, error, /*check_extra=*/true);
  } catch (const std::exception& e) {
    error = std::string("cannot validate: ") + e.what();
    return false;
  }
}

}  // namespace isitup::codec
