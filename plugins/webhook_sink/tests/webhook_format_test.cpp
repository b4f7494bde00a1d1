// webhook_sink's bodies without a network: the json encoder against event.schema.json (with
// RapidJSON's validator), the Slack and Discord shapes and limits, the signature against an
// independent HMAC (OpenSSL's EVP_MAC), UTF-8 cleaning.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include <string>

#include "webhook_format.hpp"
#include "webhook_schema.hpp"
#include "webhook_test_util.hpp"

namespace isitup::webhook {
namespace {

using test::make_event;
using test::schema_errors;

// Characters (code points) of UTF-8 text, as Slack and Discord count them.
size_t chars(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

// HMAC-SHA256 through OpenSSL 3's EVP_MAC interface (the plugin uses HMAC()), in hex.
std::string evp_hmac_hex(const std::string& key, const std::string& data) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  unsigned char out[64];
  size_t n = 0;
  EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MAC_final(ctx, out, &n, sizeof out);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  std::string hex;
  for (size_t i = 0; i < n; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", out[i]);
    hex += b;
  }
  return hex;
}

TEST(webhook_json, every_event_type_validates_against_the_schema) {
  for (const char* type : {"incident_opened", "incident_resolved", "incident_reminder"}) {
    const event e = make_event("shop", type, 1);
    EXPECT_EQ(schema_errors(encode_json(e)), "") << type;
  }
  event no_error = make_event("shop", "incident_opened", 2);
  no_error.error_kind.clear();
  no_error.error_message.clear();
  no_error.locations.clear();
  EXPECT_EQ(schema_errors(encode_json(no_error)), "");
}

TEST(webhook_json, the_schema_refuses_what_the_encoder_must_not_write) {
  // The validator is live: each broken variant of a valid event fails.
  const std::string good = encode_json(make_event("shop", "incident_resolved", 1));
  ASSERT_EQ(schema_errors(good), "");
  const std::pair<std::string, std::string> breaks[] = {
      {"\"state\":\"up\"", "\"state\":\"down\""},                 // resolved but down
      {"\"v\":1", "\"v\":2"},                                     // another version
      {"\"type\":\"incident_resolved\"", "\"type\":\"closed\""},  // unknown type
      {",\"plugin\":\"http_check\"", ""},                         // a field missing
      {"\"v\":1", "\"v\":1,\"extra\":true"},                      // a field not in v1
      {".000Z\",\"opened_at\"", "Z\",\"opened_at\""},             // a time without millis
  };
  for (const auto& [from, to] : breaks) {
    std::string bad = good;
    const size_t at = bad.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    bad.replace(at, from.size(), to);
    EXPECT_NE(schema_errors(bad), "") << bad;
  }
}

TEST(webhook_json, fields_are_what_the_event_says) {
  const event e = make_event("shop", "incident_resolved", 4);
  const rapidjson::Document d = parse(encode_json(e));
  EXPECT_EQ(std::string(d["event_id"].GetString()), e.event_id);
  EXPECT_EQ(std::string(d["check"].GetString()), "shop");
  EXPECT_EQ(std::string(d["opened_at"].GetString()), "2026-12-02T18:00:00.000Z");
  EXPECT_EQ(std::string(d["resolved_at"].GetString()), "2026-12-02T18:00:07.000Z");
  EXPECT_DOUBLE_EQ(d["duration_s"].GetDouble(), 7.0);
  EXPECT_EQ(std::string(d["state"].GetString()), "up");
  EXPECT_EQ(std::string(d["error"]["kind"].GetString()), "connect");
  ASSERT_EQ(d["locations"].Size(), 2u);
  EXPECT_EQ(std::string(d["locations"][1].GetString()), "us-east");
}

TEST(webhook_json, the_body_is_the_hosts_event_text_when_it_has_one) {
  event e = make_event("shop", "incident_opened", 1);
  e.json = "{\"v\":1,\"from\":\"the host\"}";
  EXPECT_EQ(body_for(body_format::json, e), e.json);
  e.json = "{\"v\":1,\"m\":\"bad \xff byte\"}";
  EXPECT_EQ(body_for(body_format::json, e), "{\"v\":1,\"m\":\"bad \xEF\xBF\xBD byte\"}");
  e.json.clear();
  EXPECT_EQ(body_for(body_format::json, e), encode_json(e));
}

TEST(webhook_slack, body_is_text_and_blocks_with_mrkdwn_escaped) {
  event e = make_event("shop", "incident_opened", 1);
  e.error_message = "<!channel> & <@U123> broke it";
  const rapidjson::Document d = parse(slack_body(e));
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d.MemberCount(), 2u);  // text and blocks only
  ASSERT_TRUE(d["text"].IsString());
  EXPECT_NE(std::string(d["text"].GetString()).find("shop is DOWN"), std::string::npos);
  const auto& blocks = d["blocks"];
  ASSERT_TRUE(blocks.IsArray());
  ASSERT_EQ(blocks.Size(), 2u);
  EXPECT_EQ(std::string(blocks[0]["type"].GetString()), "section");
  EXPECT_EQ(std::string(blocks[0]["text"]["type"].GetString()), "mrkdwn");
  const std::string section = blocks[0]["text"]["text"].GetString();
  EXPECT_LE(section.size(), 3000u);
  EXPECT_NE(section.find("&lt;!channel&gt; &amp; &lt;@U123&gt; broke it"), std::string::npos)
      << section;
  EXPECT_EQ(section.find("<!channel>"), std::string::npos);
  EXPECT_NE(section.find("eu-west, us-east"), std::string::npos);
  EXPECT_EQ(std::string(blocks[1]["type"].GetString()), "context");
  ASSERT_TRUE(blocks[1]["elements"].IsArray());
  EXPECT_EQ(std::string(blocks[1]["elements"][0]["type"].GetString()), "mrkdwn");
  EXPECT_NE(std::string(blocks[1]["elements"][0]["text"].GetString()).find(e.event_id),
            std::string::npos);

