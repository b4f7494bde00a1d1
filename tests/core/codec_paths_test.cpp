// The codec's fast paths against what they replaced: the one-pass decoder keeps the DOM
// decoder's meaning (first of repeated keys, unknown members skipped at any depth, faults
// named in the fixed order of the format), the UTF-8 check agrees at every alignment, and the
// encoder's own string escaping and timing printing give RapidJSON Writer's bytes.
#include <gtest/gtest.h>
#include <rapidjson/internal/dtoa.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <isitup/core/codec.hpp>

namespace isitup {
namespace {

const std::string head =
    R"({"v":1,"agent":"a","check":"c","plugin":"p","target":"t",)"
    R"("scheduled_at":"1970-01-01T00:00:00.000Z","started_at":"1970-01-01T00:00:00.000Z",)";

record decoded(const std::string& json) {
  record r;
  std::string error;
  EXPECT_TRUE(codec::decode(json, r, error)) << error << "\n" << json;
  return r;
}

std::string refusal(const std::string& json) {
  record r;
  std::string error;
  EXPECT_FALSE(codec::decode(json, r, error)) << json;
  return error;
}

TEST(codec_decode_paths, the_first_of_repeated_keys_counts) {
  const record r = decoded(head + R"("status":"up","agent":"b","http":{"code":200,"code":"x"},)"
                                  R"("http":{"code":500},"extra":{"a":1},"extra":[],)"
                                  R"("timing_ms":{"dns":1.5,"dns":-3},"status":"bad"})");
  EXPECT_EQ(r.agent, "a");
  EXPECT_TRUE(r.up);
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.dns_ms, 1.5);
  EXPECT_EQ(r.extra_json, R"({"a":1})");
  // A repeated key does not hide a fault in the first value.
  EXPECT_EQ(refusal(head + R"("status":"up","http":{"code":1042},"http":{"code":200}})"),
            "http.code: expected an integer 0..999 (an HTTP status has three digits)");
}

TEST(codec_decode_paths, known_names_inside_other_members_are_not_fields) {
  const record r = decoded(
      head + R"("future":{"agent":"x","http":{"code":1}},"list":[{"status":"down"},[["v"]]],)"
             R"("status":"up","http":{"nested":{"code":7,"bytes":-1},"code":204},)"
             R"("extra":{"agent":"y","error":{"kind":"Bad"},"tls":[{"days_left":"z"}]}})");
  EXPECT_EQ(r.agent, "a");
  EXPECT_EQ(r.http_code, 204);
  EXPECT_EQ(r.http_bytes, ISITUP_ABSENT_INT);
  EXPECT_EQ(r.tls_days_left, ISITUP_ABSENT_DAYS);
  EXPECT_EQ(r.extra_json, R"({"agent":"y","error":{"kind":"Bad"},"tls":[{"days_left":"z"}]})");
}

TEST(codec_decode_paths, member_order_changes_neither_the_record_nor_the_first_fault) {
  const std::string members[] = {
      R"("v":1)",
      R"("agent":"a")",
      R"("check":"c")",
      R"("plugin":"p")",
      R"("target":"t")",
      R"("scheduled_at":"1970-01-01T00:00:00.000Z")",
      R"("started_at":"1970-01-01T00:00:00.001Z")",
      R"("status":"down")",
      R"("error":{"message":"m","kind":"dns"})",
      R"("tls":{"days_left":-2,"not_after":"1969-12-31T00:00:00.000Z"})",
      R"("extra":{"z":[1,{"y":null}]})",
  };
  auto join = [](const std::vector<std::string>& parts) {
    std::string json = "{";
    for (const std::string& p : parts) json += (json.size() > 1 ? "," : "") + p;
    return json + "}";
  };
  std::vector<std::string> order(std::begin(members), std::end(members));
  const record expected = decoded(join(order));
  EXPECT_EQ(expected.error_kind, "dns");
  EXPECT_EQ(expected.tls_days_left, -2);
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::shuffle(order.begin(), order.end(), rng);
    EXPECT_EQ(decoded(join(order)), expected) << join(order);
    // Two faults: the one the format checks first is named, wherever it stands.
    std::vector<std::string> bad = order;
    for (std::string& m : bad) {
      if (m == R"("agent":"a")") m = R"("agent":"")";
      if (m.rfind(R"("tls")", 0) == 0) m = R"("tls":{"days_left":1.5})";
    }
    EXPECT_EQ(refusal(join(bad)), "agent: expected a non-empty string") << join(bad);
  }
}

TEST(codec_decode_paths, null_members_are_absent_and_other_types_are_named) {
  const record r =
      decoded(head + R"("status":"up","extra":null,"ip":null,"redirects":null,"tls":null})");
  EXPECT_EQ(r.extra_json, "");
  EXPECT_EQ(r.ip, "");
  EXPECT_EQ(r.redirects, ISITUP_ABSENT_INT);
  EXPECT_EQ(refusal(head + R"("status":"up","tls":[]})"), "tls: expected an object or null");
  EXPECT_EQ(refusal(head + R"("status":"up","redirects":true})"),
            "redirects: expected an integer >= 0");
  EXPECT_EQ(refusal(head + R"("status":"up","http":{"bytes":1e3}})"),
            "http.bytes: expected an integer >= 0");
  EXPECT_EQ(refusal(head + R"("status":"up","http":{"code":4294967496}})"),
            "http.code: expected an integer 0..999 (an HTTP status has three digits)");
  EXPECT_EQ(decoded(head + R"("status":"up","timing_ms":{"dns":18446744073709551615}})").dns_ms,
            18446744073709551615.0);
}

