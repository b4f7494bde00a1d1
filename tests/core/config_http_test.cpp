// agent.http and the per-check group: what is read, and where a mistake is reported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isitup/core/config.hpp>

namespace isitup::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string load_error(const std::string& yaml) {
  try {
    load_string(yaml, "t.yml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(config_http, off_unless_listen_is_given) {
  EXPECT_FALSE(load_string("agent: {id: a}\n", "t.yml").http.enabled);
}

TEST(config_http, every_key_is_read) {
  const agent a = load_string(
      "agent:\n  id: a\n  http:\n    listen: \"127.0.0.1:9110\"\n    auth: {token: abc.DEF-1}\n"
      "    per_check_metrics: true\n    per_check_metrics_limit: 50\n"
      "checks:\n  - {target: \"https://example.com/\", group: Shop}\n",
      "t.yml");
  EXPECT_TRUE(a.http.enabled);
  EXPECT_EQ(a.http.host, "127.0.0.1");
  EXPECT_EQ(a.http.port, 9110);
  EXPECT_TRUE(a.http.loopback);
  EXPECT_EQ(a.http.token, "abc.DEF-1");
  EXPECT_TRUE(a.http.per_check_metrics);
  EXPECT_EQ(a.http.per_check_metrics_limit, 50u);
  EXPECT_EQ(a.http.where.line, 4);
  EXPECT_EQ(a.checks.at(0).group, "Shop");
}

TEST(config_http, addresses) {
  auto http = [](const std::string& listen) {
    return load_string("agent: {id: a, http: {listen: \"" + listen + "\"}}\n", "t.yml").http;
  };
  EXPECT_FALSE(http("0.0.0.0:80").loopback);
  EXPECT_FALSE(http(":9110").loopback);
  EXPECT_EQ(http(":9110").host, "0.0.0.0");
  EXPECT_TRUE(http("127.0.0.2:1").loopback);
  EXPECT_TRUE(http("localhost:0").loopback);
  EXPECT_EQ(http("[::1]:9110").host, "::1");
  EXPECT_TRUE(http("[::1]:9110").loopback);
  EXPECT_FALSE(http("[::]:9110").loopback);
  EXPECT_EQ(http("10.1.2.3:9110").per_check_metrics_limit, 10000u);
}

TEST(config_http, mistakes_name_their_place) {
  struct error_case {
    const char* yaml;
    const char* where;
    const char* message;
  };
  const error_case cases[] = {
      {"agent:\n  http: {listen: \"127.0.0.1\"}\n", "t.yml:2:18", "no port"},
      {"agent:\n  http: {listen: \"127.0.0.1:70000\"}\n", "t.yml:2:18", "0 to 65535"},
      {"agent:\n  http: {listen: \"example.com:80\"}\n", "t.yml:2:18", "not an IPv4 address"},
      {"agent:\n  http: {listen: \"[zz]:80\"}\n", "t.yml:2:18", "not an IPv6 address"},
      {"agent:\n  http: {auth: {token: x}}\n", "t.yml:2:9", "missing required key 'listen'"},
      {"agent:\n  http: {listen: \":1\", lisen: 2}\n", "t.yml:2:24", "unknown key 'lisen'"},
      {"agent:\n  http: {listen: \":1\", auth: {token: \"\"}}\n", "t.yml:2:38",
       "must not be empty"},
      {"agent:\n  http: {listen: \":1\", auth: {}}\n", "t.yml:2:30",
       "missing required key 'token'"},
      {"agent:\n  http: {listen: \":1\", per_check_metrics: maybe}\n", "t.yml:2:43",
       "expected true or false"},
      {"agent:\n  http: {listen: \":1\", per_check_metrics_limit: 0}\n", "t.yml:2:49",
       "from 1 to 1000000"},
      {"checks:\n  - {target: \"https://e.com/\", group: \"\"}\n", "t.yml:2:39",
       "must not be empty"},
  };
  for (const auto& c : cases) {
    const std::string got = load_error(c.yaml);
    EXPECT_THAT(got, HasSubstr(std::string(c.where) + ": ")) << c.yaml;
    EXPECT_THAT(got, HasSubstr(c.message)) << c.yaml;
  }
}

TEST(config_http, a_bad_token_is_refused_without_being_repeated) {
  const std::string got =
      load_error("agent:\n  http: {listen: \":1\", auth: {token: \"secret with space\"}}\n");
  EXPECT_THAT(got, HasSubstr("t.yml:2:"));
  EXPECT_THAT(got, HasSubstr("space or a control character"));
  EXPECT_THAT(got, Not(HasSubstr("secret")));
}

}  // namespace
}  // namespace isitup::config
