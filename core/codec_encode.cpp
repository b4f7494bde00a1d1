// Encoding a v1 record. The record's shape is fixed, so the JSON is written straight into the
// caller's string: the space it can take at most is reserved once, keys are copied as
// literals and strings are escaped a run at a time (a RapidJSON Writer on a std::string
// pushed one byte at a time and cost five times as much). The output is byte for byte what
// RapidJSON's Writer gives (same escapes; the same shortest doubles, here from std::to_chars),
// which the golden tests pin down.
//
// Encoding is faithful rather than forgiving: a value the wire format does not allow
// (http_code 1000, a timestamp past year 9999, an extra that is not a JSON object) is still
// written, in a form decode() rejects with the message validate() gives for it. Absent values
// become null or are left out; NaN and infinite timings (unrepresentable) become null. The
// output is always one line of JSON whatever the record holds; strings are copied byte for
// byte, so invalid UTF-8 stays invalid (and decode() refuses it).
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>

#include <isitup/core/codec.hpp>
#include "codec_internal.hpp"

namespace isitup::codec {
namespace {

// Writes into memory reserved beforehand; never checks for room (see bound()).
class json_out {
 public:
  explicit json_out(char* p) : p_(p) {}
  char* end() const { return p_; }

  template <size_t N>
  void raw(const char (&text)[N]) {
    std::memcpy(p_, text, N - 1);
    p_ += N - 1;
  }
  void raw(const char* s, size_t n) {
    std::memcpy(p_, s, n);
    p_ += n;
  }
  void put(char c) { *p_++ = c; }

  // A JSON string; bytes below 0x20, '"' and '\\' escaped as RapidJSON's Writer does.
  void string(const char* s, size_t n) {
    put('"');
    size_t run = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      const char e = escape_[c];
      if (!e) continue;
      raw(s + run, i - run);
      run = i + 1;
      put('\\');
      put(e);
      if (e == 'u') {
        raw("00");
        put(hex_[c >> 4]);
        put(hex_[c & 15]);
      }
    }
    raw(s + run, n - run);
    put('"');
  }
  void string(const char* s) { string(s, std::strlen(s)); }
  void integer(int64_t v) { p_ = std::to_chars(p_, p_ + 20, v).ptr; }
  // A finite double in the shortest form that reads back (std::to_chars), written as
  // RapidJSON's Writer writes it: decimal with at least one decimal below 1e21 ("41.0",
  // "1000000000000.25"), else an exponent without '+' ("1e21", "-1.5e300").
  void number(double d) {
    if (std::fabs(d) < 1e21) {
      char* const start = p_;
      p_ = std::to_chars(p_, p_ + max_number, d, std::chars_format::fixed).ptr;
      if (std::memchr(start, '.', static_cast<size_t>(p_ - start)) == nullptr) raw(".0");
      return;
    }
    char text[max_number];
    const char* const end = std::to_chars(text, text + sizeof text, d).ptr;
    for (const char* c = text; c != end; ++c)
      if (*c != '+') put(*c);
  }
  // The longest number() writes: 21 integer digits, a sign, a point and 17 decimals at most
  // below 1e21 (shortest round-trip needs 17 significant digits); "-d.dddddddddddddddde-308"
  // above.
  static constexpr size_t max_number = 48;
  // k / 1000 with 1 to 3 decimals, as dtoa prints the double nearest to it: below 1e9 doubles
  // lie far closer together than 0.001, so that decimal is the shortest that reads back.
  void thousandths(int64_t k) {
    integer(k / 1000);
    put('.');
    const auto frac = static_cast<int>(k % 1000);
    put(static_cast<char>('0' + frac / 100));
    if (frac % 100 == 0) return;
    put(static_cast<char>('0' + frac / 10 % 10));
    if (frac % 10 != 0) put(static_cast<char>('0' + frac % 10));
  }

  // The most a string of n bytes can take: every byte as \u00XX, and the quotes.
  static size_t string_bound(size_t n) { return 6 * n + 2; }

