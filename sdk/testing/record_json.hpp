// The v1 JSON of a result record for plugin tests, header-only (C++17): what the fake host's
// record_to_json service writes unless the test sets fake_host::to_json, so a sink tested out
// of tree sees the JSON the agent would give it. The layout is sdk/README.md "How a result is
// written as JSON"; tests/sdk/fake_host_test.cpp holds it equal to the agent's encoder.
//
// Made for readable tests, not speed. Where it is simpler than the agent: `extra` is only
// compacted (whitespace outside strings removed), not parsed and rewritten, so its numbers
// stay as written ("1.50" where the agent writes 1.5) and a malformed object is not noticed
// (text not starting with '{' is written as a string, as the agent does). Values the wire
// format refuses are written as the agent writes them when simple (an out-of-range time as a
// number), otherwise left to the agent's decoder to reject.
#pragma once

#include <isitup/plugin.h>
#include <isitup/util/civil_time.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace isitup::sdk::testing {

namespace json_detail {

inline void put_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

inline void put_nullable(std::string& out, const char* s) {
  if (s)
    put_string(out, s);
  else
    out += "null";
}

inline void put_int(std::string& out, int64_t v, int64_t absent) {
  out += v == absent ? std::string("null") : std::to_string(v);
}

inline void put_time(std::string& out, int64_t ms) {
  char text[utc_text_length];
  if (ms == ISITUP_ABSENT_TIME) {
    out += "null";
  } else if (format_utc_ms(ms, text)) {
    out += '"';
    out.append(text, utc_text_length);
    out += '"';
  } else {
    out += std::to_string(ms);  // out of range: a number, which the agent's decoder refuses
  }
}

// Rounded to 3 decimals, shortest form with at least one decimal: 41.0, 12.345.
inline void put_ms(std::string& out, double ms) {
  if (ms == ISITUP_ABSENT_MS || !std::isfinite(ms)) {
    out += "null";
    return;
  }
  if (std::fabs(ms) < 1e15) ms = std::nearbyint(ms * 1000.0) / 1000.0;
  if (ms == 0) ms = 0.0;  // no "-0.0"
  char text[48];
  if (std::fabs(ms) < 1e21) {  // decimal, at least one decimal: "41.0", "1000000000000.25"
    const auto end = std::to_chars(text, text + sizeof text, ms, std::chars_format::fixed).ptr;
    const std::string_view s(text, static_cast<std::size_t>(end - text));
    out += s;
    if (s.find('.') == std::string_view::npos) out += ".0";
    return;
  }
  const auto end = std::to_chars(text, text + sizeof text, ms).ptr;  // "1e21", not "1e+21"
  for (const char* c = text; c != end; ++c)
    if (*c != '+') out += *c;
}

// `json` with the whitespace outside strings removed.
inline std::string compacted(std::string_view json) {
  std::string out;
  bool in_string = false, escaped = false;
  for (const char c : json) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      continue;
    } else if (c == '"') {
      in_string = true;
    }
    out += c;
  }
  return out;
}

}  // namespace json_detail

// The record as one line of v1 JSON (no newline). Reads only r.struct_size bytes of `in`.
inline std::string record_json(const isitup_record_v1& in) {
  using namespace json_detail;
  isitup_record_v1 r;
  isitup_record_init(&r);
  std::memcpy(&r, &in, in.struct_size < sizeof r ? in.struct_size : sizeof r);

  std::string out = "{\"v\":1,\"agent\":";
  put_nullable(out, r.agent);
  out += ",\"location\":";
  put_nullable(out, r.location);
  out += ",\"check\":";
  put_nullable(out, r.check);
  out += ",\"plugin\":";
  put_nullable(out, r.plugin);
  out += ",\"target\":";
  put_nullable(out, r.target);
  out += ",\"scheduled_at\":";
  put_time(out, r.scheduled_at_ms);
  out += ",\"started_at\":";
  put_time(out, r.started_at_ms);
  out += r.status == ISITUP_UP ? ",\"status\":\"up\"" : ",\"status\":\"down\"";

  out += ",\"error\":";
  if (r.status != ISITUP_UP || r.error_kind || r.error_message) {
    out += "{\"kind\":";
    put_string(out, r.error_kind ? r.error_kind : "");
    out += ",\"message\":";
    put_string(out, r.error_message ? r.error_message : "");
    out += '}';
  } else {
    out += "null";
  }

  out += ",\"http\":";
  if (r.http_code != ISITUP_ABSENT_INT || r.http_version || r.http_bytes != ISITUP_ABSENT_INT) {
    out += "{\"code\":";
    put_int(out, r.http_code, ISITUP_ABSENT_INT);
    out += ",\"version\":";
    put_nullable(out, r.http_version);
    out += ",\"bytes\":";
    put_int(out, r.http_bytes, ISITUP_ABSENT_INT);
    out += '}';
  } else {
    out += "null";
  }

  const double timings[] = {r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.total_ms};
  const char* const names[] = {"dns", "connect", "tls", "ttfb", "total"};
  bool any_timing = false;
  for (const double t : timings) any_timing = any_timing || t != ISITUP_ABSENT_MS;
  out += ",\"timing_ms\":";
  if (any_timing) {
    for (int i = 0; i < 5; ++i) {
      out += i == 0 ? "{\"" : ",\"";
      out += names[i];
      out += "\":";
      put_ms(out, timings[i]);
    }
    out += '}';
  } else {
    out += "null";
  }

  out += ",\"regex_match\":";
  if (r.regex_match == 0 || r.regex_match == 1)
    out += r.regex_match == 1 ? "true" : "false";
  else
    put_int(out, r.regex_match, ISITUP_ABSENT_INT);

  out += ",\"tls\":";
  if (r.tls_not_after_ms != ISITUP_ABSENT_TIME || r.tls_days_left != ISITUP_ABSENT_DAYS) {
    out += "{\"not_after\":";
    put_time(out, r.tls_not_after_ms);
    out += ",\"days_left\":";
    put_int(out, r.tls_days_left, ISITUP_ABSENT_DAYS);
    out += '}';
  } else {
    out += "null";
  }

  if (r.redirects != ISITUP_ABSENT_INT) out += ",\"redirects\":" + std::to_string(r.redirects);
  if (r.ip) {
    out += ",\"ip\":";
    put_string(out, r.ip);
  }
  if (r.extra_json) {
    out += ",\"extra\":";
    const std::string_view extra = r.extra_json;
    const std::size_t first = extra.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && extra[first] == '{')
      out += compacted(extra);
    else
      put_string(out, extra);
  }
  out += '}';
  return out;
}

}  // namespace isitup::sdk::testing
