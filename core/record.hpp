// An owned result record: the v1 wire record with its strings stored in the object.
// Built by the host from a check's isitup_record_v1 or decoded from JSON by the codec.
#pragma once

#include <isitup/plugin.h>

#include <cstdint>
#include <string>

namespace isitup {

struct record {
  // identity (empty location = absent)
  std::string agent, location, check, plugin, target;
  int64_t scheduled_at_ms = ISITUP_ABSENT_TIME;
  int64_t started_at_ms = ISITUP_ABSENT_TIME;
  // outcome (empty strings and ISITUP_ABSENT_* numbers = absent)
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

  // Copies every field of `r` that fits in r.struct_size; NULL strings become empty.
  static record from(const isitup_record_v1& r);
  // A C view pointing into this object; valid while the object lives unchanged.
  isitup_record_v1 view() const;

  bool operator==(const record&) const = default;
};

}  // namespace isitup
