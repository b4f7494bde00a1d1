// isitup plugin SDK: the owning C++ form of isitup_record_v1 (plugin.h), header-only, C++17.
//
// One field list, in two parts:
//   result_fields  what a check fills in (up, error, HTTP and timing fields, ip, extra_json);
//                  sdk::result (plugin.hpp) is these fields with ok()/down() helpers.
//   record         these fields plus the identity the host adds (agent, check, times, ...):
//                  what the agent stores, encodes and hands to sinks, what a sink test keeps.
// Strings are owned; an empty string stands for an absent (NULL) field and the
// ISITUP_ABSENT_* values for absent numbers, as on the wire. Plain values: no thread rules
// beyond those of std::string.
#pragma once

#include <isitup/plugin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace isitup::sdk {

// The v1 struct only grows at the end: a field added there must be added here too.
static_assert(offsetof(isitup_record_v1, extra_json) + sizeof(const char*) ==
                  sizeof(isitup_record_v1),
              "isitup_record_v1 grew: add the field to result_fields (or record) and to the "
              "conversions below");

namespace detail {
inline const char* c_str_or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }
inline void assign(std::string& to, const char* s) {
  if (s)
    to.assign(s);
  else
    to.clear();
}
}  // namespace detail

// The outcome of one check run: the fields of isitup_record_v1 after `status`.
struct result_fields {
  bool up = false;
  std::string error_kind, error_message;
  int32_t http_code = ISITUP_ABSENT_INT;
  std::string http_version;
  int64_t http_bytes = ISITUP_ABSENT_INT;
  double dns_ms = ISITUP_ABSENT_MS, connect_ms = ISITUP_ABSENT_MS, tls_ms = ISITUP_ABSENT_MS,
         ttfb_ms = ISITUP_ABSENT_MS, total_ms = ISITUP_ABSENT_MS;
  int32_t regex_match = ISITUP_ABSENT_INT;
  int64_t tls_not_after_ms = ISITUP_ABSENT_TIME;
  int32_t tls_days_left = ISITUP_ABSENT_DAYS;
  int32_t redirects = ISITUP_ABSENT_INT;
  std::string ip;
  std::string extra_json;  // a JSON object text, or empty

  // Sets v's outcome fields (status included) to point into this object; identity untouched.
  void write_to(isitup_record_v1& v) const {
    using detail::c_str_or_null;
    v.status = up ? ISITUP_UP : ISITUP_DOWN;
    v.error_kind = c_str_or_null(error_kind);
    v.error_message = c_str_or_null(error_message);
    v.http_code = http_code;
    v.http_version = c_str_or_null(http_version);
    v.http_bytes = http_bytes;
    v.dns_ms = dns_ms;
    v.connect_ms = connect_ms;
    v.tls_ms = tls_ms;
    v.ttfb_ms = ttfb_ms;
    v.total_ms = total_ms;
    v.regex_match = regex_match;
    v.tls_not_after_ms = tls_not_after_ms;
    v.tls_days_left = tls_days_left;
    v.redirects = redirects;
    v.ip = c_str_or_null(ip);
    v.extra_json = c_str_or_null(extra_json);
  }
  // Copies r's outcome fields; NULL strings become empty. r must be a whole current-size
  // struct (record::from handles older, shorter ones).
  void read_from(const isitup_record_v1& r) {
    using detail::assign;
    up = r.status == ISITUP_UP;
    assign(error_kind, r.error_kind);
    assign(error_message, r.error_message);
    http_code = r.http_code;
    assign(http_version, r.http_version);
    http_bytes = r.http_bytes;
    dns_ms = r.dns_ms;
    connect_ms = r.connect_ms;
    tls_ms = r.tls_ms;
    ttfb_ms = r.ttfb_ms;
    total_ms = r.total_ms;
    regex_match = r.regex_match;
    tls_not_after_ms = r.tls_not_after_ms;
    tls_days_left = r.tls_days_left;
    redirects = r.redirects;
    assign(ip, r.ip);
    assign(extra_json, r.extra_json);
  }

  // Field by field; doubles compare with ==, so two NaN timings differ (as with = default).
  friend bool operator==(const result_fields& a, const result_fields& b) {
    return a.up == b.up && a.error_kind == b.error_kind && a.error_message == b.error_message &&
           a.http_code == b.http_code && a.http_version == b.http_version &&
           a.http_bytes == b.http_bytes && a.dns_ms == b.dns_ms && a.connect_ms == b.connect_ms &&
           a.tls_ms == b.tls_ms && a.ttfb_ms == b.ttfb_ms && a.total_ms == b.total_ms &&
           a.regex_match == b.regex_match && a.tls_not_after_ms == b.tls_not_after_ms &&
           a.tls_days_left == b.tls_days_left && a.redirects == b.redirects && a.ip == b.ip &&
           a.extra_json == b.extra_json;
  }
  friend bool operator!=(const result_fields& a, const result_fields& b) { return !(a == b); }
};

// A whole result record: identity plus outcome.
struct record : result_fields {
  // identity (empty location = absent)
  std::string agent, location, check, plugin, target;
  int64_t scheduled_at_ms = ISITUP_ABSENT_TIME;
  int64_t started_at_ms = ISITUP_ABSENT_TIME;

  // Copies every field of `in` that fits in in.struct_size (a producer built against an older
  // SDK sends a shorter struct); the rest keeps its absent value. NULL strings become empty.
  static record from(const isitup_record_v1& in) {
    isitup_record_v1 r;
    isitup_record_init(&r);
    const size_t n = in.struct_size < sizeof r ? in.struct_size : sizeof r;
    std::memcpy(&r, &in, n);
    record out;
    detail::assign(out.agent, r.agent);
    detail::assign(out.location, r.location);
    detail::assign(out.check, r.check);
    detail::assign(out.plugin, r.plugin);
    detail::assign(out.target, r.target);
    out.scheduled_at_ms = r.scheduled_at_ms;
    out.started_at_ms = r.started_at_ms;
    out.read_from(r);
    return out;
  }
  // A C view pointing into this object; valid while the object lives unchanged.
  isitup_record_v1 view() const {
    using detail::c_str_or_null;
    isitup_record_v1 v;
    isitup_record_init(&v);
    v.agent = c_str_or_null(agent);
    v.location = c_str_or_null(location);
    v.check = c_str_or_null(check);
    v.plugin = c_str_or_null(plugin);
    v.target = c_str_or_null(target);
    v.scheduled_at_ms = scheduled_at_ms;
    v.started_at_ms = started_at_ms;
    write_to(v);
    return v;
  }

  friend bool operator==(const record& a, const record& b) {
    return a.agent == b.agent && a.location == b.location && a.check == b.check &&
           a.plugin == b.plugin && a.target == b.target && a.scheduled_at_ms == b.scheduled_at_ms &&
           a.started_at_ms == b.started_at_ms &&
           static_cast<const result_fields&>(a) == static_cast<const result_fields&>(b);
  }
  friend bool operator!=(const record& a, const record& b) { return !(a == b); }
};

}  // namespace isitup::sdk