TEST(codec_decode_paths, bad_utf8_anywhere_is_refused_at_its_offset) {
  const std::string json = head + "\"status\":\"up\",\"unknown\xC3\":1}";
  EXPECT_EQ(refusal(json), "invalid JSON at offset " + std::to_string(json.find('\xC3')) +
                               ": Invalid encoding in string.");
  // A lone surrogate written as an escape decodes to bytes that are not UTF-8.
  EXPECT_EQ(refusal(head + R"("status":"up","ip":"\udc00"})"), "ip: is not valid UTF-8");
}

TEST(codec_validate_paths, utf8_is_checked_the_same_at_every_alignment) {
  struct sequence {
    std::string bytes;
    bool valid;
  };
  const sequence sequences[] = {
      {"\xC3\xA9", true},
      {"\xE2\x82\xAC", true},
      {"\xF0\x9F\x98\x80", true},
      {"\xF4\x8F\xBF\xBF", true},
      {"\xEF\xBF\xBF", true},
      {"\xC3", false},
      {"\xC0\x80", false},
      {"\xC1\xBF", false},
      {"\xE0\x80\x80", false},
      {"\xE0\x9F\xBF", false},
      {"\xED\xA0\x80", false},
      {"\xF0\x80\x80\x80", false},
      {"\xF4\x90\x80\x80", false},
      {"\xF5\x80\x80\x80", false},
      {"\xFF", false},
      {"\x80", false},
      {"\xE2\x82", false},
      {"\xF0\x9F\x98", false},
      {"\xE2\x28\xA1", false},
      {"\xF0\x9F\x98\x28", false},
  };
  record r;
  r.agent = "a";
  r.check = "c";
  r.plugin = "p";
  r.target = "t";
  r.scheduled_at_ms = r.started_at_ms = 0;
  r.up = true;
  std::string error;
  for (const sequence& s : sequences) {
    for (size_t before = 0; before <= 40; ++before) {
      for (size_t after : {0, 1, 7, 8, 15, 16, 33}) {
        r.ip = std::string(before, 'x') + s.bytes + std::string(after, 'y');
        EXPECT_EQ(codec::validate(r, error), s.valid)
            << "before " << before << " after " << after << ": " << error;
        if (!s.valid) {
          EXPECT_EQ(error, "ip: is not valid UTF-8");
        }
      }
    }
  }
}

// A raw control byte in a string is refused at its offset, whether RapidJSON's own scan sees
// it (up to 0x19) or the decoder's pass before the parse (0x1A-0x1F), in a short string and
// past the first 16 bytes of a long one; a NUL anywhere is named first.
TEST(codec_decode_paths, raw_control_bytes_are_refused_at_their_offset) {
  for (int c = 1; c < 0x20; ++c) {
    for (const std::string& before : {std::string("x"), std::string(40, 'x')}) {
      const std::string json =
          head + "\"status\":\"up\",\"unknown\":\"" + before + static_cast<char>(c) + "\"}";
      const size_t at = json.find(static_cast<char>(c), head.size());
      const std::string error = refusal(json);
      EXPECT_EQ(error.rfind("invalid JSON at offset " + std::to_string(at) + ": ", 0), 0u)
          << c << ": " << error;
    }
  }
  const std::string both = head + "\"unknown\":\"\x1f\",\"x\":\"" + '\0' + "\"}";
  EXPECT_EQ(refusal(both),
            "invalid JSON at offset " + std::to_string(both.find('\0')) + ": NUL byte.");
}

// What RapidJSON's Writer makes of a string: the reference for the encoder's own escaping.
std::string writer_string(const std::string& s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buffer.GetString();
}

TEST(codec_encode_paths, strings_are_escaped_as_rapidjson_writes_them) {
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte += static_cast<char>(c);
  for (const std::string& text :
       {every_byte, std::string("\"\\\x1F\x7F</"), std::string(100, '\n'), std::string("plain")}) {
    record r;
    r.error_message = text;
    std::string json;
    codec::encode(r, json);
    EXPECT_NE(json.find("\"message\":" + writer_string(text) + "}"), std::string::npos) << json;
  }
}

// The timing as the encoder printed it in `json`.
std::string timing_text(const std::string& json) {
  const size_t at = json.find("\"dns\":") + 6;
  return json.substr(at, json.find(',', at) - at);
}

TEST(codec_encode_paths, timings_print_as_rapidjson_prints_the_rounded_double) {
  std::mt19937_64 rng(11);
  auto check = [](double ms) {
    record r;
    r.dns_ms = ms;
    std::string json;
    codec::encode(r, json);
    double rounded = std::fabs(ms) < 1e15 ? std::nearbyint(ms * 1000.0) / 1000.0 : ms;
    if (rounded == 0) rounded = 0.0;
    char expected[32];
    *rapidjson::internal::dtoa(rounded, expected) = '\0';
    EXPECT_EQ(timing_text(json), expected) << ms;
  };
  for (int k = 0; k < 20000; ++k) check(k / 1000.0);
  for (int i = 0; i < 20000; ++i) {
    check(static_cast<double>(rng() % 1'000'000'000'000) / 1000.0);  // below 1e9 ms
    check(std::ldexp(static_cast<double>(rng() % 1'000'000), -20));  // fine fractions
    check(static_cast<double>(rng() % 100'000'000) * 1234.5678);     // past the fast path
  }
  for (double ms : {999'999'999.9994, 999'999'999.9996, 1e9, 1e15, 1e300, 0.0005, 0.0004999})
    check(ms);
}

TEST(codec_decode_paths, any_three_digit_status_round_trips) {
  // A server may send 000 or 999: http_check reports that as a protocol error, code kept.
  for (int code : {0, 99, 600, 999}) {
    const record r =
        decoded(head + R"("status":"up","http":{"code":)" + std::to_string(code) + "}}");
    EXPECT_EQ(r.http_code, code);
  }
}

}  // namespace
}  // namespace isitup
