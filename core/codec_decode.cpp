// Decoding a v1 record in one SAX pass, without a DOM. RapidJSON's Reader parses a private
// copy of the input in place (strings are unescaped where they lie, so a field is a view into
// that copy) and hands each member to a handler that keeps the first value of every field
// the format knows, as the DOM's FindMember did, and skips the rest. The rules are then
// applied to those values in the fixed order of the format, so that the first fault named is
// the same whatever order the members came in. UTF-8 is checked once over the whole input,
// 16 ASCII bytes at a time, instead of byte by byte inside the parser. Together this is about
// half the CPU of the DOM decoder it replaced (bench/kafka), with the same results: every
// record it accepts, every error it names (tests/core/codec_paths_test.cpp).
//
// The parse is iterative (a flat stack however deep the input nests) and the handler never
// recurses, so hostile input cannot exhaust the stack.
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>
#include <exception>
#include <iterator>
#include <limits>
#include <utility>

#include <isitup/core/codec.hpp>
#include "codec_internal.hpp"

namespace isitup::codec {
namespace {

using detail::fail;

// The per-thread copy is kept between records, but not one grown by a rare huge message.
constexpr size_t max_kept_copy = size_t{64} * 1024;

// What the DOM would have said about one member: its type and value. Strings point into the
// parsed copy of the input.
struct jvalue {
  enum class type : uint8_t { missing, null, boolean, integer, real, string, object, array };
  type t = type::missing;
  bool b = false;
  bool fits_int64 = false;  // integer: false for a uint64 above INT64_MAX
  int64_t i = 0;
  double d = 0;
  std::string_view s;

  bool is_int() const {
    return t == type::integer && fits_int64 && i >= std::numeric_limits<int32_t>::min() &&
           i <= std::numeric_limits<int32_t>::max();
  }
  bool is_int64() const { return t == type::integer && fits_int64; }
  bool is_number() const { return t == type::integer || t == type::real; }
  bool is_string() const { return t == type::string; }
  bool is_object() const { return t == type::object; }
  bool is_bool() const { return t == type::boolean; }
  int as_int() const { return static_cast<int>(i); }
};

// The members of the format: top-level fields, then the members of the four sub-objects.
enum field : uint8_t {
  f_v,
  f_agent,
  f_location,
  f_check,
  f_plugin,
  f_target,
  f_scheduled_at,
  f_started_at,
  f_status,
  f_error,
  f_http,
  f_timing,
  f_regex_match,
  f_tls,
  f_redirects,
  f_ip,
  f_extra,
  f_error_kind,
  f_error_message,
  f_http_code,
  f_http_version,
  f_http_bytes,
  f_dns,
  f_connect,
  f_tls_ms,
  f_ttfb,
  f_total,
  f_not_after,
  f_days_left,
  field_count,
  f_unknown = field_count
};

struct name_entry {
  std::string_view name;
  field f;
};
constexpr name_entry top_names[] = {{"v", f_v},
                                    {"agent", f_agent},
                                    {"location", f_location},
                                    {"check", f_check},
                                    {"plugin", f_plugin},
                                    {"target", f_target},
                                    {"scheduled_at", f_scheduled_at},
                                    {"started_at", f_started_at},
                                    {"status", f_status},
                                    {"error", f_error},
                                    {"http", f_http},
                                    {"timing_ms", f_timing},
                                    {"regex_match", f_regex_match},
                                    {"tls", f_tls},
                                    {"redirects", f_redirects},
                                    {"ip", f_ip},
                                    {"extra", f_extra}};
constexpr name_entry error_names[] = {{"kind", f_error_kind}, {"message", f_error_message}};
constexpr name_entry http_names[] = {
    {"code", f_http_code}, {"version", f_http_version}, {"bytes", f_http_bytes}};
constexpr name_entry timing_names[] = {{"dns", f_dns},
                                       {"connect", f_connect},
                                       {"tls", f_tls_ms},
                                       {"ttfb", f_ttfb},
                                       {"total", f_total}};
constexpr name_entry tls_names[] = {{"not_after", f_not_after}, {"days_left", f_days_left}};

// Length and first byte first: most keys then need no memcmp call at all.
template <size_t N>
field lookup(const name_entry (&names)[N], std::string_view key) {
  if (key.empty()) return f_unknown;
  for (const name_entry& e : names)
    if (e.name.size() == key.size() && e.name[0] == key[0] &&
        std::memcmp(e.name.data() + 1, key.data() + 1, key.size() - 1) == 0)
      return e.f;
  return f_unknown;
}

// Collects the first value of every known field. Never fails: the Reader reports every
// syntax error itself, and a record that is not an object is told apart afterwards.
class capture {
 public:
  using SizeType = rapidjson::SizeType;

