// The agent's HTTP interface through the real binary: health, auth, config errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "http_support.hpp"
#include "listener.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string token = "t0ken-for-the-http-test";

std::string config(int port, const std::string& http_extra = "") {
  return "agent:\n  id: web1\n  http: {listen: \"127.0.0.1:0\", auth: {token: " + token + "}" +
         http_extra +
         "}\n"
         "defaults: {interval: 200ms, timeout: 1s}\n"
         "checks:\n"
         "  - {name: open, plugin: tcp_check, target: \"127.0.0.1:" +
         std::to_string(port) +
         "\"}\n"
         "  - {name: closed, plugin: tcp_check, target: \"127.0.0.1:" +
         std::to_string(isitup::test::unused_port()) + "\"}\n";
}

TEST(http, every_path_but_healthz_needs_the_token) {
  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(config(open.port()));
  const auto health = agent.get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  for (const char* path :
       {"/readyz", "/metrics", "/api/v1/checks", "/api/v1/checks/open", "/", "/nothing-here"}) {
    const auto without = agent.get(path);
    EXPECT_EQ(without.status, 401) << path;
    EXPECT_THAT(without.body, HasSubstr("\"status\":401")) << path;
    EXPECT_EQ(agent.get(path, "wrong-token").status, 401) << path;
    EXPECT_EQ(agent.get(path, token + "x").status, 401) << path;
    EXPECT_EQ(agent.get(path, token.substr(1)).status, 401) << path;
  }
  EXPECT_TRUE(isitup::test::eventually([&] { return agent.get("/readyz", token).status == 200; }));
  EXPECT_EQ(agent.get("/nothing-here", token).status, 404);
  EXPECT_THAT(agent.get("/nothing-here", token).content_type, HasSubstr("application/json"));
  EXPECT_EQ(agent.stop(), 0);
  // The token is a secret: never in the log.
  EXPECT_THAT(agent.process().err(), Not(HasSubstr(token)));
  EXPECT_THAT(agent.process().out(), Not(HasSubstr(token)));
}

TEST(http, a_port_in_use_is_a_config_error_at_listen) {
  isitup::test::tcp_listener taken;
  isitup::test::temp_dir dir;
  const std::string path = dir.write(
      "agent.yml", "agent:\n  http:\n    listen: \"127.0.0.1:" + std::to_string(taken.port()) +
                       "\"\nchecks: [{plugin: tcp_check, target: \"127.0.0.1:1\"}]\n");
  const auto r = isitup::test::run(
      {std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent", "-c", path, "-p", ISITUP_PLUGIN_DIR},
      10s);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("agent.yml:3:13: agent.http.listen: cannot listen on 127.0.0.1:"));
}

}  // namespace