  const rapidjson::Document r = parse(slack_body(make_event("shop", "incident_resolved", 7)));
  EXPECT_NE(std::string(r["text"].GetString()).find("shop is UP after 10s"), std::string::npos);
}

TEST(webhook_slack, long_values_stay_within_the_section_limit) {
  event e = make_event(std::string(5000, 'c'), "incident_opened", 1);
  e.error_message = std::string(20000, '<');  // each becomes 4 characters once escaped
  e.target = std::string(5000, 't');
  const rapidjson::Document d = parse(slack_body(e));
  EXPECT_LE(chars(d["blocks"][0]["text"]["text"].GetString()), 3000u);
  EXPECT_LE(chars(d["text"].GetString()), 3000u);
}

TEST(webhook_discord, body_is_content_and_one_embed_within_limits) {
  event e = make_event("shop", "incident_opened", 1);
  e.error_message = "@everyone " + std::string(6000, 'x');
  const rapidjson::Document d = parse(discord_body(e));
  ASSERT_TRUE(d["content"].IsString());
  EXPECT_LE(d["content"].GetStringLength(), 2000u);
  EXPECT_NE(std::string(d["content"].GetString()).find("shop is DOWN"), std::string::npos);
  ASSERT_TRUE(d["embeds"].IsArray());
  ASSERT_EQ(d["embeds"].Size(), 1u);
  const auto& embed = d["embeds"][0];
  EXPECT_LE(embed["title"].GetStringLength(), 256u);
  EXPECT_LE(embed["description"].GetStringLength(), 4096u);
  EXPECT_TRUE(embed["color"].IsInt());
  EXPECT_EQ(embed["color"].GetInt(), 0xE74C3C);
  EXPECT_EQ(std::string(embed["timestamp"].GetString()), "2026-12-02T18:00:04.000Z");
  ASSERT_TRUE(embed["fields"].IsArray());
  EXPECT_LE(embed["fields"].Size(), 25u);
  for (const auto& f : embed["fields"].GetArray()) {
    EXPECT_GT(f["name"].GetStringLength(), 0u);
    EXPECT_LE(f["name"].GetStringLength(), 256u);
    EXPECT_GT(f["value"].GetStringLength(), 0u);
    EXPECT_LE(f["value"].GetStringLength(), 1024u);
    EXPECT_TRUE(f["inline"].IsBool());
  }
  EXPECT_LE(embed["footer"]["text"].GetStringLength(), 2048u);
  // Nothing in a check's name or an error message can ping a channel.
  ASSERT_TRUE(d["allowed_mentions"]["parse"].IsArray());
  EXPECT_EQ(d["allowed_mentions"]["parse"].Size(), 0u);

  const rapidjson::Document r = parse(discord_body(make_event("shop", "incident_resolved", 2)));
  EXPECT_EQ(r["embeds"][0]["color"].GetInt(), 0x2ECC71);
  EXPECT_FALSE(r["embeds"][0].HasMember("description"));
}

TEST(webhook_signature, is_hmac_sha256_of_time_dot_body) {
  const std::string body = encode_json(make_event("shop", "incident_opened", 1));
  const std::string sig = signature("s3cret", 1796234400, body);
  EXPECT_EQ(sig, "t=1796234400,sha256=" + evp_hmac_hex("s3cret", "1796234400." + body));
  // RFC 4231 test case 2 pins the HMAC itself (key "Jefe").
  EXPECT_EQ(evp_hmac_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(webhook_text, invalid_utf8_is_replaced_and_cuts_keep_whole_characters) {
  EXPECT_EQ(clean_utf8("ok"), "ok");
  EXPECT_EQ(clean_utf8("a\xff"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(clean_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(clean_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(clean_utf8("héllo wörld", 5), "héll…");
  EXPECT_EQ(clean_utf8("héllo", 5), "héllo");
  EXPECT_EQ(iso_time(test::dec_2_2026_18h), "2026-12-02T18:00:00.000Z");
}

}  // namespace
}  // namespace isitup::webhook