  jvalue fields[field_count];
  bool root_is_object = false;
  std::string extra;  // the compact text of a captured extra object
  int extra_depth = 0;

  bool Null() {
    scalar().t = jvalue::type::null;
    return !capturing_ || writer_.Null();
  }
  bool Bool(bool b) {
    jvalue& v = scalar();
    v.t = jvalue::type::boolean;
    v.b = b;
    return !capturing_ || writer_.Bool(b);
  }
  bool Int(int n) { return integer(n, true) && (!capturing_ || writer_.Int(n)); }
  bool Uint(unsigned n) { return integer(n, true) && (!capturing_ || writer_.Uint(n)); }
  bool Int64(int64_t n) { return integer(n, true) && (!capturing_ || writer_.Int64(n)); }
  bool Uint64(uint64_t n) {
    const bool fits = n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    jvalue& v = scalar();
    if (&v != &ignored_) {
      v.t = jvalue::type::integer;
      v.fits_int64 = fits;
      v.i = fits ? static_cast<int64_t>(n) : 0;
      v.d = static_cast<double>(n);
    }
    return !capturing_ || writer_.Uint64(n);
  }
  bool Double(double d) {
    jvalue& v = scalar();
    v.t = jvalue::type::real;
    v.d = d;
    return !capturing_ || writer_.Double(d);
  }
  bool RawNumber(const char*, SizeType, bool) { return false; }  // not asked for
  bool String(const char* s, SizeType n, bool) {
    jvalue& v = scalar();
    v.t = jvalue::type::string;
    v.s = {s, n};
    return !capturing_ || writer_.String(s, n);
  }
  bool Key(const char* s, SizeType n, bool) {
    if (capturing_) return writer_.Key(s, n);
    if (skip_ > 0) return true;
    const std::string_view key(s, n);
    if (depth_ == 1) {
      pending_ = lookup(top_names, key);
    } else {
      switch (parent_) {
        case f_error:
          pending_ = lookup(error_names, key);
          break;
        case f_http:
          pending_ = lookup(http_names, key);
          break;
        case f_timing:
          pending_ = lookup(timing_names, key);
          break;
        case f_tls:
          pending_ = lookup(tls_names, key);
          break;
        default:
          pending_ = f_unknown;
      }
    }
    return true;
  }
  bool StartObject() {
    return open(jvalue::type::object) && (!capturing_ || writer_.StartObject());
  }
  bool StartArray() { return open(jvalue::type::array) && (!capturing_ || writer_.StartArray()); }
  bool EndObject(SizeType n) { return close() && (!was_capturing_ || writer_.EndObject(n)); }
  bool EndArray(SizeType n) { return close() && (!was_capturing_ || writer_.EndArray(n)); }

  // Moves the captured extra text out once the parse has succeeded.
  void finish() { extra.assign(buffer_.GetString(), buffer_.GetSize()); }

 private:
  // Where the value now being parsed goes: its field, or a scratch value that nobody reads.
  jvalue& scalar() {
    if (capturing_ || skip_ > 0 || depth_ == 0 || pending_ == f_unknown) return ignored_;
    jvalue& v = fields[pending_];
    pending_ = f_unknown;
    if (v.t != jvalue::type::missing) return ignored_;  // a repeated key: the first one counts
    return v;
  }
  bool integer(int64_t n, bool) {
    jvalue& v = scalar();
    v.t = jvalue::type::integer;
    v.fits_int64 = true;
    v.i = n;
    v.d = static_cast<double>(n);
    return true;
  }
  bool open(jvalue::type t) {
    was_capturing_ = false;
    if (capturing_) {
      if (++capture_level_ > extra_depth) extra_depth = capture_level_;
      return true;
    }
    if (skip_ > 0) return ++skip_, true;
    if (depth_ == 0) {
      root_is_object = t == jvalue::type::object;
      if (root_is_object)
        depth_ = 1;
      else
        skip_ = 1;
      return true;
    }
    const field f = pending_;
    jvalue& v = scalar();
    v.t = t;
    if (&v == &ignored_ || t != jvalue::type::object) return ++skip_, true;
    if (f == f_extra) {
      capturing_ = true;
      capture_level_ = extra_depth = 1;
      return true;
    }
    if (depth_ == 1 && (f == f_error || f == f_http || f == f_timing || f == f_tls)) {
      parent_ = f;
      depth_ = 2;
      return true;
    }
    return ++skip_, true;
  }
  bool close() {
    was_capturing_ = capturing_;
    if (capturing_) {
      if (--capture_level_ == 0) capturing_ = false;
    } else if (skip_ > 0) {
      --skip_;
    } else {
      --depth_;
      parent_ = f_unknown;
    }
    return true;
  }

