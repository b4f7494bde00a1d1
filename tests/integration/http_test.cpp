// The agent's HTTP interface through the real binary: health, auth, config errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <thread>

#include "http_support.hpp"
#include "kafka_broker.hpp"
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

namespace {

TEST(http, metrics_parse_grow_and_cap_the_per_check_series) {
  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(
      config(open.port(), ", per_check_metrics: true, per_check_metrics_limit: 1"));
  isitup::test::temp_dir dir;
  ASSERT_TRUE(isitup::test::eventually([&] {
    return agent.get("/metrics", token).body.find("name=\"lines\"") != std::string::npos;
  }));
  const auto first = agent.get("/metrics", token);
  ASSERT_EQ(first.status, 200);
  EXPECT_THAT(first.content_type, HasSubstr("text/plain; version=0.0.4"));
  const std::string first_file = dir.write("first.txt", first.body);
  std::string second_file;
  // Runs every 200 ms: the second scrape sees more of them.
  ASSERT_TRUE(isitup::test::eventually([&] {
    const auto second = agent.get("/metrics", token);
    second_file = dir.write("second.txt", second.body);
    return second.body.find("isitup_check_up") != std::string::npos && second.body != first.body;
  }));
  std::this_thread::sleep_for(500ms);
  second_file = dir.write("second.txt", agent.get("/metrics", token).body);
  const auto r = isitup::test::run(
      {"/usr/bin/python3", std::string(ISITUP_SOURCE_DIR) + "/tests/integration/check_metrics.py",
       first_file, second_file, "1"},
      30s);
  EXPECT_EQ(r.code, 0) << r.err << isitup::test::read_file(second_file);
  EXPECT_EQ(r.out, "1\n") << r.err;  // two checks, one series: the cap holds
  const std::string text = isitup::test::read_file(second_file);
  EXPECT_THAT(text, HasSubstr("isitup_per_check_metrics_omitted 1\n"));
  EXPECT_THAT(text, HasSubstr("isitup_results_total{plugin=\"tcp_check\",result=\"down\"}"));
  EXPECT_EQ(agent.stop(), 0);
}

TEST(http, readyz_says_not_ready_while_a_sink_retries_its_batch) {
  // faulty_sink never completes its first write: past pipeline.sink_timeout it is sent again
  // (after 100 ms), and then taken.
  isitup::test::temp_dir dir;
  const auto plugins = dir / "plugins";
  std::filesystem::create_directory(plugins);
  std::filesystem::copy_file(std::string(ISITUP_TEST_PLUGIN_DIR) + "/faulty_sink.so",
                             plugins / "faulty_sink.so");
  std::filesystem::copy_file(std::string(ISITUP_PLUGIN_DIR) + "/tcp_check.so",
                             plugins / "tcp_check.so");
  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(
      "agent: {id: r1, http: {listen: \"127.0.0.1:0\"}}\n"
      "defaults: {interval: 100ms, timeout: 1s}\n"
      "pipeline: {batch_delay: 50ms, sink_timeout: 700ms}\n"
      "checks: [{name: c, plugin: tcp_check, target: \"127.0.0.1:" +
          std::to_string(open.port()) +
          "\"}]\n"
          "sinks: [{name: flaky, plugin: faulty_sink, options: {first: never}}]\n",
      plugins.string());
  std::string not_ready;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (not_ready.empty() && std::chrono::steady_clock::now() < until) {
    const auto r = agent.get("/readyz");
    if (r.status == 503) not_ready = r.body;
  }
  EXPECT_THAT(not_ready, HasSubstr("sinks retrying their last batch: flaky"));
  EXPECT_TRUE(isitup::test::eventually([&] { return agent.get("/readyz").status == 200; }));
  EXPECT_THAT(agent.get("/metrics").body,
              HasSubstr("isitup_sink_retries_total{sink=\"flaky\",plugin=\"faulty_sink\"} 1\n"));
  EXPECT_EQ(agent.stop(), 0);
}

TEST(http, reloads_are_counted_with_the_time_of_the_last_applied_one) {
  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(config(open.port()));
  auto value = [&](const std::string& series) {
    const std::string text = agent.get("/metrics", token).body;
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
  };
  const std::string ok = "isitup_config_reloads_total{result=\"success\"}";
  const std::string failed = "isitup_config_reloads_total{result=\"failure\"}";
  const std::string when = "isitup_config_last_reload_success_timestamp_seconds";
  EXPECT_EQ(value(ok), 0);
  const double started = value(when);
  EXPECT_GT(started, 1.7e9);
  std::this_thread::sleep_for(20ms);
  agent.rewrite_config(config(open.port()) +
                       "  - {name: more, plugin: tcp_check, target: \"127.0.0.1:" +
                       std::to_string(open.port()) + "\"}\n");
  agent.process().signal(SIGHUP);
  EXPECT_TRUE(isitup::test::eventually([&] { return value(ok) == 1; }));
  EXPECT_GT(value(when), started);
  agent.rewrite_config("checks: [{interval: soon}]\n");
  agent.process().signal(SIGHUP);
  EXPECT_TRUE(isitup::test::eventually([&] { return value(failed) == 1; }));
  EXPECT_EQ(value(ok), 1);
  EXPECT_THAT(agent.get("/api/v1/checks", token).body, HasSubstr("\"name\":\"more\""));
  EXPECT_EQ(agent.stop(), 0);
}

}  // namespace

TEST(http, readyz_on_a_writer_waits_for_a_partition_assignment) {
  const std::string fast =
      R"({reconnect.backoff.max.ms: "500", session.timeout.ms: "3000", heartbeat.interval.ms: "500"})";
  auto writer = [&](const std::string& brokers) {
    return "agent: {id: w1, http: {listen: \"127.0.0.1:0\"}}\n"
           "sources: [{plugin: kafka_sink, options: {brokers: \"" +
           brokers + "\", topic: results, group: writers, properties: " + fast +
           "}}]\n"
           "sinks: [{plugin: stdout_sink}]\n";
  };
  // No broker to join: never assigned, never ready, and /readyz says why.
  isitup::test::http_agent alone(writer("127.0.0.1:1"));
  isitup::test::http_answer r;
  EXPECT_FALSE(
      isitup::test::eventually([&] { return (r = alone.get("/readyz")).status == 200; }, 2s));
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("no partition assignment yet for source kafka_sink.source0"));
  EXPECT_EQ(alone.get("/healthz").status, 200);
  EXPECT_EQ(alone.stop(), 0);
  // With the group: ready once assigned.
  isitup::test::kafka_broker broker(isitup::test::kafka_broker_options{1, {"results:1"}});
  isitup::test::http_agent joined(writer(broker.bootstrap()));
  EXPECT_TRUE(isitup::test::eventually([&] { return joined.get("/readyz").status == 200; }, 30s))
      << joined.process().err();
  EXPECT_THAT(joined.process().err(), HasSubstr("assigned partitions [0] of results"));
  EXPECT_EQ(joined.stop(), 0);
}
