// The v1 wire codec: the rules a record obeys (validate) and the time format. Encoding is in
// codec_encode.cpp, decoding in codec_decode.cpp; both apply the rules below.
#include "codec.hpp"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <cmath>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>

#include "codec_internal.hpp"

namespace isitup::codec {
namespace detail {
namespace {

constexpr int64_t ms_per_day = 86'400'000;
constexpr int64_t min_time_ms = -62'167'219'200'000;  // 0000-01-01T00:00:00.000Z
constexpr int64_t max_time_ms = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct civil_date {
  int64_t year;
  unsigned month, day;
};

constexpr civil_date civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(0, 1, 1) * ms_per_day == min_time_ms);
static_assert(days_from_civil(10000, 1, 1) * ms_per_day - 1 == max_time_ms);

constexpr bool is_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

constexpr unsigned days_in_month(int64_t y, unsigned m) {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

bool time_in_range(int64_t ms) { return ms >= min_time_ms && ms <= max_time_ms; }

// When a result was due or started: from 1970 on (every result store keeps these as its key
// and most cannot hold year 0000, PostgreSQL among them).
bool result_time_in_range(int64_t ms) { return ms >= 0 && ms <= max_time_ms; }

// Writes `value` as exactly `width` decimal digits at p.
void put_digits(char* p, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) p[i] = static_cast<char>('0' + value % 10);
}

// Reads exactly `width` decimal digits at text[pos]; false if any is not a digit.
bool get_digits(std::string_view text, size_t pos, size_t width, int64_t& value) {
  value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

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
  int64_t days = ms / ms_per_day;
  int64_t rem = ms % ms_per_day;
  if (rem < 0) {
    rem += ms_per_day;
    --days;
  }
  // The records of one thread mostly fall on the same day: keep its date text.
  thread_local int64_t last_days = std::numeric_limits<int64_t>::min();
  thread_local char date_text[11] = "0000-00-00";
  if (days != last_days) {
    const civil_date date = civil_from_days(days);
    put_digits(&date_text[0], date.year, 4);
    put_digits(&date_text[5], date.month, 2);
    put_digits(&date_text[8], date.day, 2);
    last_days = days;
  }
  std::memcpy(out, date_text, 10);
  std::memcpy(out + 10, "T00:00:00.000Z", time_length - 10);
  put_digits(&out[11], rem / 3'600'000, 2);
  put_digits(&out[14], rem / 60'000 % 60, 2);
  put_digits(&out[17], rem / 1000 % 60, 2);
  put_digits(&out[20], rem % 1000, 3);
  return true;
}

// Sixteen (SSE2) or eight bytes at a time while they are ASCII (every record is, nearly always),
// then the well-formed sequences of RFC 3629 (table 3-7 of the Unicode standard) byte by byte.
size_t utf8_prefix(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
#ifdef __SSE2__
    if (i + 16 <= n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      if (_mm_movemask_epi8(v) == 0) {
        i += 16;
        continue;
      }
    }
#endif
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return n;
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
  using namespace detail;
  // YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DDTHH:MM:SS.mmmZ
  if (t.size() != 20 && t.size() != 24) return false;
  if (t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t.back() != 'Z')
    return false;
  int64_t year, month, day, hour, minute, second, millis = 0;
  if (!get_digits(t, 0, 4, year) || !get_digits(t, 5, 2, month) || !get_digits(t, 8, 2, day) ||
      !get_digits(t, 11, 2, hour) || !get_digits(t, 14, 2, minute) || !get_digits(t, 17, 2, second))
    return false;
  if (t.size() == 24 && (t[19] != '.' || !get_digits(t, 20, 3, millis))) return false;
  if (month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 || minute > 59 ||
      second > 59)
    return false;
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  epoch_ms = days * ms_per_day + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  return true;
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
