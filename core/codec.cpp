// The v1 wire codec. Encoding streams through a RapidJSON Writer straight into the caller's
// string (no DOM); decoding parses into a Document (iteratively, so deep nesting cannot
// exhaust the stack), then applies the same rules as validate().
//
// Encoding is faithful rather than forgiving: a value the wire format does not allow
// (http_code 42, a timestamp past year 9999, an extra that is not a JSON object) is still
// written, in a form decode() rejects with the message validate() gives for it. Absent values
// become null or are left out; NaN and infinite timings (unrepresentable) become null. The
// output is always one line of JSON whatever the record holds; strings are copied byte for
// byte, so invalid UTF-8 stays invalid (and decode() refuses it).
#include "codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <exception>
#include <iterator>
#include <utility>

namespace isitup::codec {
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

// Writes `value` as exactly `width` decimal digits at p.
void put_digits(char* p, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) p[i] = static_cast<char>('0' + value % 10);
}

constexpr size_t time_length = 24;  // "2026-11-27T18:00:00.000Z"

// Writes `ms` as YYYY-MM-DDTHH:MM:SS.mmmZ into out (no NUL); false when out of range.
bool format_time(int64_t ms, char (&out)[time_length]) {
  if (!time_in_range(ms)) return false;
  int64_t days = ms / ms_per_day;
  int64_t rem = ms % ms_per_day;
  if (rem < 0) {
    rem += ms_per_day;
    --days;
  }
  const civil_date date = civil_from_days(days);
  std::memcpy(out, "0000-00-00T00:00:00.000Z", time_length);
  put_digits(&out[0], date.year, 4);
  put_digits(&out[5], date.month, 2);
  put_digits(&out[8], date.day, 2);
  put_digits(&out[11], rem / 3'600'000, 2);
  put_digits(&out[14], rem / 60'000 % 60, 2);
  put_digits(&out[17], rem / 1000 % 60, 2);
  put_digits(&out[20], rem % 1000, 3);
  return true;
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

struct discard_stream {
  using Ch = char;
  void Put(char) {}
};

// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view s) {
  rapidjson::MemoryStream in(s.data(), s.size());  // reads '\0' past the end
  discard_stream out;
  while (in.Tell() < s.size())
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  return true;
}

bool fail(std::string& error, std::string_view field, std::string_view what) {
  error.assign(field);
  error += ": ";
  error += what;
  return false;
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

bool is_error_kind(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

constexpr const char* time_expected = "expected a UTC time like 2026-11-27T18:00:00.000Z";
constexpr const char* time_or_null_expected =
    "expected a UTC time like 2026-11-27T18:00:00.000Z or null";
constexpr const char* kind_expected = "expected 1..64 characters of [a-z0-9_]";
constexpr const char* code_expected = "expected an integer 100..599";
constexpr const char* count_expected = "expected an integer >= 0";
constexpr const char* timing_expected = "expected a number >= 0";
constexpr const char* regex_expected = "expected true, false or null";
constexpr const char* extra_expected = "expected a JSON object";
constexpr int max_extra_depth = 32;

constexpr const char* timing_fields[] = {"timing_ms.dns", "timing_ms.connect", "timing_ms.tls",
                                         "timing_ms.ttfb", "timing_ms.total"};
constexpr const char* timing_names[] = {"dns", "connect", "tls", "ttfb", "total"};

bool timing_ok(double ms) { return ms == ISITUP_ABSENT_MS || (std::isfinite(ms) && ms >= 0); }

using json_value = rapidjson::Value;
constexpr unsigned parse_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// A RapidJSON output stream appending to a std::string.
class string_stream {
 public:
  using Ch = char;
  explicit string_stream(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

 private:
  std::string& out_;
};

using json_writer = rapidjson::Writer<string_stream>;

// True when the nesting of v is at most `limit` levels (bounded recursion).
bool depth_within(const json_value& v, int limit) {
  if (!v.IsObject() && !v.IsArray()) return true;
  if (limit == 0) return false;
  if (v.IsArray()) {
    for (const auto& item : v.GetArray())
      if (!depth_within(item, limit - 1)) return false;
  } else {
    for (const auto& m : v.GetObject())
      if (!depth_within(m.value, limit - 1)) return false;
  }
  return true;
}

// A RapidJSON SAX handler that writes what it is handed through a Writer and records how
// deep it nests. Reader's iterative mode keeps the stack flat however deep the input is.
class compacting_handler {
 public:
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

// Parses `text` as one JSON object and writes its compact form into `compact`; false when it
// is anything else. `depth` is how deep it nests (1 for {"a":1}).
bool compact_object(std::string_view text, std::string& compact, int& depth) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{' ||
      text.find('\0') != std::string_view::npos)
    return false;
  compact.clear();
  string_stream os(compact);
  json_writer w(os);
  compacting_handler handler(w);
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::Reader reader;
  if (reader.Parse<parse_flags>(ms, handler).IsError()) return false;
  depth = handler.max_depth();
  return true;
}

bool check_extra_text(std::string& error, const std::string& extra) {
  std::string compact;
  int depth = 0;
  if (!compact_object(extra, compact, depth)) return fail(error, "extra", extra_expected);
  if (depth > max_extra_depth) return fail(error, "extra", "nested deeper than 32 levels");
  return true;
}

// Each writes one member: the key, then the value or null when absent.
void put_string(json_writer& w, const char* key, const char* s) {
  w.Key(key);
  if (s)
    w.String(s, static_cast<rapidjson::SizeType>(std::strlen(s)));
  else
    w.Null();
}

void put_time(json_writer& w, const char* key, int64_t ms) {
  w.Key(key);
  char text[time_length];
  if (ms == ISITUP_ABSENT_TIME)
    w.Null();
  else if (!format_time(ms, text))
    w.Int64(ms);  // not representable: written so that decode rejects it
  else
    w.String(text, time_length);
}

void put_int(json_writer& w, const char* key, int64_t v) {
  w.Key(key);
  if (v == ISITUP_ABSENT_INT)
    w.Null();
  else
    w.Int64(v);
}

// Rounded to 3 decimals and printed in shortest form (41.0, 12.345).
void put_ms(json_writer& w, const char* key, double ms) {
  w.Key(key);
  if (ms == ISITUP_ABSENT_MS || !std::isfinite(ms)) {
    w.Null();
    return;
  }
  if (std::fabs(ms) < 1e15) ms = std::nearbyint(ms * 1000.0) / 1000.0;
  if (ms == 0) ms = 0.0;  // no "-0.0"
  w.Double(ms);
}

// Starts a sub-object when `present`, else writes null; returns `present`.
bool begin_object(json_writer& w, const char* key, bool present) {
  w.Key(key);
  if (present)
    w.StartObject();
  else
    w.Null();
  return present;
}

const json_value* member(const json_value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::string_view as_view(const json_value& v) { return {v.GetString(), v.GetStringLength()}; }
std::string to_string(const json_value& v) { return std::string(as_view(v)); }

// An optional sub-object: nullptr when absent or null; false when it is something else.
bool sub_object(const json_value& root, const char* name, const json_value*& out,
                std::string& error) {
  out = member(root, name);
  if (out && !out->IsObject()) return fail(error, name, "expected an object or null");
  return true;
}

bool read_time(const json_value* v, const char* field, const char* what, int64_t& out,
               std::string& error) {
  if (!v) {
    out = ISITUP_ABSENT_TIME;
    return true;
  }
  if (!v->IsString() || !parse_time_ms(as_view(*v), out)) return fail(error, field, what);
  return true;
}

bool read_optional_string(const json_value* v, const char* field, std::string& out,
                          std::string& error) {
  if (!v) return true;
  if (!v->IsString()) return fail(error, field, "expected a string or null");
  out = to_string(*v);
  return true;
}

bool validate_impl(const record& r, std::string& error, bool check_extra);

bool decode_impl(std::string_view json, record& out, std::string& error) {
  if (const size_t nul = json.find('\0'); nul != std::string_view::npos) {
    error = "invalid JSON at offset " + std::to_string(nul) + ": NUL byte.";
    return false;
  }
  rapidjson::Document doc;
  doc.Parse<parse_flags>(json.data(), json.size());
  if (doc.HasParseError()) {
    error = "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
            rapidjson::GetParseError_En(doc.GetParseError());
    return false;
  }
  if (!doc.IsObject()) return fail(error, "record", "expected a JSON object");

  record r;
  const json_value* v = member(doc, "v");
  if (!v || !v->IsInt() || v->GetInt() != 1) return fail(error, "v", "expected 1");

  struct identity_field {
    const char* name;
    std::string* target;
    bool required;
  };
  const identity_field identity[] = {{"agent", &r.agent, true},
                                     {"location", &r.location, false},
                                     {"check", &r.check, true},
                                     {"plugin", &r.plugin, true},
                                     {"target", &r.target, true}};
  for (const identity_field& f : identity) {
    v = member(doc, f.name);
    if (!f.required) {
      if (!read_optional_string(v, f.name, *f.target, error)) return false;
      continue;
    }
    if (!v || !v->IsString() || v->GetStringLength() == 0)
      return fail(error, f.name, "expected a non-empty string");
    *f.target = to_string(*v);
  }

  if (!read_time(member(doc, "scheduled_at"), "scheduled_at", time_expected, r.scheduled_at_ms,
                 error) ||
      !read_time(member(doc, "started_at"), "started_at", time_expected, r.started_at_ms, error))
    return false;
  if (r.scheduled_at_ms == ISITUP_ABSENT_TIME) return fail(error, "scheduled_at", time_expected);
  if (r.started_at_ms == ISITUP_ABSENT_TIME) return fail(error, "started_at", time_expected);

  v = member(doc, "status");
  const std::string_view status = v && v->IsString() ? as_view(*v) : std::string_view();
  if (status != "up" && status != "down")
    return fail(error, "status", "expected \"up\" or \"down\"");
  r.up = status == "up";

  v = member(doc, "error");
  if (r.up && v) return fail(error, "error", "expected null when status is up");
  if (!r.up) {
    if (!v || !v->IsObject())
      return fail(error, "error", "expected {\"kind\", \"message\"} when status is down");
    const json_value* kind = member(*v, "kind");
    if (!kind || !kind->IsString() || !is_error_kind(as_view(*kind)))
      return fail(error, "error.kind", kind_expected);
    r.error_kind = to_string(*kind);
    const json_value* message = member(*v, "message");
    if (!message || !message->IsString()) return fail(error, "error.message", "expected a string");
    r.error_message = to_string(*message);
  }

  const json_value* obj = nullptr;
  if (!sub_object(doc, "http", obj, error)) return false;
  if (obj) {
    if ((v = member(*obj, "code"))) {
      if (!v->IsInt() || v->GetInt() < 100 || v->GetInt() > 599)
        return fail(error, "http.code", code_expected);
      r.http_code = v->GetInt();
    }
    if (!read_optional_string(member(*obj, "version"), "http.version", r.http_version, error))
      return false;
    if ((v = member(*obj, "bytes"))) {
      if (!v->IsInt64() || v->GetInt64() < 0) return fail(error, "http.bytes", count_expected);
      r.http_bytes = v->GetInt64();
    }
  }

  if (!sub_object(doc, "timing_ms", obj, error)) return false;
  double* timings[] = {&r.dns_ms, &r.connect_ms, &r.tls_ms, &r.ttfb_ms, &r.total_ms};
  for (size_t i = 0; obj && i < std::size(timings); ++i) {
    if (!(v = member(*obj, timing_names[i]))) continue;
    if (!v->IsNumber() || !(v->GetDouble() >= 0))
      return fail(error, timing_fields[i], timing_expected);
    *timings[i] = v->GetDouble();
  }

  if ((v = member(doc, "regex_match"))) {
    if (!v->IsBool()) return fail(error, "regex_match", regex_expected);
    r.regex_match = v->GetBool() ? 1 : 0;
  }

  if (!sub_object(doc, "tls", obj, error)) return false;
  if (obj) {
    if (!read_time(member(*obj, "not_after"), "tls.not_after", time_or_null_expected,
                   r.tls_not_after_ms, error))
      return false;
    if ((v = member(*obj, "days_left"))) {
      if (!v->IsNull()) {
        if (!v->IsInt() || v->GetInt() == ISITUP_ABSENT_DAYS)
          return fail(error, "tls.days_left", "expected an integer or null");
        r.tls_days_left = v->GetInt();
      }
    }
  }

  if ((v = member(doc, "redirects"))) {
    if (!v->IsInt() || v->GetInt() < 0) return fail(error, "redirects", count_expected);
    r.redirects = v->GetInt();
  }
  if (!read_optional_string(member(doc, "ip"), "ip", r.ip, error)) return false;

  if ((v = member(doc, "extra"))) {
    if (!v->IsObject()) return fail(error, "extra", extra_expected);
    if (!depth_within(*v, max_extra_depth))
      return fail(error, "extra", "nested deeper than 32 levels");
    string_stream os(r.extra_json);
    json_writer w(os);
    v->Accept(w);
  }

  if (!validate_impl(r, error, /*check_extra=*/false)) return false;
  out = std::move(r);
  return true;
}

bool validate_impl(const record& r, std::string& error, bool check_extra) {
  if (!check_required_text(error, "agent", r.agent) || !check_text(error, "location", r.location) ||
      !check_required_text(error, "check", r.check) ||
      !check_required_text(error, "plugin", r.plugin) ||
      !check_required_text(error, "target", r.target))
    return false;
  if (!time_in_range(r.scheduled_at_ms)) return fail(error, "scheduled_at", time_expected);
  if (!time_in_range(r.started_at_ms)) return fail(error, "started_at", time_expected);
  if (r.up) {
    if (!r.error_kind.empty() || !r.error_message.empty())
      return fail(error, "error", "expected null when status is up");
  } else {
    if (!is_error_kind(r.error_kind)) return fail(error, "error.kind", kind_expected);
    if (!check_text(error, "error.message", r.error_message)) return false;
  }
  if (r.http_code != ISITUP_ABSENT_INT && (r.http_code < 100 || r.http_code > 599))
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

}  // namespace

std::string format_time_ms(int64_t epoch_ms) {
  char text[time_length];
  return format_time(epoch_ms, text) ? std::string(text, time_length) : std::string();
}

bool parse_time_ms(std::string_view t, int64_t& epoch_ms) {
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

void encode(const isitup_record_v1& in, std::string& out) {
  // Read only what the producer's struct holds; the rest keeps its "absent" default.
  isitup_record_v1 r;
  isitup_record_init(&r);
  std::memcpy(&r, &in, in.struct_size < sizeof r ? in.struct_size : sizeof r);

  // An extra that is not a JSON object is written as a string, which decode rejects.
  std::string extra;
  bool extra_is_object = false;
  if (r.extra_json) {
    int depth = 0;
    extra_is_object = compact_object(r.extra_json, extra, depth);
    if (!extra_is_object) extra = r.extra_json;
  }

  string_stream os(out);
  json_writer w(os);
  w.StartObject();
  w.Key("v");
  w.Int(1);
  put_string(w, "agent", r.agent);
  put_string(w, "location", r.location);
  put_string(w, "check", r.check);
  put_string(w, "plugin", r.plugin);
  put_string(w, "target", r.target);
  put_time(w, "scheduled_at", r.scheduled_at_ms);
  put_time(w, "started_at", r.started_at_ms);
  put_string(w, "status", r.status == ISITUP_UP ? "up" : "down");

  if (begin_object(w, "error", r.status != ISITUP_UP || r.error_kind || r.error_message)) {
    put_string(w, "kind", r.error_kind ? r.error_kind : "");
    put_string(w, "message", r.error_message ? r.error_message : "");
    w.EndObject();
  }
  if (begin_object(w, "http",
                   r.http_code != ISITUP_ABSENT_INT || r.http_version ||
                       r.http_bytes != ISITUP_ABSENT_INT)) {
    put_int(w, "code", r.http_code);
    put_string(w, "version", r.http_version);
    put_int(w, "bytes", r.http_bytes);
    w.EndObject();
  }
  const double timings[] = {r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.total_ms};
  bool any_timing = false;
  for (double t : timings) any_timing = any_timing || t != ISITUP_ABSENT_MS;
  if (begin_object(w, "timing_ms", any_timing)) {
    for (size_t i = 0; i < std::size(timings); ++i) put_ms(w, timing_names[i], timings[i]);
    w.EndObject();
  }
  if (r.regex_match == 0 || r.regex_match == 1) {
    w.Key("regex_match");
    w.Bool(r.regex_match == 1);
  } else {
    put_int(w, "regex_match", r.regex_match);  // null, or a value decode rejects
  }
  if (begin_object(
          w, "tls",
          r.tls_not_after_ms != ISITUP_ABSENT_TIME || r.tls_days_left != ISITUP_ABSENT_DAYS)) {
    put_time(w, "not_after", r.tls_not_after_ms);
    w.Key("days_left");
    if (r.tls_days_left == ISITUP_ABSENT_DAYS)
      w.Null();
    else
      w.Int(r.tls_days_left);
    w.EndObject();
  }
  if (r.redirects != ISITUP_ABSENT_INT) put_int(w, "redirects", r.redirects);
  if (r.ip) put_string(w, "ip", r.ip);
  if (r.extra_json) {
    w.Key("extra");
    if (extra_is_object)
      w.RawValue(extra.data(), extra.size(), rapidjson::kObjectType);
    else
      w.String(extra.data(), static_cast<rapidjson::SizeType>(extra.size()));
  }
  w.EndObject();
}

bool decode(std::string_view json, record& out, std::string& error) {
  try {
    return decode_impl(json, out, error);
  } catch (const std::exception& e) {  // std::bad_alloc; RapidJSON itself does not throw
    error = std::string("cannot decode: ") + e.what();
    return false;
  }
}

bool validate(const record& r, std::string& error) {
  try {
    return validate_impl(r, error, /*check_extra=*/true);
  } catch (const std::exception& e) {
    error = std::string("cannot validate: ") + e.what();
    return false;
  }
}

}  // namespace isitup::codec
