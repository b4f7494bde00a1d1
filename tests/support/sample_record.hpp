// The sample result of DESIGN.md ("Result record"): an up http_check result with every field
// set. Tests and benchmarks that need a realistic record start from a copy and change what
// they vary, instead of writing out their own. Header-only; needs only the SDK's record.hpp.
#pragma once

#include <isitup/record.hpp>

#include <cstdint>

namespace isitup::test {

constexpr int64_t sample_scheduled_ms = 1'795'802'400'000;  // 2026-11-27T18:00:00.000Z
constexpr int64_t sample_not_after_ms = 1'803'859'200'000;  // 2027-03-01T00:00:00.000Z

inline sdk::record sample_record() {
  sdk::record r;
  r.agent = "probe-eu-1";
  r.location = "eu-west";
  r.check = "shop";
  r.plugin = "http_check";
  r.target = "https://shop.example.com/";
  r.scheduled_at_ms = sample_scheduled_ms;
  r.started_at_ms = sample_scheduled_ms + 2;
  r.up = true;
  r.http_code = 200;
  r.http_version = "1.1";
  r.http_bytes = 5120;
  r.dns_ms = 1.2;
  r.connect_ms = 3.4;
  r.tls_ms = 12.0;
  r.ttfb_ms = 40.1;
  r.total_ms = 41.0;
  r.regex_match = 1;
  r.tls_not_after_ms = sample_not_after_ms;
  r.tls_days_left = 94;
  r.redirects = 1;
  r.ip = "203.0.113.7";
  r.extra_json = R"({"cache":"HIT","hops":[1,2]})";
  return r;
}

}  // namespace isitup::test
