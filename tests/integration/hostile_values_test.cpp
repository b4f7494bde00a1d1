// Values that would break things downstream, through the built isitup-agent: odd HTTP
// statuses and heads, credentials in targets, long values in errors. Real processes and
// servers on 127.0.0.1.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include <isitup/core/codec.hpp>
#include "http_target_server.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using isitup::test::run;
using isitup::test::temp_dir;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

std::vector<isitup::record> results(const std::string& out) {
  std::vector<isitup::record> rs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    isitup::record r;
    std::string error;
    EXPECT_TRUE(isitup::codec::decode(line, r, error)) << error << " in line: " << line;
    rs.push_back(r);
  }
  return rs;
}

// Runs one http_check of `target` with `engine` once; its result.
isitup::record check_once(const std::string& target, const std::string& engine,
                          std::string* err = nullptr) {
  temp_dir dir;
  const std::string cfg =
      dir.write("agent.yml", "agent: {id: a}\nchecks:\n  - name: c\n    target: \"" + target +
                                 "\"\n    timeout: 3s\n    options: {engine: " + engine + "}\n");
  const auto r = run({agent_bin, "-c", cfg, "-p", plugin_dir, "--once"}, 15s);
  if (err) *err = r.err;
  const auto rs = results(r.out);
  EXPECT_EQ(rs.size(), 1u) << r.out << r.err;
  return rs.empty() ? isitup::record{} : rs[0];
}

TEST(hostile_values, statuses_outside_100_to_599_are_protocol_errors_with_the_code_kept) {
  isitup::test::http_target_server server;
  for (const std::string engine : {"auto", "curl"}) {
    for (const std::string status : {"600", "999", "000", "099"}) {
      SCOPED_TRACE(engine + " " + status);
      server.set_raw_reply("HTTP/1.1 " + status +
                           " Odd\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      const isitup::record r = check_once(server.url("/"), engine);
      EXPECT_FALSE(r.up);
      EXPECT_EQ(r.error_kind, "protocol") << r.error_message;
      EXPECT_NE(r.error_kind, "internal") << r.error_message;
      // curl refuses 000 and 099 itself ("Unsupported response code"), keeping no code.
      if (engine == "auto" || std::stoi(status) >= 600) {
        EXPECT_EQ(r.http_code, std::stoi(status)) << r.error_message;
      }
    }
  }
}

TEST(hostile_values, over_large_response_heads_are_protocol_errors_on_both_engines) {
  isitup::test::http_target_server server;
  std::string head = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 4000; ++i)
    head += "X-Filler-" + std::to_string(i) + ": " + std::string(100, 'x') + "\r\n";
  server.set_raw_reply(head + "Content-Length: 2\r\nConnection: close\r\n\r\nok");
  for (const std::string engine : {"auto", "curl"}) {
    SCOPED_TRACE(engine);
    const isitup::record r = check_once(server.url("/"), engine);
    EXPECT_FALSE(r.up);
    EXPECT_EQ(r.error_kind, "protocol") << r.error_message;
  }
}

TEST(hostile_values, credentials_in_targets_are_used_but_never_shown_or_keyed) {
  isitup::test::http_target_server server;
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  temp_dir dir;
  const std::string cfg =
      dir.write("agent.yml", "agent: {id: a}\ndomains:\n  - http://user:pw0pw0@" + host +
                                 "/\nchecks:\n  - target: http://tok3n@" + host + "/t\n");
  const auto r = run({agent_bin, "-c", cfg, "-p", plugin_dir, "--once"}, 15s);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  const auto rs = results(r.out);
  ASSERT_EQ(rs.size(), 2u) << r.out;
  EXPECT_EQ(rs[0].check, "http://" + host + "/");
  EXPECT_EQ(rs[0].target, "http://user:***@" + host + "/");
  EXPECT_EQ(rs[1].check, "http://" + host + "/t");
  EXPECT_EQ(rs[1].target, "http://***@" + host + "/t");
  for (const std::string secret : {"pw0pw0", "tok3n"}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
  }
  // The check itself still sends them: the last request was the token's.
  EXPECT_NE(server.last_request().find("Authorization: Basic dG9rM246"), std::string::npos)
      << server.last_request();

  // Nor do they show in a config error about the target.
  const std::string bad = dir.write(
      "bad.yml", "agent: {id: a}\nchecks:\n  - target: \"http://bob:s3cr3t@127.0.0.1:99999/\"\n");
  const auto e = run({agent_bin, "--check-config", bad, "-p", plugin_dir}, 15s);
  EXPECT_EQ(e.code, 2) << e.err;
  EXPECT_EQ(e.err.find("s3cr3t"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("bob:***@"), std::string::npos) << e.err;
  const std::string bad_domain =
      dir.write("bad_domain.yml", "agent: {id: a}\ndomains: [\"http://bob:s3cr3t@h:99999/\"]\n");
  const auto d = run({agent_bin, "--check-config", bad_domain, "-p", plugin_dir}, 15s);
  EXPECT_EQ(d.code, 2) << d.err;
  EXPECT_EQ(d.err.find("s3cr3t"), std::string::npos) << d.err;
  EXPECT_NE(d.err.find("bob:***@"), std::string::npos) << d.err;
}

TEST(hostile_values, long_values_in_errors_are_cut_and_the_reason_kept) {
  temp_dir dir;
  const std::string long_name(8000, 'n');
  const std::string long_path(8000, 'p');
  const std::string cfg = dir.write(
      "agent.yml", "agent: {id: a}\nchecks:\n  - name: " + long_name +
                       "\n    target: http://127.0.0.1:1/\n    options: {method: \"get me\"}\n");
  auto r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 15s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("is not an HTTP method"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("n\u2026'"), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 600u) << r.err;

  const std::string target = dir.write(
      "target.yml", "agent: {id: a}\nchecks:\n  - {name: t, target: \"http://127.0.0.1:99999/" +
                        long_path + "\"}\n");
  r = run({agent_bin, "--check-config", target, "-p", plugin_dir}, 15s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("is not a valid URL: "), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 600u) << r.err;
}

TEST(hostile_values, a_malformed_postgresql_uri_does_not_print_its_password) {
  temp_dir dir;
  for (const std::string connection :
       {"postgresql://bob:s3cr3t@[::1/db", "postgresql://bob:s3cr3t@[]/db",
        "postgresql://bob@[::1/db?password=s3cr3t"}) {
    SCOPED_TRACE(connection);
    const std::string cfg = dir.write("agent.yml",
                                      "agent: {id: a}\nsinks:\n  - plugin: pg_sink\n    options: "
                                      "{connection: \"" +
                                          connection + "\"}\n");
    const auto r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 15s);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("agent.yml:4:27: sink 'pg_sink': connection: "), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("***"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("s3cr3t"), std::string::npos) << r.err;
  }
}

}  // namespace