  jvalue ignored_;
  int depth_ = 0;  // 1 in the record, 2 in one of its known sub-objects
  int skip_ = 0;   // levels of a value nobody reads
  field pending_ = f_unknown, parent_ = f_unknown;
  bool capturing_ = false, was_capturing_ = false;
  int capture_level_ = 0;
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
};

// The field's value, or nullptr when absent or null (as the DOM decoder's member()).
const jvalue* member(const capture& c, field f) {
  const jvalue& v = c.fields[f];
  return v.t == jvalue::type::missing || v.t == jvalue::type::null ? nullptr : &v;
}

std::string invalid_json(size_t offset, const char* why) {
  return "invalid JSON at offset " + std::to_string(offset) + ": " + why;
}

bool read_time(const jvalue* v, const char* field, const char* what, int64_t& out,
               std::string& error) {
  if (!v) {
    out = ISITUP_ABSENT_TIME;
    return true;
  }
  if (!v->is_string() || !parse_time_ms(v->s, out)) return fail(error, field, what);
  return true;
}

bool read_optional_string(const jvalue* v, const char* field, std::string& out,
                          std::string& error) {
  if (!v) return true;
  if (!v->is_string()) return fail(error, field, "expected a string or null");
  out.assign(v->s);
  return true;
}

// An optional sub-object: nullptr when absent or null; false when it is something else.
bool sub_object(const capture& c, field f, const char* name, bool& present, std::string& error) {
  const jvalue* v = member(c, f);
  present = v != nullptr;
  if (v && !v->is_object()) return fail(error, name, "expected an object or null");
  return true;
}

bool apply_rules(const capture& c, record& r, std::string& error) {
  using namespace detail;
  const jvalue* v = member(c, f_v);
  if (!v || !v->is_int() || v->i != 1) return fail(error, "v", "expected 1");

  constexpr std::pair<field, const char*> identity[] = {{f_agent, "agent"},
                                                        {f_location, "location"},
                                                        {f_check, "check"},
                                                        {f_plugin, "plugin"},
                                                        {f_target, "target"}};
  std::string* targets[] = {&r.agent, &r.location, &r.check, &r.plugin, &r.target};
  for (size_t i = 0; i < std::size(identity); ++i) {
    const auto [f, name] = identity[i];
    v = member(c, f);
    if (f == f_location) {
      if (!read_optional_string(v, name, *targets[i], error)) return false;
      continue;
    }
    if (!v || !v->is_string() || v->s.empty())
      return fail(error, name, "expected a non-empty string");
    targets[i]->assign(v->s);
  }

  if (!read_time(member(c, f_scheduled_at), "scheduled_at", result_time_expected, r.scheduled_at_ms,
                 error) ||
      !read_time(member(c, f_started_at), "started_at", result_time_expected, r.started_at_ms,
                 error))
    return false;
  if (r.scheduled_at_ms == ISITUP_ABSENT_TIME)
    return fail(error, "scheduled_at", result_time_expected);
  if (r.started_at_ms == ISITUP_ABSENT_TIME) return fail(error, "started_at", result_time_expected);

  v = member(c, f_status);
  const std::string_view status = v && v->is_string() ? v->s : std::string_view();
  if (status != "up" && status != "down")
    return fail(error, "status", "expected \"up\" or \"down\"");
  r.up = status == "up";

  v = member(c, f_error);
  if (r.up && v) return fail(error, "error", "expected null when status is up");
  if (!r.up) {
    if (!v || !v->is_object())
      return fail(error, "error", "expected {\"kind\", \"message\"} when status is down");
    const jvalue* kind = member(c, f_error_kind);
    if (!kind || !kind->is_string() || !is_error_kind(kind->s))
      return fail(error, "error.kind", kind_expected);
    r.error_kind.assign(kind->s);
    const jvalue* message = member(c, f_error_message);
    if (!message || !message->is_string()) return fail(error, "error.message", "expected a string");
    r.error_message.assign(message->s);
  }

  bool present = false;
  if (!sub_object(c, f_http, "http", present, error)) return false;
  if (present) {
    if ((v = member(c, f_http_code))) {
      if (!v->is_int() || v->i < 0 || v->i > 999) return fail(error, "http.code", code_expected);
      r.http_code = v->as_int();
    }
    if (!read_optional_string(member(c, f_http_version), "http.version", r.http_version, error))
      return false;
    if ((v = member(c, f_http_bytes))) {
      if (!v->is_int64() || v->i < 0) return fail(error, "http.bytes", count_expected);
      r.http_bytes = v->i;
    }
  }

  if (!sub_object(c, f_timing, "timing_ms", present, error)) return false;
  constexpr field timing_fields_in[] = {f_dns, f_connect, f_tls_ms, f_ttfb, f_total};
  double* timings[] = {&r.dns_ms, &r.connect_ms, &r.tls_ms, &r.ttfb_ms, &r.total_ms};
  for (size_t i = 0; present && i < std::size(timings); ++i) {
    if (!(v = member(c, timing_fields_in[i]))) continue;
    if (!v->is_number() || !(v->d >= 0)) return fail(error, timing_fields[i], timing_expected);
    *timings[i] = v->d;
  }

  if ((v = member(c, f_regex_match))) {
    if (!v->is_bool()) return fail(error, "regex_match", regex_expected);
    r.regex_match = v->b ? 1 : 0;
  }

  if (!sub_object(c, f_tls, "tls", present, error)) return false;
  if (present) {
    if (!read_time(member(c, f_not_after), "tls.not_after", time_or_null_expected,
                   r.tls_not_after_ms, error))
      return false;
    if ((v = member(c, f_days_left))) {
      if (!v->is_int() || v->i == ISITUP_ABSENT_DAYS)
        return fail(error, "tls.days_left", "expected an integer or null");
      r.tls_days_left = v->as_int();
    }
  }

  if ((v = member(c, f_redirects))) {
    if (!v->is_int() || v->i < 0) return fail(error, "redirects", count_expected);
    r.redirects = v->as_int();
  }
  if (!read_optional_string(member(c, f_ip), "ip", r.ip, error)) return false;

  if ((v = member(c, f_extra))) {
    if (!v->is_object()) return fail(error, "extra", extra_expected);
    if (c.extra_depth > max_extra_depth) return fail(error, "extra", extra_too_deep);
    r.extra_json = c.extra;
  }
  return validate_record(r, error, /*check_extra=*/false);
}

// The first byte 0x1A-0x1F, or npos. One pass (string_view::find_first_of calls memchr over
// the set for every byte of the input).
size_t find_late_control(std::string_view json) {
  for (size_t i = 0; i < json.size(); ++i)
    if (static_cast<unsigned char>(json[i] - 0x1a) < 6) return i;
  return std::string_view::npos;
}

bool decode_impl(std::string_view json, record& out, std::string& error) {
  if (const size_t nul = json.find('\0'); nul != std::string_view::npos) {
    error = invalid_json(nul, "NUL byte.");
    return false;
  }
  // RapidJSON 1.1.0's SSE2 string scan only catches control characters up to 0x19: 0x1A-0x1F
  // raw inside a long string would pass, and validate() would refuse the record later.
  if (const size_t ctl = find_late_control(json); ctl != std::string_view::npos) {
    error = invalid_json(ctl, "Invalid encoding in string.");
    return false;
  }
  if (const size_t bad = detail::utf8_prefix(json); bad != json.size()) {
    error = invalid_json(bad, "Invalid encoding in string.");
    return false;
  }
  // The in-place parse needs a writable, NUL-terminated copy (the input has no NUL: the end).
  // RapidJSON's SSE2 scans load whole aligned 16-byte blocks, up to 15 bytes past the NUL: 16
  // bytes of capacity beyond it keep those loads inside the (16-byte aligned) allocation.
  thread_local std::string text;
  if (text.capacity() > max_kept_copy && json.size() <= max_kept_copy) text = std::string();
  text.reserve(json.size() + 16);
  text.assign(json);
  capture c;
  rapidjson::Reader reader;
  rapidjson::InsituStringStream in(text.data());
  constexpr unsigned flags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
  if (reader.Parse<flags>(in, c).IsError()) {
    error = invalid_json(reader.GetErrorOffset(),
                         rapidjson::GetParseError_En(reader.GetParseErrorCode()));
    return false;
  }
  if (!c.root_is_object) return fail(error, "record", "expected a JSON object");
  c.finish();
  record r;
  if (!apply_rules(c, r, error)) return false;
  out = std::move(r);
  return true;
}

}  // namespace

bool decode(std::string_view json, record& out, std::string& error) {
  try {
    return decode_impl(json, out, error);
  } catch (const std::exception& e) {  // std::bad_alloc; RapidJSON itself does not throw
    error = std::string("cannot decode: ") + e.what();
    return false;
  }
}

}  // namespace isitup::codec
