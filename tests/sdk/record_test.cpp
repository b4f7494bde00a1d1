// sdk::record and sdk::result: one field list, converted to and from isitup_record_v1.
#include <gtest/gtest.h>
#include <isitup/plugin.hpp>
#include <isitup/record.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "sample_record.hpp"

namespace sdk = isitup::sdk;

namespace {

// DESIGN.md's sample record (fixtures/sample_record.hpp) with an error text as well: every field
// set to a value distinct from its absent value.
const sdk::record& every_field_record() {
  static const sdk::record r = [] {
    sdk::record s = isitup::test::sample_record();
    s.error_kind = "http_status";
    s.error_message = "503 from the server";
    return s;
  }();
  return r;
}

isitup_record_v1 every_field_set() { return every_field_record().view(); }

std::string str(const char* s) { return s ? s : "(null)"; }

void expect_same(const isitup_record_v1& a, const isitup_record_v1& b) {
  EXPECT_EQ(str(a.agent), str(b.agent));
  EXPECT_EQ(str(a.location), str(b.location));
  EXPECT_EQ(str(a.check), str(b.check));
  EXPECT_EQ(str(a.plugin), str(b.plugin));
  EXPECT_EQ(str(a.target), str(b.target));
  EXPECT_EQ(a.scheduled_at_ms, b.scheduled_at_ms);
  EXPECT_EQ(a.started_at_ms, b.started_at_ms);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(str(a.error_kind), str(b.error_kind));
  EXPECT_EQ(str(a.error_message), str(b.error_message));
  EXPECT_EQ(a.http_code, b.http_code);
  EXPECT_EQ(str(a.http_version), str(b.http_version));
  EXPECT_EQ(a.http_bytes, b.http_bytes);
  EXPECT_EQ(a.dns_ms, b.dns_ms);
  EXPECT_EQ(a.connect_ms, b.connect_ms);
  EXPECT_EQ(a.tls_ms, b.tls_ms);
  EXPECT_EQ(a.ttfb_ms, b.ttfb_ms);
  EXPECT_EQ(a.total_ms, b.total_ms);
  EXPECT_EQ(a.regex_match, b.regex_match);
  EXPECT_EQ(a.tls_not_after_ms, b.tls_not_after_ms);
  EXPECT_EQ(a.tls_days_left, b.tls_days_left);
  EXPECT_EQ(a.redirects, b.redirects);
  EXPECT_EQ(str(a.ip), str(b.ip));
  EXPECT_EQ(str(a.extra_json), str(b.extra_json));
}

TEST(sdk_record, from_then_view_gives_back_every_field) {
  const isitup_record_v1 in = every_field_set();
  const sdk::record r = sdk::record::from(in);
  EXPECT_EQ(r.agent, "probe-eu-1");
  EXPECT_EQ(r.error_message, "503 from the server");
  EXPECT_EQ(r.tls_days_left, 94);
  EXPECT_EQ(r.extra_json, R"({"cache":"HIT","hops":[1,2]})");
  expect_same(r.view(), in);
  EXPECT_EQ(r.view().struct_size, sizeof(isitup_record_v1));
}

TEST(sdk_record, absent_fields_stay_absent_both_ways) {
  isitup_record_v1 in;
  isitup_record_init(&in);
  const sdk::record r = sdk::record::from(in);
  EXPECT_EQ(r, sdk::record{});
  expect_same(r.view(), in);
}

TEST(sdk_record, a_shorter_struct_from_an_older_producer_is_read_only_as_far_as_it_goes) {
  isitup_record_v1 in = every_field_set();
  in.struct_size = static_cast<uint32_t>(offsetof(isitup_record_v1, tls_days_left));
  const sdk::record r = sdk::record::from(in);
  EXPECT_EQ(r.tls_not_after_ms, isitup::test::sample_not_after_ms);
  EXPECT_EQ(r.tls_days_left, ISITUP_ABSENT_DAYS);
  EXPECT_EQ(r.redirects, ISITUP_ABSENT_INT);
  EXPECT_TRUE(r.ip.empty());
  EXPECT_TRUE(r.extra_json.empty());
}

TEST(sdk_record, equality_sees_every_field) {
  const sdk::record base = sdk::record::from(every_field_set());
  const std::vector<std::function<void(sdk::record&)>> changes = {
      [](sdk::record& r) { r.agent += "x"; },      [](sdk::record& r) { r.location += "x"; },
      [](sdk::record& r) { r.check += "x"; },      [](sdk::record& r) { r.plugin += "x"; },
      [](sdk::record& r) { r.target += "x"; },     [](sdk::record& r) { ++r.scheduled_at_ms; },
      [](sdk::record& r) { ++r.started_at_ms; },   [](sdk::record& r) { r.up = !r.up; },
      [](sdk::record& r) { r.error_kind += "x"; }, [](sdk::record& r) { r.error_message += "x"; },
      [](sdk::record& r) { ++r.http_code; },       [](sdk::record& r) { r.http_version += "x"; },
      [](sdk::record& r) { ++r.http_bytes; },      [](sdk::record& r) { r.dns_ms += 1; },
      [](sdk::record& r) { r.connect_ms += 1; },   [](sdk::record& r) { r.tls_ms += 1; },
      [](sdk::record& r) { r.ttfb_ms += 1; },      [](sdk::record& r) { r.total_ms += 1; },
      [](sdk::record& r) { ++r.regex_match; },     [](sdk::record& r) { ++r.tls_not_after_ms; },
      [](sdk::record& r) { ++r.tls_days_left; },   [](sdk::record& r) { ++r.redirects; },
      [](sdk::record& r) { r.ip += "x"; },         [](sdk::record& r) { r.extra_json += " "; },
  };
  EXPECT_EQ(base, sdk::record::from(every_field_set()));
  for (size_t i = 0; i < changes.size(); ++i) {
    sdk::record changed = base;
    changes[i](changed);
    EXPECT_NE(changed, base) << "change " << i;
    EXPECT_FALSE(changed == base) << "change " << i;
  }
}

TEST(sdk_result, is_the_outcome_part_of_a_record) {
  sdk::result res = sdk::result::down("connect", "refused");
  res.connect_ms = 7.25;
  res.ip = "127.0.0.1";
  const isitup_record_v1 v = res.view();
  EXPECT_EQ(v.agent, nullptr);
  EXPECT_EQ(v.scheduled_at_ms, ISITUP_ABSENT_TIME);
  const sdk::record r = sdk::record::from(v);
  EXPECT_EQ(static_cast<const sdk::result_fields&>(r), static_cast<const sdk::result_fields&>(res));
}

TEST(sdk_result, an_up_result_carries_no_error_text) {
  sdk::result res = sdk::result::ok();
  res.error_kind = "left over";
  res.error_message = "left over";
  const isitup_record_v1 v = res.view();
  EXPECT_EQ(v.status, ISITUP_UP);
  EXPECT_EQ(v.error_kind, nullptr);
  EXPECT_EQ(v.error_message, nullptr);
}

}  // namespace
