// /api/v1/checks through the real binary: answers follow core/http_api.schema.json (RapidJSON's
// validator), states and incidents are right, and a target's password never shows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include "http_support.hpp"
#include "listener.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string password = "hunter2-pass-word";

// "" when `json` is valid against the API's schema, else where and why not.
std::string schema_errors(const std::string& json) {
  static const std::string schema_text =
      isitup::test::read_file(std::string(ISITUP_SOURCE_DIR) + "/core/http_api.schema.json");
  rapidjson::Document sd;
  sd.Parse(schema_text.c_str());
  if (sd.HasParseError()) return "http_api.schema.json does not parse";
  const rapidjson::SchemaDocument schema(sd);
  rapidjson::SchemaValidator validator(schema);
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError()) return "not JSON: " + json;
  if (d.Accept(validator)) return {};
  rapidjson::StringBuffer where;
  validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
  return std::string("fails '") + validator.GetInvalidSchemaKeyword() + "' at " +
         where.GetString() + " in " + json;
}

std::string text(const rapidjson::Value& v) {
  return v.IsString() ? v.GetString() : "(not a string)";
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  return d;
}

TEST(http_api, checks_follow_the_schema_with_state_incident_and_no_password) {
  isitup::test::tcp_listener open;
  const int closed_port = isitup::test::unused_port();
  isitup::test::http_agent agent(
      "agent: {id: api1, location: here, http: {listen: \"127.0.0.1:0\"}}\n"
      "defaults: {interval: 200ms, timeout: 1s, alert: {failure_threshold: 2}}\n"
      "checks:\n"
      "  - {name: open, plugin: tcp_check, target: \"127.0.0.1:" +
      std::to_string(open.port()) +
      "\", group: Shop}\n"
      "  - {name: closed, plugin: tcp_check, target: \"127.0.0.1:" +
      std::to_string(closed_port) +
      "\"}\n"
      "  - {name: secret, target: \"http://user:" +
      password + "@127.0.0.1:" + std::to_string(closed_port) +
      "/\"}\n"
      "  - {target: \"http://user:" +
      password + "@127.0.0.1:" + std::to_string(closed_port) + "/q?a=1&b=%2F\"}\n");

  rapidjson::Document list;
  ASSERT_TRUE(isitup::test::eventually([&] {
    const auto a = agent.get("/api/v1/checks");
    list = parse(a.body);
    if (a.status != 200 || !list.IsObject()) return false;
    for (const auto& c : list["checks"].GetArray())
      if (c["state"] == "unknown" || c["incident"].IsNull() != (c["name"] == "open")) return false;
    return true;
  })) << agent.port()
      << " " << agent.get("/api/v1/checks").status << " " << agent.get("/api/v1/checks").body
      << agent.process().err();
  const auto all = agent.get("/api/v1/checks");
  EXPECT_EQ(schema_errors(all.body), "");
  list = parse(all.body);
  EXPECT_EQ(list["agent"], "api1");
  EXPECT_EQ(list["location"], "here");
  ASSERT_EQ(list["checks"].Size(), 4u);
  const auto& open_check = list["checks"][0];
  EXPECT_EQ(open_check["name"], "open");
  EXPECT_EQ(open_check["group"], "Shop");
  EXPECT_EQ(open_check["state"], "up");
  EXPECT_EQ(open_check["interval_ms"].GetInt64(), 200);
  EXPECT_TRUE(open_check["last_result"]["up"].GetBool());
  const auto& closed_check = list["checks"][1];
  EXPECT_EQ(closed_check["state"], "down");
  EXPECT_TRUE(closed_check["group"].IsNull());
  EXPECT_EQ(text(closed_check["incident"]["error_kind"]),
            text(closed_check["last_result"]["error_kind"]));
  EXPECT_GT(closed_check["state_since_ms"].GetInt64(), 0);
  EXPECT_EQ(text(list["checks"][2]["target"]),
            "http://user:***@127.0.0.1:" + std::to_string(closed_port) + "/");

  const auto one = agent.get("/api/v1/checks/closed?last=2");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(schema_errors(one.body), "");
  const auto d = parse(one.body);
  ASSERT_TRUE(d.IsObject() && d.HasMember("results")) << one.body;
  EXPECT_EQ(d["results"].Size(), 2u);
  EXPECT_FALSE(d["results"][1]["up"].GetBool());
  EXPECT_LT(d["results"][0]["scheduled_at_ms"].GetInt64(),
            d["results"][1]["scheduled_at_ms"].GetInt64());
  EXPECT_EQ(d["check"]["name"], "closed");

  // A check named after its URL (no name given) is found with its name percent-encoded.
  const auto by_url = agent.get("/api/v1/checks/http%3A%2F%2F127.0.0.1%3A" +
                                std::to_string(closed_port) + "%2Fq%3Fa%3D1%26b%3D%252F?last=1");
  EXPECT_EQ(by_url.status, 200) << by_url.body;
  EXPECT_THAT(by_url.body, HasSubstr("\"name\":\"http://127.0.0.1:" + std::to_string(closed_port) +
                                     "/q?a=1&b=%2F\""));
  EXPECT_THAT(by_url.body, Not(HasSubstr(password)));

  for (const char* bad : {"/api/v1/checks/nope", "/api/v1/checks/open?last=x",
                          "/api/v1/checks/open?last=0", "/api/v1/checks/open?last=-1"}) {
    const auto a = agent.get(bad);
    EXPECT_TRUE(a.status == 404 || a.status == 400) << bad << ": " << a.status;
    EXPECT_EQ(schema_errors(a.body), "") << bad;
    EXPECT_THAT(a.content_type, HasSubstr("application/json")) << bad;
  }

  for (const char* path :
       {"/api/v1/checks", "/api/v1/checks/secret", "/api/v1/checks/secret?last=1000", "/metrics",
        "/", "/readyz", "/healthz"})
    EXPECT_THAT(agent.get(path).body, Not(HasSubstr(password))) << path;
  EXPECT_EQ(agent.stop(), 0);
  EXPECT_THAT(agent.process().err(), Not(HasSubstr(password)));
}

TEST(http_api, the_readme_shows_the_schema_the_answers_are_checked_against) {
  const std::string schema =
      isitup::test::read_file(std::string(ISITUP_SOURCE_DIR) + "/core/http_api.schema.json");
  const std::string readme = isitup::test::read_file(std::string(ISITUP_SOURCE_DIR) + "/README.md");
  ASSERT_GT(schema.size(), 1000u);
  EXPECT_NE(readme.find(schema), std::string::npos)
      << "README.md's JSON Schema differs from core/http_api.schema.json";
}

}  // namespace
