#include "record.hpp"

#include <cstddef>
#include <cstring>

namespace isitup {
namespace {

const char* c_str_or_null(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }
std::string str(const char* s) { return s ? std::string(s) : std::string(); }

}  // namespace

record record::from(const isitup_record_v1& in) {
  // Read only what the producer's struct holds; the rest keeps its "absent" default.
  isitup_record_v1 r;
  isitup_record_init(&r);
  const size_t n = in.struct_size < sizeof r ? in.struct_size : sizeof r;
  std::memcpy(&r, &in, n);
  record out;
  out.agent = str(r.agent);
  out.location = str(r.location);
  out.check = str(r.check);
  out.plugin = str(r.plugin);
  out.target = str(r.target);
  out.scheduled_at_ms = r.scheduled_at_ms;
  out.started_at_ms = r.started_at_ms;
  out.up = r.status == ISITUP_UP;
  out.error_kind = str(r.error_kind);
  out.error_message = str(r.error_message);
  out.http_code = r.http_code;
  out.http_version = str(r.http_version);
  out.http_bytes = r.http_bytes;
  out.dns_ms = r.dns_ms;
  out.connect_ms = r.connect_ms;
  out.tls_ms = r.tls_ms;
  out.ttfb_ms = r.ttfb_ms;
  out.total_ms = r.total_ms;
  out.regex_match = r.regex_match;
  out.tls_not_after_ms = r.tls_not_after_ms;
  out.tls_days_left = r.tls_days_left;
  out.redirects = r.redirects;
  out.ip = str(r.ip);
  out.extra_json = str(r.extra_json);
  return out;
}

isitup_record_v1 record::view() const {
  isitup_record_v1 v;
  isitup_record_init(&v);
  v.agent = c_str_or_null(agent);
  v.location = c_str_or_null(location);
  v.check = c_str_or_null(check);
  v.plugin = c_str_or_null(plugin);
  v.target = c_str_or_null(target);
  v.scheduled_at_ms = scheduled_at_ms;
  v.started_at_ms = started_at_ms;
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
  return v;
}

}  // namespace isitup