 private:
  static constexpr char hex_[] = "0123456789ABCDEF";
  static constexpr char escape_[256] = {
      'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',  // 00
      'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',  // 10
      0,   0,   '"', 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 20
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 30
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    // 40
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   '\\'};               // 50
  char* p_;
};

// Each writes one member after a comma: the key, then the value or null when absent.
void put_string(json_out& o, const char* s) {
  if (s)
    o.string(s);
  else
    o.raw("null");
}

void put_time(json_out& o, int64_t ms) {
  char text[detail::time_length];
  if (ms == ISITUP_ABSENT_TIME) {
    o.raw("null");
  } else if (!detail::format_time(ms, text)) {
    o.integer(ms);  // not representable: written so that decode rejects it
  } else {
    o.put('"');
    o.raw(text, detail::time_length);
    o.put('"');
  }
}

void put_int(json_out& o, int64_t v) {
  if (v == ISITUP_ABSENT_INT)
    o.raw("null");
  else
    o.integer(v);
}

// Rounded to 3 decimals and printed in shortest form (41.0, 12.345).
void put_ms(json_out& o, double ms) {
  if (ms == ISITUP_ABSENT_MS || !std::isfinite(ms)) {
    o.raw("null");
    return;
  }
  if (ms >= 0 && ms < 1e9) {
    o.thousandths(static_cast<int64_t>(std::nearbyint(ms * 1000.0)));
    return;
  }
  if (std::fabs(ms) < 1e15) ms = std::nearbyint(ms * 1000.0) / 1000.0;
  if (ms == 0) ms = 0.0;  // no "-0.0"
  o.number(ms);
}

size_t text_bound(const char* s) { return json_out::string_bound(s ? std::strlen(s) : 0); }

// Room for everything but the strings: keys, punctuation, 3 times, 11 numbers of at most 25
// characters each (about 650 bytes in all), with a margin.
constexpr size_t fixed_bound = 1024;

}  // namespace

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
    extra_is_object = detail::compact_object(r.extra_json, extra, depth);
    if (!extra_is_object) extra = r.extra_json;
  }

  const size_t bound = fixed_bound + text_bound(r.agent) + text_bound(r.location) +
                       text_bound(r.check) + text_bound(r.plugin) + text_bound(r.target) +
                       text_bound(r.error_kind) + text_bound(r.error_message) +
                       text_bound(r.http_version) + text_bound(r.ip) +
                       json_out::string_bound(extra.size());
  const size_t start = out.size();
  out.resize(start + bound);
  json_out o(out.data() + start);

  o.raw("{\"v\":1,\"agent\":");
  put_string(o, r.agent);
  o.raw(",\"location\":");
  put_string(o, r.location);
  o.raw(",\"check\":");
  put_string(o, r.check);
  o.raw(",\"plugin\":");
  put_string(o, r.plugin);
  o.raw(",\"target\":");
  put_string(o, r.target);
  o.raw(",\"scheduled_at\":");
  put_time(o, r.scheduled_at_ms);
  o.raw(",\"started_at\":");
  put_time(o, r.started_at_ms);
  if (r.status == ISITUP_UP)
    o.raw(",\"status\":\"up\"");
  else
    o.raw(",\"status\":\"down\"");

  o.raw(",\"error\":");
  if (r.status != ISITUP_UP || r.error_kind || r.error_message) {
    o.raw("{\"kind\":");
    o.string(r.error_kind ? r.error_kind : "");
    o.raw(",\"message\":");
    o.string(r.error_message ? r.error_message : "");
    o.put('}');
  } else {
    o.raw("null");
  }
  o.raw(",\"http\":");
  if (r.http_code != ISITUP_ABSENT_INT || r.http_version || r.http_bytes != ISITUP_ABSENT_INT) {
    o.raw("{\"code\":");
    put_int(o, r.http_code);
    o.raw(",\"version\":");
    put_string(o, r.http_version);
    o.raw(",\"bytes\":");
    put_int(o, r.http_bytes);
    o.put('}');
  } else {
    o.raw("null");
  }
  const double timings[] = {r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.total_ms};
  bool any_timing = false;
  for (double t : timings) any_timing = any_timing || t != ISITUP_ABSENT_MS;
  o.raw(",\"timing_ms\":");
  if (any_timing) {
    for (size_t i = 0; i < std::size(timings); ++i) {
      o.put(i == 0 ? '{' : ',');
      o.put('"');
      o.raw(detail::timing_names[i], std::strlen(detail::timing_names[i]));
      o.raw("\":");
      put_ms(o, timings[i]);
    }
    o.put('}');
  } else {
    o.raw("null");
  }
  o.raw(",\"regex_match\":");
  if (r.regex_match == 0 || r.regex_match == 1)
    if (r.regex_match == 1)
      o.raw("true");
    else
      o.raw("false");
  else
    put_int(o, r.regex_match);  // null, or a value decode rejects
  o.raw(",\"tls\":");
  if (r.tls_not_after_ms != ISITUP_ABSENT_TIME || r.tls_days_left != ISITUP_ABSENT_DAYS) {
    o.raw("{\"not_after\":");
    put_time(o, r.tls_not_after_ms);
    o.raw(",\"days_left\":");
    if (r.tls_days_left == ISITUP_ABSENT_DAYS)
      o.raw("null");
    else
      o.integer(r.tls_days_left);
    o.put('}');
  } else {
    o.raw("null");
  }
  if (r.redirects != ISITUP_ABSENT_INT) {
    o.raw(",\"redirects\":");
    put_int(o, r.redirects);
  }
  if (r.ip) {
    o.raw(",\"ip\":");
    o.string(r.ip);
  }
  if (r.extra_json) {
    o.raw(",\"extra\":");
    if (extra_is_object)
      o.raw(extra.data(), extra.size());
    else
      o.string(extra.data(), extra.size());
  }
  o.put('}');
  out.resize(static_cast<size_t>(o.end() - out.data()));
}

}  // namespace isitup::codec
