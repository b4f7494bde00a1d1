// record_codec: the agent's wire JSON of a record, both ways, behind the SDK's record type.
#include "record_codec.hpp"

#include <gtest/gtest.h>

#include "sample_record.hpp"

using isitup::test::decode_record;
using isitup::test::encode_record;

TEST(record_codec, a_record_comes_back_from_its_json_unchanged) {
  const isitup::sdk::record sent = isitup::test::sample_record();
  const std::string json = encode_record(sent);
  EXPECT_EQ(json.find('\n'), std::string::npos) << json;
  isitup::sdk::record got;
  std::string error;
  ASSERT_TRUE(decode_record(json, got, error)) << error << ": " << json;
  EXPECT_EQ(encode_record(got), json);
  EXPECT_EQ(got.check, sent.check);
  EXPECT_EQ(got.scheduled_at_ms, sent.scheduled_at_ms);
  EXPECT_EQ(got.http_code, sent.http_code);
}

TEST(record_codec, json_that_is_not_a_record_is_refused_with_the_field_named) {
  isitup::sdk::record got;
  std::string error;
  std::string json = encode_record(isitup::test::sample_record());
  const std::string code = "\"code\":200";
  ASSERT_NE(json.find(code), std::string::npos) << json;
  json.replace(json.find(code), code.size(), "\"code\":\"two hundred\"");
  EXPECT_FALSE(decode_record(json, got, error)) << json;
  EXPECT_NE(error.find("code"), std::string::npos) << error;
  EXPECT_FALSE(decode_record("not json", got, error));
}
