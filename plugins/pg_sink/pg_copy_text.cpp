#include "pg_copy_text.hpp"

#include <arpa/inet.h>
#include <rapidjson/document.h>
#include <isitup/util/civil_time.hpp>
#include <isitup/util/utf8.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "pg_writer.hpp"

namespace isitup::pg {
namespace {

// ---------------------------------------------------------------- values

using time_text = std::array<char, 32>;

// "YYYY-MM-DD HH:MM:SS.mmm+00" for years 1..9999 (PostgreSQL has no year 0); false when out of
// that range.
bool format_time(int64_t ms, time_text& out) {
  constexpr int64_t min_ms = -62'135'596'800'000;  // 0001-01-01T00:00:00Z
  if (ms < min_ms || !sdk::format_utc_ms(ms, out.data())) return false;
  out[10] = ' ';
  std::memcpy(&out[23], "+00", 4);
  return true;
}

// A string column: the pointer itself when it is valid UTF-8, else a repaired copy.
class text_value {
 public:
  const char* get(const char* s, write_stats& stats) {
    if (!s) return nullptr;
    const std::string_view v(s);
    if (sdk::is_utf8(v)) return s;
    ++stats.repaired_text;
    fixed_ = sdk::repaired_utf8(v);
    return fixed_.c_str();
  }

 private:
  std::string fixed_;
};

std::optional<double> ms_value(double v) {
  if (v < 0) return std::nullopt;  // ISITUP_ABSENT_MS (-1), or meaningless
  return v;
}

template <class T>
std::optional<T> int_value(T v, T absent) {
  if (v == absent) return std::nullopt;
  return v;
}

const char* ip_value(const char* ip, write_stats& stats) {
  if (!ip) return nullptr;
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1) return ip;
  ++stats.invalid_values;
  return nullptr;
}

// jsonb takes any JSON object except one with a \u0000 escape; anything else becomes NULL.
const char* extra_value(const char* extra, write_stats& stats) {
  if (!extra) return nullptr;
  rapidjson::Document d;
  // With the length: RapidJSON's NUL-terminated input reads past the terminator when the text
  // ends inside a multi-byte UTF-8 sequence (found by fuzz/copy_row_fuzz.cpp).
  d.Parse<rapidjson::kParseValidateEncodingFlag>(extra, std::strlen(extra));
  if (d.HasParseError() || !d.IsObject() || std::strstr(extra, "\\u0000")) {
    ++stats.invalid_values;
    return nullptr;
  }
  return extra;
}

const char* time_value(int64_t ms, time_text& buf, write_stats& stats) {
  if (ms == ISITUP_ABSENT_TIME) return nullptr;
  if (format_time(ms, buf)) return buf.data();
  ++stats.invalid_values;
  return nullptr;
}

// Hands `sink` the tuple of one record's COPY values, in result_columns() order, while the
// values it points into live. False when the record has no key.
template <class Sink>
bool with_row(const isitup_record_v1& r, write_stats& stats, Sink&& sink) {
  time_text scheduled, started, not_after;
  if (!format_time(r.scheduled_at_ms, scheduled)) {
    ++stats.dropped;
    return false;
  }
  text_value agent, location, check, plugin, target, kind, message, version;
  const bool up = r.status == ISITUP_UP;
  sink(std::make_tuple(
      agent.get(r.agent ? r.agent : "", stats), location.get(r.location, stats),
      check.get(r.check ? r.check : "", stats), plugin.get(r.plugin ? r.plugin : "", stats),
      target.get(r.target ? r.target : "", stats), static_cast<const char*>(scheduled.data()),
      time_value(r.started_at_ms, started, stats), up ? "up" : "down",
      kind.get(up ? nullptr : r.error_kind, stats),
      message.get(up ? nullptr : r.error_message, stats),
      int_value<int32_t>(r.http_code, ISITUP_ABSENT_INT), version.get(r.http_version, stats),
      int_value<int64_t>(r.http_bytes, ISITUP_ABSENT_INT), ms_value(r.dns_ms),
      ms_value(r.connect_ms), ms_value(r.tls_ms), ms_value(r.ttfb_ms), ms_value(r.total_ms),
      r.regex_match == 0   ? std::optional<bool>(false)
      : r.regex_match == 1 ? std::optional<bool>(true)
                           : std::nullopt,
      time_value(r.tls_not_after_ms, not_after, stats),
      int_value<int32_t>(r.tls_days_left, ISITUP_ABSENT_DAYS),
      int_value<int32_t>(r.redirects, ISITUP_ABSENT_INT), ip_value(r.ip, stats),
      extra_value(r.extra_json, stats)));
  return true;
}

// Appends COPY text values to one buffer (the rules are in pg_copy_text.hpp).
class copy_text {
 public:
  explicit copy_text(std::string& out) : out_(out) {}

  void null() { out_ += "\\N"; }
  void value(std::nullptr_t) { null(); }
  void value(const char* s) {
    if (!s) return null();
    for (const char* p = s; *p; ++p) {
      // A run of bytes that go as they are is appended at once (most values are all of it).
      const char* run = p;
      while (plain(static_cast<unsigned char>(*p))) ++p;
      if (p != run) out_.append(run, static_cast<std::size_t>(p - run));
      if (!*p) break;
      const auto c = static_cast<unsigned char>(*p);
      switch (c) {
        case '\\':
          out_ += "\\\\";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\v':
          out_ += "\\v";
          break;
        default: {  // any other byte below 0x20, and 0x7f
          const char octal[4] = {'\\', static_cast<char>('0' + (c >> 6)),
                                 static_cast<char>('0' + ((c >> 3) & 7)),
                                 static_cast<char>('0' + (c & 7))};
          out_.append(octal, 4);
        }
      }
    }
  }
  void value(bool b) { out_ += b ? 't' : 'f'; }
  // Goes into a value as it is: not a control byte, DEL, backslash or the end of the string.
  static bool plain(unsigned char c) { return c >= 0x20 && c != 0x7f && c != '\\'; }
  template <class T>
  void value(const std::optional<T>& v) {
    if (v)
      value(*v);
    else
      null();
  }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>>
  void value(T v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }

 private:
  std::string& out_;
};

// One record's row (no newline) appended to `out`; false, `out` untouched, without a key.
bool append_row(const isitup_record_v1& r, std::string& out, write_stats& stats) {
  return with_row(r, stats, [&](const auto& row) {
    copy_text text(out);
    bool first = true;
    std::apply(
        [&](const auto&... v) {
          ((first ? void(first = false) : void(out += '\t'), text.value(v)), ...);
        },
        row);
  });
}

}  // namespace

namespace detail {

bool storable_time(int64_t ms) {
  time_text text;
  return format_time(ms, text);
}

}  // namespace detail

bool copy_line(const isitup_record_v1& r, std::string& line, write_stats& stats) {
  std::string out;
  if (!append_row(r, out, stats)) return false;
  line = std::move(out);
  return true;
}

std::size_t append_copy_rows(const isitup_record_v1* const* rows, std::size_t n, std::string& out,
                             write_stats& stats) {
  std::size_t appended = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!append_row(*rows[i], out, stats)) continue;
    out += '\n';
    ++appended;
  }
  return appended;
}

}  // namespace isitup::pg
