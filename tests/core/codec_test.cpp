#include <isitup/core/codec.hpp>
#include "sample_record.hpp"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstddef>
#include <ctime>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace isitup {
namespace {

// DESIGN.md's sample, every field set (fixtures/sample_record.hpp).
record full_record() { return test::sample_record(); }

const std::string full_json =
    R"({"v":1,"agent":"probe-eu-1","location":"eu-west","check":"shop","plugin":"http_check",)"
    R"("target":"https://shop.example.com/","scheduled_at":"2026-11-27T18:00:00.000Z",)"
    R"("started_at":"2026-11-27T18:00:00.002Z","status":"up","error":null,)"
    R"("http":{"code":200,"version":"1.1","bytes":5120},)"
    R"("timing_ms":{"dns":1.2,"connect":3.4,"tls":12.0,"ttfb":40.1,"total":41.0},)"
    R"("regex_match":true,"tls":{"not_after":"2027-03-01T00:00:00.000Z","days_left":94},)"
    R"("redirects":1,"ip":"203.0.113.7","extra":{"cache":"HIT","hops":[1,2]}})";

record minimal_down() {
  record r;
  r.agent = "a";
  r.check = "c";
  r.plugin = "p";
  r.target = "t";
  r.scheduled_at_ms = 0;
  r.started_at_ms = 0;
  r.error_kind = "dns";
  r.error_message = "no such host";
  return r;
}

const std::string minimal_down_json =
    R"({"v":1,"agent":"a","location":null,"check":"c","plugin":"p","target":"t",)"
    R"("scheduled_at":"1970-01-01T00:00:00.000Z","started_at":"1970-01-01T00:00:00.000Z",)"
    R"("status":"down","error":{"kind":"dns","message":"no such host"},"http":null,)"
    R"("timing_ms":null,"regex_match":null,"tls":null})";

std::string encode(const record& r) {
  std::string out;
  codec::encode(r, out);
  return out;
}

// Replaces the one occurrence of `from` in `text`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(codec, encodes_the_golden_full_record) { EXPECT_EQ(encode(full_record()), full_json); }

TEST(codec, encodes_the_golden_minimal_down_record) {
  EXPECT_EQ(encode(minimal_down()), minimal_down_json);
}

TEST(codec, encode_appends_to_the_output) {
  std::string out = "prefix ";
  codec::encode(minimal_down(), out);
  EXPECT_EQ(out, "prefix " + minimal_down_json);
}

TEST(codec, round_trips_every_field) {
  record back;
  std::string error;
  ASSERT_TRUE(codec::decode(full_json, back, error)) << error;
  EXPECT_EQ(back, full_record());
  EXPECT_EQ(encode(back), full_json);
}

TEST(codec, round_trips_absent_fields) {
  record back;
  std::string error;
  ASSERT_TRUE(codec::decode(minimal_down_json, back, error)) << error;
  EXPECT_EQ(back, minimal_down());
}

TEST(codec, partial_objects_carry_null_members) {
  record r = minimal_down();
  r.http_code = 503;
  r.total_ms = 7;
  r.tls_days_left = 3;
  const std::string json = encode(r);
  EXPECT_NE(json.find(R"("http":{"code":503,"version":null,"bytes":null})"), std::string::npos);
  EXPECT_NE(
      json.find(R"("timing_ms":{"dns":null,"connect":null,"tls":null,"ttfb":null,"total":7.0})"),
      std::string::npos);
  EXPECT_NE(json.find(R"("tls":{"not_after":null,"days_left":3})"), std::string::npos);
  record back;
  std::string error;
  ASSERT_TRUE(codec::decode(json, back, error)) << error;
  EXPECT_EQ(back, r);
}

TEST(codec, expired_certificate_days_left_are_negative_not_absent) {
  record r = minimal_down();
  r.tls_not_after_ms = 0;
  r.tls_days_left = -1;
  const std::string json = encode(r);
  EXPECT_NE(json.find(R"("days_left":-1})"), std::string::npos) << json;
  record back;
  std::string error;
  ASSERT_TRUE(codec::decode(json, back, error)) << error;
  EXPECT_EQ(back.tls_days_left, -1);
}

TEST(codec, timings_print_at_most_three_decimals) {
  record r = minimal_down();
  r.dns_ms = 12.3456;
  r.connect_ms = 0.0004;
  r.tls_ms = 0.1 + 0.2;
  r.ttfb_ms = 12.345;
  r.total_ms = 100000;
  EXPECT_NE(encode(r).find(R"({"dns":12.346,"connect":0.0,"tls":0.3,"ttfb":12.345,)"
                           R"("total":100000.0})"),
            std::string::npos)
      << encode(r);
}

// Timings outside 0..1e9 ms (negative ones are refused by decode, but written) print as
// RapidJSON's Writer prints the same double, rounded to 3 decimals below 1e15.
TEST(codec, large_and_negative_timings_print_as_rapidjson_writes_them) {
  const double values[] = {1e9,
                           1e9 + 0.5,
                           123456789012.3456,
                           1e15 + 2,
                           4.5e15 + 1,
                           1e20,
                           1e21,
                           1.5e22,
                           1e300,
                           -2.5,
                           -0.0004,
                           -1e9 - 0.25,
                           -1e21,
                           -3e200,
                           999999999.9996,
                           1.7976931348623157e308};
  for (const double v : values) {
    record r = minimal_down();
    r.total_ms = v;
    const std::string json = encode(r);
    const std::size_t at = json.find(R"("total":)");
    ASSERT_NE(at, std::string::npos) << json;
    const std::size_t from = at + 8, to = json.find('}', from);
    double rounded = std::fabs(v) < 1e15 ? std::nearbyint(v * 1000.0) / 1000.0 : v;
    if (rounded == 0) rounded = 0.0;
    rapidjson::StringBuffer expected;
    rapidjson::Writer<rapidjson::StringBuffer> w(expected);
    w.Double(rounded);
    EXPECT_EQ(json.substr(from, to - from), expected.GetString()) << v;
  }
}

TEST(codec, escapes_and_round_trips_strings) {
  record r = minimal_down();
  r.check = "say \"hi\"\\ now";
  r.error_message = "line 1\nline 2\ttab \x01 caf\xC3\xA9 \xF0\x9F\x98\x80 </script>";
  const std::string json = encode(r);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find(R"("check":"say \"hi\"\\ now")"), std::string::npos);
  EXPECT_NE(json.find(R"(line 1\nline 2\ttab \u0001 caf)"), std::string::npos) << json;
  record back;
  std::string error;
  ASSERT_TRUE(codec::decode(json, back, error)) << error;
  EXPECT_EQ(back, r);
  ASSERT_TRUE(codec::decode(R"({"v":1,"agent":"caf\u00e9 \ud83d\ude00","check":"c","plugin":"p",)"
                            R"("target":"t","scheduled_at":"1970-01-01T00:00:00Z",)"
                            R"("started_at":"1970-01-01T00:00:00Z","status":"up"})",
                            back, error))
      << error;
  EXPECT_EQ(back.agent, "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(codec, compacts_extra_and_ignores_unknown_keys) {
  record r = minimal_down();
  r.extra_json = "{ \"a\" : [1, 2],\n \"b\": {\"c\": null} }";
  EXPECT_NE(encode(r).find(R"("extra":{"a":[1,2],"b":{"c":null}}})"), std::string::npos);
  record back;
  std::string error;
  const std::string future =
      replaced(minimal_down_json, R"("v":1,)", R"("v":1,"v2_field":{"x":[1]},"zz":null,)");
  ASSERT_TRUE(codec::decode(replaced(future, R"("http":null)", R"("http":{"code":204,"h3":1})"),
                            back, error))
      << error;
  EXPECT_EQ(back.http_code, 204);
}

TEST(codec, encode_honours_a_smaller_struct_size) {
  const record r = full_record();
  isitup_record_v1 v = r.view();
  v.struct_size = offsetof(isitup_record_v1, redirects);
  std::string json;
  codec::encode(v, json);
  EXPECT_EQ(json.find("redirects"), std::string::npos);
  EXPECT_EQ(json.find("extra"), std::string::npos);
  EXPECT_NE(json.find(R"("days_left":94})"), std::string::npos);
}

TEST(codec_time, formats_and_parses_edge_cases) {
  struct example {
    int64_t ms;
    const char* text;
  };
  const example examples[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
      {1'709'210'096'789, "2024-02-29T12:34:56.789Z"},
      {4'107'542'400'000 - 1, "2100-02-28T23:59:59.999Z"},
      {4'107'542'400'000, "2100-03-01T00:00:00.000Z"},
      {951'782'400'000, "2000-02-29T00:00:00.000Z"},
      {253'402'300'799'999, "9999-12-31T23:59:59.999Z"},
      {-62'167'219'200'000, "0000-01-01T00:00:00.000Z"},
  };
  for (const example& e : examples) {
    EXPECT_EQ(codec::format_time_ms(e.ms), e.text);
    int64_t ms = 12345;
    EXPECT_TRUE(codec::parse_time_ms(e.text, ms)) << e.text;
    EXPECT_EQ(ms, e.ms) << e.text;
  }
  int64_t ms = 0;
  ASSERT_TRUE(codec::parse_time_ms("2024-02-29T12:34:56Z", ms));
  EXPECT_EQ(ms, 1'709'210'096'000);
  EXPECT_EQ(codec::format_time_ms(253'402'300'800'000), "");
  EXPECT_EQ(codec::format_time_ms(std::numeric_limits<int64_t>::min()), "");
}

TEST(codec_time, refuses_anything_but_the_one_form) {
  for (const char* bad : {"",
                          "2024-02-30T00:00:00Z",
                          "2023-02-29T00:00:00Z",
                          "2100-02-29T00:00:00Z",
                          "2024-13-01T00:00:00Z",
                          "2024-00-01T00:00:00Z",
                          "2024-01-00T00:00:00Z",
                          "2024-04-31T00:00:00Z",
                          "2024-01-01T24:00:00Z",
                          "2024-01-01T00:60:00Z",
                          "2024-01-01T00:00:60Z",
                          "2024-01-01t00:00:00Z",
                          "2024-01-01T00:00:00z",
                          "2024-01-01T00:00:00",
                          "2024-01-01T00:00:00+00:00",
                          "2024-01-01T00:00:00.12Z",
                          "2024-01-01T00:00:00.1234Z",
                          "2024-01-01 00:00:00Z",
                          "2024-1-01T00:00:00Z",
                          "+2024-01-01T00:00:00Z",
                          "2024-01-01T00:00:00Z ",
                          " 2024-01-01T00:00:00Z",
                          "2024-01-01T00:00:0xZ",
                          "2024-01-01T00:00:00,000Z",
                          "-001-01-01T00:00:00Z"}) {
    int64_t ms = 0;
    EXPECT_FALSE(codec::parse_time_ms(bad, ms)) << bad;
  }
}

TEST(codec_time, agrees_with_timegm_for_every_day_from_1900_to_2200) {
  std::tm tm{};
  tm.tm_year = 0;
  tm.tm_mday = 1;
  const int64_t first = static_cast<int64_t>(timegm(&tm)) * 1000;
  for (int64_t ms = first; ms < 7'258'118'400'000; ms += 86'400'000 + 3'723'004) {
    const std::string text = codec::format_time_ms(ms);
    const auto secs = static_cast<time_t>(std::floor(ms / 1000.0));
    std::tm expected{};
    gmtime_r(&secs, &expected);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &expected);
    ASSERT_EQ(text.substr(0, 19), buf) << ms;
    int64_t back = 0;
    ASSERT_TRUE(codec::parse_time_ms(text, back)) << text;
    ASSERT_EQ(back, ms) << text;
  }
}

// True when `error` starts with "<field>: ", or for field "invalid JSON", with the parser's
// "invalid JSON at offset N: ".
bool names_field(const std::string& error, const std::string& field) {
  return error.rfind(field == "invalid JSON" ? "invalid JSON at offset " : field + ": ", 0) == 0;
}

struct json_case {
  std::string from, to;  // applied once to the golden JSON (full, or minimal down when `down`)
  std::string field;     // the error must start with "<field>: "
  bool down = false;
};

TEST(codec_decode, rejects_bad_fields_naming_them) {
  const std::string kind65(65, 'k');
  const json_case cases[] = {
      {R"("v":1,)", R"("v":2,)", "v"},
      {R"("v":1,)", R"("v":"1",)", "v"},
      {R"("v":1,)", "", "v"},
      {R"("agent":"probe-eu-1")", R"("agent":"")", "agent"},
      {R"("agent":"probe-eu-1")", R"("agent":5)", "agent"},
      {R"("agent":"probe-eu-1")", R"("agent":"a\u0000b")", "agent"},
      {R"("location":"eu-west")", R"("location":["eu"])", "location"},
      {R"("check":"shop",)", "", "check"},
      {R"("plugin":"http_check")", R"("plugin":null)", "plugin"},
      {R"("target":"https://shop.example.com/")", R"("target":{})", "target"},
      {"18:00:00.000Z", "18:00:00.000+01:00", "scheduled_at"},
      {R"("scheduled_at":"2026-11-27T18:00:00.000Z")", R"("scheduled_at":1795802400000)",
       "scheduled_at"},
      {R"("started_at":"2026-11-27T18:00:00.002Z")", R"("started_at":null)", "started_at"},
      {R"("status":"up")", R"("status":"UP")", "status"},
      {R"("status":"up")", R"("status":true)", "status"},
      {R"("error":null)", R"("error":{"kind":"dns","message":"x"})", "error"},
      {R"("error":{"kind":"dns","message":"no such host"})", R"("error":null)", "error", true},
      {R"("error":{"kind":"dns","message":"no such host"},)", "", "error", true},
      {R"("kind":"dns")", R"("kind":"DNS")", "error.kind", true},
      {R"("kind":"dns")", R"("kind":"")", "error.kind", true},
      {R"("kind":"dns")", R"("kind":"dns-x")", "error.kind", true},
      {R"("kind":"dns")", "\"kind\":\"" + kind65 + "\"", "error.kind", true},
      {R"("message":"no such host")", R"("message":5)", "error.message", true},
      {R"("message":"no such host")", R"("message":null)", "error.message", true},
      {R"("http":{"code":200,"version":"1.1","bytes":5120})", R"("http":"200")", "http"},
      {R"("code":200)", R"("code":1000)", "http.code"},
      {R"("code":200)", R"("code":4096)", "http.code"},
      {R"("code":200)", R"("code":"200")", "http.code"},
      {R"("code":200)", R"("code":200.0)", "http.code"},
      {R"("code":200)", R"("code":-1)", "http.code"},
      {R"("version":"1.1")", R"("version":1.1)", "http.version"},
      {R"("bytes":5120)", R"("bytes":-1)", "http.bytes"},
      {R"("bytes":5120)", R"("bytes":18446744073709551615)", "http.bytes"},
      {R"("timing_ms":{)", R"("timing_ms":[],"x":{)", "timing_ms"},
      {R"("dns":1.2)", R"("dns":-0.5)", "timing_ms.dns"},
      {R"("total":41.0)", R"("total":"41")", "timing_ms.total"},
      {R"("regex_match":true)", R"("regex_match":1)", "regex_match"},
      {R"("not_after":"2027-03-01T00:00:00.000Z")", R"("not_after":"soon")", "tls.not_after"},
      {R"("days_left":94)", R"("days_left":94.5)", "tls.days_left"},
      {R"("days_left":94)", R"("days_left":"94")", "tls.days_left"},
      {R"("redirects":1)", R"("redirects":-1)", "redirects"},
      {R"("ip":"203.0.113.7")", R"("ip":7)", "ip"},
      {R"("extra":{"cache":"HIT","hops":[1,2]})", R"("extra":[1])", "extra"},
      {R"("extra":{"cache":"HIT","hops":[1,2]})", R"("extra":"{}")", "extra"},
      {R"({"v":1,)", R"([{"v":1,)", "invalid JSON"},
      {R"("agent":"probe-eu-1")", "\"agent\":\"\xFF\"", "invalid JSON"},
      {R"("ip":"203.0.113.7")", std::string("\"ip\":\"\0\"", 8), "invalid JSON"},
  };
  for (const json_case& c : cases) {
    const std::string json = replaced(c.down ? minimal_down_json : full_json, c.from, c.to);
    record out = minimal_down();
    std::string error;
    EXPECT_FALSE(codec::decode(json, out, error)) << json;
    EXPECT_TRUE(names_field(error, c.field)) << "error: " << error << "\njson: " << json;
    EXPECT_EQ(out, minimal_down()) << "a failed decode leaves the output alone";
  }
}

TEST(codec_decode, rejects_documents_that_are_not_records) {
  for (const std::string bad : {"", "null", "[]", "\"x\"", "{}", "{} {}", "{\"v\":1}x"}) {
    record out;
    std::string error;
    EXPECT_FALSE(codec::decode(bad, out, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
  record out;
  std::string error;
  EXPECT_FALSE(codec::decode("[]", out, error));
  EXPECT_EQ(error, "record: expected a JSON object");
  EXPECT_TRUE(codec::decode(full_json + "\n", out, error)) << error;
}

TEST(codec_decode, rejects_every_truncation_without_crashing) {
  for (const std::string& json : {full_json, minimal_down_json}) {
    for (size_t n = 0; n < json.size(); ++n) {
      record out;
      std::string error;
      EXPECT_FALSE(codec::decode(std::string_view(json).substr(0, n), out, error)) << n;
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(codec_decode, survives_garbage) {
  std::mt19937 rng(20261127);
  const std::string alphabet = "{}[]\":,0123456789.eE+-tfnulrsa\\u \x80\xFF";
  record out;
  std::string error;
  for (int i = 0; i < 20000; ++i) {
    std::string json = full_json;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % json.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          json[at] = c;
          break;
        case 1:
          json.insert(json.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          json.erase(at, 1 + rng() % 8);
      }
      if (json.empty()) json = "{";
    }
    if (codec::decode(json, out, error)) {
      EXPECT_TRUE(codec::validate(out, error)) << json;
    }
  }
  EXPECT_FALSE(codec::decode(std::string(200000, '['), out, error));
  EXPECT_FALSE(codec::decode(std::string(200000, '{'), out, error));
}

std::string nested(int depth) {
  return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

TEST(codec_decode, limits_the_nesting_of_extra) {
  record out;
  std::string error;
  const std::string ok = replaced(full_json, R"({"cache":"HIT","hops":[1,2]})", nested(32));
  EXPECT_TRUE(codec::decode(ok, out, error)) << error;
  const std::string deep = replaced(full_json, R"({"cache":"HIT","hops":[1,2]})", nested(33));
  EXPECT_FALSE(codec::decode(deep, out, error));
  EXPECT_EQ(error, "extra: nested deeper than 32 levels");
}

struct record_case {
  std::string field;
  std::function<void(record&)> change;
  // What decode(encode(r)) says: nullptr = the same error as validate(); "invalid JSON" for
  // bad UTF-8, which the parser catches; "" = it decodes (the encoding cannot carry the fault).
  const char* decoded = nullptr;
};

TEST(codec_validate, applies_the_decode_rules_to_records) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const record_case cases[] = {
      {"agent", [](record& r) { r.agent.clear(); }},
      {"agent", [](record& r) { r.agent = "\xC3"; }, "invalid JSON"},
      {"location", [](record& r) { r.location = "eu\xED\xA0\x80"; }, "invalid JSON"},
      {"check", [](record& r) { r.check = std::string("a\0b", 3); }, ""},
      {"plugin", [](record& r) { r.plugin.clear(); }},
      {"target", [](record& r) { r.target.clear(); }},
      {"scheduled_at", [](record& r) { r.scheduled_at_ms = ISITUP_ABSENT_TIME; }},
      {"started_at", [](record& r) { r.started_at_ms = 253'402'300'800'000; }},
      // A result is from 1970 on: year 0000 parses as a time but no result table stores it.
      {"scheduled_at", [](record& r) { r.scheduled_at_ms = -62'167'219'200'000; }},
      {"scheduled_at", [](record& r) { r.scheduled_at_ms = -1; }},
      {"started_at", [](record& r) { r.started_at_ms = -62'135'596'800'000; }},
      {"error", [](record& r) { r.error_kind = "dns"; }},
      {"error.kind",
       [](record& r) {
         r.up = false;
         r.error_message = "no kind";
       }},
      {"error.kind",
       [](record& r) {
         r.up = false;
         r.error_kind = "Timeout";
       }},
      {"error.message",
       [](record& r) {
         r.up = false;
         r.error_kind = "timeout";
         r.error_message = "\xFF";
       },
       "invalid JSON"},
      {"http.code", [](record& r) { r.http_code = 1000; }},
      {"http.version", [](record& r) { r.http_version = "\xC0\xAF"; }, "invalid JSON"},
      {"http.bytes", [](record& r) { r.http_bytes = -5; }},
      {"timing_ms.connect", [](record& r) { r.connect_ms = -2.5; }},
      {"timing_ms.ttfb", [nan](record& r) { r.ttfb_ms = nan; }, ""},
      {"regex_match", [](record& r) { r.regex_match = 2; }},
      {"tls.not_after", [](record& r) { r.tls_not_after_ms = -62'167'219'200'001; }},
      {"redirects", [](record& r) { r.redirects = -3; }},
      {"ip", [](record& r) { r.ip = "\x80"; }, "invalid JSON"},
      {"extra", [](record& r) { r.extra_json = "[1]"; }},
      {"extra", [](record& r) { r.extra_json = "{\"a\":"; }},
      {"extra", [](record& r) { r.extra_json = nested(33); }},
  };
  std::string error;
  ASSERT_TRUE(codec::validate(full_record(), error)) << error;
  ASSERT_TRUE(codec::validate(minimal_down(), error)) << error;
  for (const record_case& c : cases) {
    record r = full_record();
    c.change(r);
    EXPECT_FALSE(codec::validate(r, error)) << c.field;
    EXPECT_TRUE(names_field(error, c.field)) << "error: " << error;
    if (c.decoded && !*c.decoded) continue;
    const std::string expected = c.decoded ? std::string(c.decoded) : error;
    const std::string json = encode(r);
    record back;
    EXPECT_FALSE(codec::decode(json, back, error)) << json;
    EXPECT_EQ(error.substr(0, expected.size()), expected) << json;
  }
}

}  // namespace
}  // namespace isitup
