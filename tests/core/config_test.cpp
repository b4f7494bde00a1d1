#include <isitup/core/config.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "process.hpp"
#include "scoped_env.hpp"

namespace isitup::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// what() of the config_error that loading `yaml` throws, or "(no error)".
std::string load_error(const std::string& yaml, const std::string& file = "t.yml") {
  try {
    load_string(yaml, file);
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

struct error_case {
  const char* name;
  const char* yaml;
  const char* where;    // "t.yml:LINE:COL"
  const char* message;  // a part of the message
};

void expect_errors(const std::vector<error_case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string error = load_error(c.yaml);
    EXPECT_THAT(error, StartsWith(std::string(c.where) + ": "));
    EXPECT_THAT(error, HasSubstr(c.message));
  }
}

using isitup::test::temp_dir;

option_schema opt(std::string name, option_type type, bool required = false,
                  std::optional<std::string> default_yaml = std::nullopt,
                  std::string description = "") {
  return {std::move(name), type, required, std::move(default_yaml), std::move(description)};
}

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

TEST(config_test, every_location_in_one_file_shares_its_name) {
  const agent a = load_string(
      "domains: [a.example, b.example]\n"
      "checks:\n"
      "  - {name: c, target: c.example:443, plugin: tcp_check, options: {tls: false}}\n",
      "shared/name/config.yml");
  ASSERT_EQ(a.checks.size(), 3u);
  const std::string* name = &a.checks[0].where.file.str();
  EXPECT_EQ(*name, "shared/name/config.yml");
  for (const check& c : a.checks) {
    EXPECT_EQ(&c.where.file.str(), name) << c.name;
    EXPECT_EQ(&c.options.where().file.str(), name) << c.name;
  }
  EXPECT_EQ(to_string(a.checks[2].where), "shared/name/config.yml:3:5");
}

TEST(config_test, bare_config_gets_every_default) {
  const agent a = load_string("domains: [example.com]\n", "t.yml");
  EXPECT_EQ(a.file, "t.yml");
  EXPECT_EQ(a.id, host_name());
  EXPECT_FALSE(a.id.empty());
  EXPECT_EQ(a.location, "");
  EXPECT_EQ(a.interval_ms, 30000);
  EXPECT_EQ(a.timeout_ms, 5000);
  EXPECT_EQ(a.max_in_flight, 1000);
  EXPECT_EQ(a.queue_size, 10000u);
  EXPECT_EQ(a.batch_size, 500u);
  EXPECT_EQ(a.batch_delay_ms, 200);
  EXPECT_EQ(a.shutdown_timeout_ms, 10000);
  ASSERT_EQ(a.checks.size(), 1u);
  const check& c = a.checks[0];
  EXPECT_EQ(c.name, "example.com");
  EXPECT_EQ(c.plugin, "http_check");
  EXPECT_EQ(c.target, "https://example.com/");
  EXPECT_EQ(c.interval_ms, 30000);
  EXPECT_EQ(c.timeout_ms, 5000);
  EXPECT_EQ(c.options.node(), nullptr);
  EXPECT_EQ(to_string(c.where), "t.yml:1:11");
  ASSERT_EQ(a.sinks.size(), 1u);
  EXPECT_EQ(a.sinks[0].plugin, "stdout_sink");
  EXPECT_EQ(a.sinks[0].options.node(), nullptr);
  EXPECT_TRUE(a.sources.empty());

  const agent empty_sinks = load_string("sinks: []\nsources: []\n", "t.yml");
  ASSERT_EQ(empty_sinks.sinks.size(), 1u);
  EXPECT_EQ(empty_sinks.sinks[0].plugin, "stdout_sink");
  EXPECT_TRUE(empty_sinks.checks.empty());
}

TEST(config_test, every_key_is_read) {
  const agent a = load_string(R"(agent:
  id: probe-1
  location: eu-west
  max_in_flight: 64
  max_in_flight_per_plugin: {tcp_check: 8, http_check: 40}
defaults:
  interval: 1m
  timeout: 1500ms
pipeline:
  queue_size: 2000
  batch_size: 100
  batch_delay: 0ms
  shutdown_timeout: 1m30s
checks:
  - target: https://a.example/
  - name: tcp
    plugin: tcp_check
    target: db.example:5432
    interval: 10s
    timeout: 2s
    options:
      port: 5432
sinks:
  - plugin: stdout_sink
  - plugin: pg_sink
    options: {table: results}
sources:
  - plugin: kafka_sink
)",
                              "t.yml");
  EXPECT_EQ(a.id, "probe-1");
  EXPECT_EQ(a.location, "eu-west");
  EXPECT_EQ(a.max_in_flight, 64);
  EXPECT_EQ(a.max_in_flight_per_plugin,
            (std::map<std::string, int>{{"http_check", 40}, {"tcp_check", 8}}));
  EXPECT_EQ(a.interval_ms, 60000);
  EXPECT_EQ(a.timeout_ms, 1500);
  EXPECT_EQ(a.queue_size, 2000u);
  EXPECT_EQ(a.batch_size, 100u);
  EXPECT_EQ(a.batch_delay_ms, 0);
  EXPECT_EQ(a.shutdown_timeout_ms, 90000);
  ASSERT_EQ(a.checks.size(), 2u);
  EXPECT_EQ(a.checks[0].name, "https://a.example/");
  EXPECT_EQ(a.checks[0].plugin, "http_check");
  EXPECT_EQ(a.checks[0].interval_ms, 60000);
  EXPECT_EQ(a.checks[0].timeout_ms, 1500);
  EXPECT_EQ(to_string(a.checks[0].where), "t.yml:15:5");
  EXPECT_EQ(to_string(a.checks[0].options.where()), "t.yml:15:5");  // owner when absent
  EXPECT_EQ(a.checks[1].name, "tcp");
  EXPECT_EQ(a.checks[1].plugin, "tcp_check");
  EXPECT_EQ(a.checks[1].target, "db.example:5432");
  EXPECT_EQ(a.checks[1].interval_ms, 10000);
  EXPECT_EQ(a.checks[1].timeout_ms, 2000);
  ASSERT_NE(a.checks[1].options.node(), nullptr);
  EXPECT_EQ(to_string(a.checks[1].options.where()), "t.yml:22:7");
  ASSERT_EQ(a.sinks.size(), 2u);
  EXPECT_EQ(a.sinks[0].plugin, "stdout_sink");
  EXPECT_EQ(a.sinks[1].plugin, "pg_sink");
  EXPECT_EQ(to_string(a.sinks[1].where), "t.yml:25:5");
  const option_values sink_options =
      validate_options(a.sinks[1].options, {opt("table", option_type::string)}, "sinks[1]");
  EXPECT_EQ(sink_options.find("table")->text, "results");
  ASSERT_EQ(a.sources.size(), 1u);
  EXPECT_EQ(a.sources[0].plugin, "kafka_sink");
}

TEST(config_test, design_example_loads_from_file_with_domains_file_merged_in_order) {
  const std::string dir = std::string(ISITUP_SOURCE_DIR) + "/tests/core/data/config";
  const agent a = load_file(dir + "/full.yml");
  EXPECT_EQ(a.id, "probe-eu-1");
  EXPECT_EQ(a.location, "eu-west");
  std::vector<std::string> names, targets, wheres;
  for (const auto& c : a.checks) {
    names.push_back(c.name);
    targets.push_back(c.target);
    wheres.push_back(to_string(c.where));
  }
  EXPECT_THAT(names, ::testing::ElementsAre("example.com", "http://example.org/health",
                                            "example.net", "https://status.example.net/ping",
                                            "www.example.com:8443", "shop"));
  EXPECT_THAT(targets,
              ::testing::ElementsAre("https://example.com/", "http://example.org/health",
                                     "https://example.net/", "https://status.example.net/ping",
                                     "https://www.example.com:8443/", "https://shop.example.com/"));
  EXPECT_EQ(wheres[0], dir + "/full.yml:9:5");
  EXPECT_EQ(wheres[2], dir + "/domains.txt:2:1");
  EXPECT_EQ(wheres[3], dir + "/domains.txt:3:3");
  EXPECT_EQ(wheres[4], dir + "/domains.txt:5:1");
  EXPECT_EQ(wheres[5], dir + "/full.yml:13:5");
  EXPECT_EQ(a.checks[5].interval_ms, 10000);
  EXPECT_EQ(a.checks[5].timeout_ms, 5000);

  const std::vector<option_schema> check_schema = {
      opt("regex", option_type::string), opt("expect_status", option_type::list, false, "[200]")};
  const option_values check_options =
      validate_options(a.checks[5].options, check_schema, "checks[0] (http_check) options");
  EXPECT_EQ(check_options.find("regex")->text, "Add to cart");
  EXPECT_THAT(check_options.find("expect_status")->list, ::testing::ElementsAre("200"));

  ASSERT_EQ(a.sinks.size(), 1u);
  EXPECT_EQ(a.sinks[0].plugin, "kafka_sink");
  const std::vector<option_schema> sink_schema = {opt("brokers", option_type::string, true),
                                                  opt("topic", option_type::string, true)};
  const test::scoped_env brokers("ISITUP_TEST_KAFKA_BROKERS", std::nullopt);
  const option_values sink_options = validate_options(a.sinks[0].options, sink_schema, "sinks[0]");
  EXPECT_EQ(sink_options.find("brokers")->text, "localhost:9092");
  EXPECT_EQ(sink_options.find("topic")->text, "isitup.results");
  EXPECT_TRUE(a.sources.empty());
}

TEST(config_test, yaml_syntax_errors_and_bad_documents) {
  expect_errors({
      {"unclosed flow", "domains: [a.com\nchecks: []\n", "t.yml:2:7",
       "YAML syntax error: end of sequence flow not found"},
      {"bad indentation", "agent:\n  id: a\n   location: b\n", "t.yml:3:12",
       "YAML syntax error: illegal map value"},
      {"two documents", "agent: {id: a}\n---\nagent: {id: b}\n", "t.yml:2:1",
       "expected one YAML document, found 2"},
      // yaml-cpp 0.7's LoadAll never returns on these: endless empty documents.
      {"a stray comma", ",", "t.yml:1:1", "unexpected text after the document"},
      {"text after a flow mapping", "{agent: {id: a}}, b", "t.yml:1:17",
       "unexpected text after the document"},
      {"a comma line after a flow list", "[a]\n, b\n", "t.yml:2:1",
       "unexpected text after the document"},
      {"empty", "", "t.yml:1:1", "the config is empty"},
      {"only comments", "# nothing\n", "t.yml:1:1", "the config is empty"},
      {"top level list", "- a.com\n", "t.yml:1:1", "expected a mapping at the top level"},
      {"duplicate key", "agent:\n  id: a\n  id: b\n", "t.yml:3:3",
       "agent: duplicate key 'id' (first at t.yml:2:3)"},
  });
}

TEST(config_test, unknown_keys_at_every_level) {
  expect_errors({
      {"top", "agnet:\n  id: x\n", "t.yml:1:1",
       "unknown key 'agnet' at the top level (did you mean 'agent'?); valid keys: agent, "
       "defaults, pipeline, domains, domains_file, checks, sinks, sources"},
      {"agent", "agent:\n  id: x\n  region: eu\n", "t.yml:3:3",
       "unknown key 'region' in agent; valid keys: id, location, max_in_flight, "
       "max_in_flight_per_plugin, state_dir"},
      {"defaults", "defaults:\n  intervall: 5s\n", "t.yml:2:3",
       "unknown key 'intervall' in defaults (did you mean 'interval'?); valid keys: interval, "
       "timeout, alert"},
      {"pipeline", "pipeline:\n  queue: 5\n", "t.yml:2:3",
       "unknown key 'queue' in pipeline; valid keys: queue_size, batch_size, batch_delay, "
       "shutdown_timeout"},
      {"check", "checks:\n  - target: https://a/\n    url: x\n", "t.yml:3:5",
       "unknown key 'url' in checks[0]; valid keys: name, plugin, target, interval, timeout, "
       "options, alert"},
      {"sink", "sinks:\n  - plugin: stdout_sink\n    option: {}\n", "t.yml:3:5",
       "unknown key 'option' in sinks[0] (did you mean 'options'?); valid keys: name, plugin, "
       "options"},
      {"source", "sources:\n  - plugin: kafka_sink\n    topic: x\n", "t.yml:3:5",
       "unknown key 'topic' in sources[0]; valid keys: plugin, options"},
  });
}

TEST(config_test, wrong_types_say_what_was_expected) {
  expect_errors({
      {"agent list", "agent: [a]\n", "t.yml:1:8", "agent: expected a mapping, got a sequence"},
      {"id mapping", "agent:\n  id: {a: b}\n", "t.yml:2:7",
       "agent.id: expected a string, got a mapping"},
      {"domains scalar", "domains: example.com\n", "t.yml:1:10",
       "domains: expected a sequence of domains or URLs, got the scalar 'example.com'"},
      {"domain mapping", "domains:\n  - {a: b}\n", "t.yml:2:5",
       "domains[0]: expected a domain or URL, got a mapping"},
      {"checks mapping", "checks:\n  target: x\n", "t.yml:2:3",
       "checks: expected a sequence of checks, got a mapping"},
      {"check scalar", "checks:\n  - https://a/\n", "t.yml:2:5",
       "checks[0]: expected a mapping with target"},
      {"target list", "checks:\n  - target: [a]\n", "t.yml:2:13",
       "checks[0].target: expected a string, got a sequence"},
      {"options list", "checks:\n  - target: https://a/\n    options: [1]\n", "t.yml:3:14",
       "checks[0].options: expected a mapping of options, got a sequence"},
      {"sinks scalar", "sinks: stdout_sink\n", "t.yml:1:8",
       "sinks: expected a sequence of {plugin, options}"},
      {"domains_file list", "domains_file: [a]\n", "t.yml:1:15",
       "domains_file: expected a string, got a sequence"},
      {"missing target", "checks:\n  - name: x\n", "t.yml:2:5",
       "checks[0]: missing required key 'target'"},
      {"missing plugin", "sinks:\n  - options: {}\n", "t.yml:2:5",
       "sinks[0]: missing required key 'plugin'"},
      {"bad plugin name", "sinks:\n  - plugin: Kafka-Sink\n", "t.yml:2:13",
       "sinks[0].plugin: 'Kafka-Sink' is not a plugin name"},
      {"empty id", "agent:\n  id: \"\"\n", "t.yml:2:7", "agent.id: must not be empty"},
  });
}

TEST(config_test, bad_durations_and_integers) {
  expect_errors({
      {"word", "defaults:\n  interval: fast\n", "t.yml:2:13",
       "defaults.interval: expected a duration like 500ms, 30s, 5m, 1h, got 'fast'"},
      {"bare number", "checks:\n  - target: https://a/\n    interval: 10\n", "t.yml:3:15",
       "checks[0].interval: expected a duration like 500ms, 30s, 5m, 1h, got '10'"},
      {"zero timeout", "defaults:\n  timeout: 0s\n", "t.yml:2:12",
       "defaults.timeout: must be greater than 0, got '0s'"},
      {"negative delay", "pipeline:\n  batch_delay: -1s\n", "t.yml:2:16",
       "expected a duration like 500ms, 30s, 5m, 1h, got '-1s'"},
      {"zero", "agent:\n  max_in_flight: 0\n", "t.yml:2:18",
       "agent.max_in_flight: expected a positive integer, got '0'"},
      {"plugin bound zero", "agent:\n  max_in_flight_per_plugin: {tcp_check: 0}\n", "t.yml:2:41",
       "agent.max_in_flight_per_plugin.tcp_check: expected a positive integer, got '0'"},
      {"plugin bound name", "agent:\n  max_in_flight_per_plugin: {Bad-Name: 3}\n", "t.yml:2:30",
       "agent.max_in_flight_per_plugin: 'Bad-Name' is not a plugin name"},
      {"plugin bound list", "agent:\n  max_in_flight_per_plugin: [tcp_check]\n", "t.yml:2:29",
       "agent.max_in_flight_per_plugin: expected a mapping"},
      {"word size", "pipeline:\n  queue_size: ten\n", "t.yml:2:15",
       "pipeline.queue_size: expected a positive integer, got 'ten'"},
      {"fraction", "pipeline:\n  batch_size: 1.5\n", "t.yml:2:15",
       "expected a positive integer, got '1.5'"},
      {"too large", "pipeline:\n  queue_size: 3000000000\n", "t.yml:2:15",
       "pipeline.queue_size: 3000000000 is too large (at most 2147483647)"},
      {"overflow", "agent:\n  max_in_flight: 99999999999999999999\n", "t.yml:2:18",
       "expected a positive integer"},
      {"batch over queue", "pipeline:\n  queue_size: 100\n", "t.yml:2:15",
       "pipeline.batch_size (500) must not exceed pipeline.queue_size (100)"},
  });
}

TEST(config_test, durations) {
  const struct {
    const char* text;
    std::optional<int64_t> ms;
  } cases[] = {
      {"500ms", 500},
      {"30s", 30000},
      {"5m", 300000},
      {"1h", 3600000},
      {"1d", 86400000},
      {"1m30s", 90000},
      {"1h30m", 5400000},
      {"1d2h3m4s5ms", 93784005},
      {"0s", 0},
      {"9223372036854775807ms", std::numeric_limits<int64_t>::max()},
      {"", std::nullopt},
      {"fast", std::nullopt},
      {"10", std::nullopt},
      {"1m30", std::nullopt},
      {"-5s", std::nullopt},
      {"+5s", std::nullopt},
      {"s", std::nullopt},
      {"ms", std::nullopt},
      {"5x", std::nullopt},
      {"5S", std::nullopt},
      {"1.5s", std::nullopt},
      {" 5s", std::nullopt},
      {"5s ", std::nullopt},
      {"1m 30s", std::nullopt},
      {"30s1m", std::nullopt},
      {"5s5s", std::nullopt},
      {"9223372036854775808ms", std::nullopt},
      {"106751991168d", std::nullopt},
      {"106751991167d23h", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_duration_ms(c.text), c.ms) << "'" << c.text << "'";
  }
}

TEST(config_test, option_type_names) {
  EXPECT_EQ(to_string(option_type::string), "string");
  EXPECT_EQ(to_string(option_type::integer), "int");
  EXPECT_EQ(to_string(option_type::number), "float");
  EXPECT_EQ(to_string(option_type::boolean), "bool");
  EXPECT_EQ(to_string(option_type::duration), "duration");
  EXPECT_EQ(to_string(option_type::list), "list");
  EXPECT_EQ(to_string(option_type::map), "map");
}

TEST(config_test, environment_substitution) {
  const test::scoped_env id("ISITUP_TEST_ID", "probe-7");
  const test::scoped_env empty("ISITUP_TEST_EMPTY", "");
  const test::scoped_env interval("ISITUP_TEST_INTERVAL", "45s");
  const test::scoped_env unset("ISITUP_TEST_UNSET", std::nullopt);
  const agent a = load_string(R"(agent:
  id: ${ISITUP_TEST_ID}
  location: "${ISITUP_TEST_UNSET:-eu-west}/$$HOME/${ISITUP_TEST_EMPTY:-x}/${ISITUP_TEST_EMPTY}/a$b"
  max_in_flight: ${ISITUP_TEST_UNSET:-50}
defaults:
  interval: ${ISITUP_TEST_INTERVAL}
domains:
  - ${ISITUP_TEST_UNSET:-example.com}
checks:
  - target: https://a/
    options: &shared {v: "$${ISITUP_TEST_ID}", w: "${ISITUP_TEST_ID}"}
  - target: https://b/
    options: *shared
)",
                              "t.yml");
  EXPECT_EQ(a.id, "probe-7");
  EXPECT_EQ(a.location, "eu-west/$HOME/x//a$b");
  EXPECT_EQ(a.max_in_flight, 50);
  EXPECT_EQ(a.interval_ms, 45000);
  ASSERT_EQ(a.checks.size(), 3u);
  EXPECT_EQ(a.checks[0].name, "example.com");
  const std::vector<option_schema> schema = {opt("v", option_type::string),
                                             opt("w", option_type::string)};
  for (std::size_t i = 1; i < 3; ++i) {  // an alias is substituted once, not twice
    const option_values values = validate_options(a.checks[i].options, schema, "options");
    EXPECT_EQ(values.find("v")->text, "${ISITUP_TEST_ID}");
    EXPECT_EQ(values.find("w")->text, "probe-7");
  }

  expect_errors({
      {"unset", "agent:\n  id: ${ISITUP_TEST_UNSET}\n", "t.yml:2:7",
       "environment variable ISITUP_TEST_UNSET is not set (use ${ISITUP_TEST_UNSET:-default}"},
      {"unset in options",
       "sinks:\n  - plugin: kafka_sink\n    options: {brokers: \"${ISITUP_TEST_UNSET}\"}\n",
       "t.yml:3:24", "environment variable ISITUP_TEST_UNSET is not set"},
      {"unset in a list", "domains:\n  - a.com\n  - ${ISITUP_TEST_UNSET}.com\n", "t.yml:3:5",
       "ISITUP_TEST_UNSET is not set"},
      {"unterminated", "agent:\n  id: ab${ISITUP_TEST_ID\n", "t.yml:2:7", "unterminated '${'"},
      {"bad name", "agent:\n  id: ${1X}\n", "t.yml:2:7", "bad variable reference '${1X}'"},
      {"type after substitution", "defaults:\n  interval: ${ISITUP_TEST_UNSET:-fast}\n",
       "t.yml:2:13", "expected a duration like 500ms, 30s, 5m, 1h, got 'fast'"},
  });
}

TEST(config_test, domains_entries) {
  const agent a = load_string(R"(domains:
  - example.com
  - www.example.com:8443
  - example.com.
  - http://example.org/health
  - HTTPS://Example.org
  - https://user@[::1]:8080/x?y#z
  - bücher.de
)",
                              "t.yml");
  std::vector<std::string> targets;
  for (const auto& c : a.checks) targets.push_back(c.target);
  EXPECT_THAT(targets,
              ::testing::ElementsAre("https://example.com/", "https://www.example.com:8443/",
                                     "https://example.com./", "http://example.org/health",
                                     "HTTPS://Example.org", "https://user@[::1]:8080/x?y#z",
                                     "https://bücher.de/"));
  EXPECT_EQ(a.checks[1].name, "www.example.com:8443");
  EXPECT_EQ(a.checks[3].name, "http://example.org/health");

  const struct {
    const char* entry;
    const char* reason;
  } bad[] = {
      {"ftp://x", "'ftp://x': scheme 'ftp' is not supported here"},
      {"'has space'", "'has space' contains a space"},
      {"''", "empty entry"},
      {"exa_mple.com", "character '_' is not allowed in a host name"},
      {"http://", "'http://': the URL has no host"},
      {"https:///path", "the URL has no host"},
      {"https://:80/", "the URL has no host"},
      {"https://a.com:x/", "port 'x' is not a number from 1 to 65535"},
      {"example.com/health", "a path or query needs a URL, e.g. https://example.com/health"},
      {"a..b", "empty label"},
      {"-a.com", "cannot start or end with '-'"},
      {"a.com:99999", "port '99999' is not a number from 1 to 65535"},
      {"'a.com:'", "port '' is not a number"},
      {"::1", "an IPv6 address needs a URL"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.entry);
    const std::string error = load_error("domains:\n  - a.com\n  - " + std::string(b.entry) + "\n");
    EXPECT_THAT(error, StartsWith("t.yml:3:5: domains[1]: "));
    EXPECT_THAT(error, HasSubstr(b.reason));
  }
}

TEST(config_test, duplicate_check_names) {
  expect_errors({
      {"domains twice", "domains:\n  - a.com\n  - a.com\n", "t.yml:3:5",
       "duplicate check name 'a.com' (first at t.yml:2:5)"},
      {"domain and check",
       "checks:\n  - target: https://b/\n    name: a.com\ndomains:\n  - a.com\n", "t.yml:2:5",
       "duplicate check name 'a.com' (first at t.yml:5:5)"},
      {"check name defaults to target",
       "checks:\n  - target: https://b/\n  - name: https://b/\n    target: https://c/\n",
       "t.yml:3:5", "duplicate check name 'https://b/' (first at t.yml:2:5)"},
  });
}

TEST(config_test, domains_file_lines) {
  const temp_dir dir;
  const test::scoped_env host("ISITUP_TEST_HOST", "env.example");
  dir.write("domains.txt",
            "\xEF\xBB\xBF# a comment\r\n"
            "a.example\r\n"
            "\r\n"
            "   # indented comment\n"
            "\thttps://b.example/#frag   # trailing comment\n"
            "${ISITUP_TEST_HOST}:8080\n"
            "c.example\t# tab before the comment\n"
            "d.example");
  const std::string config = dir.write("cfg.yml",
                                       "domains:\n"
                                       "  - first.example\n"
                                       "domains_file: domains.txt\n"
                                       "checks:\n"
                                       "  - target: https://last.example/\n");
  const agent a = load_file(config);
  std::vector<std::string> names, wheres;
  for (const auto& c : a.checks) {
    names.push_back(c.name);
    wheres.push_back(to_string(c.where));
  }
  const std::string file = (dir / "domains.txt").string();
  EXPECT_THAT(names, ::testing::ElementsAre("first.example", "a.example", "https://b.example/#frag",
                                            "env.example:8080", "c.example", "d.example",
                                            "https://last.example/"));
  EXPECT_EQ(wheres[0], config + ":2:5");
  EXPECT_EQ(wheres[1], file + ":2:1");
  EXPECT_EQ(wheres[2], file + ":5:2");
  EXPECT_EQ(wheres[3], file + ":6:1");
  EXPECT_EQ(wheres[5], file + ":8:1");
  EXPECT_EQ(a.checks[3].target, "https://env.example:8080/");
}

TEST(config_test, domains_file_errors) {
  const temp_dir dir;
  const auto error_of = [&](const std::string& domains, const std::string& yaml) {
    if (!domains.empty()) dir.write("domains.txt", domains);
    try {
      load_file(dir.write("cfg.yml", yaml));
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string config = (dir / "cfg.yml").string();
  const std::string file = (dir / "domains.txt").string();

  EXPECT_EQ(error_of("", "agent: {id: x}\ndomains_file: missing.txt\n"),
            config + ":2:1: domains_file: cannot read '" + (dir / "missing.txt").string() +
                "': No such file or directory");
  fs::create_directory((dir / "sub").string());
  EXPECT_THAT(error_of("", "domains_file: sub\n"),
              StartsWith(config + ":1:1: domains_file: cannot read '" + (dir / "sub").string() +
                         "': it is a directory"));
  EXPECT_THAT(error_of("a.example\n\n  ftp://x   # old\n", "domains_file: domains.txt\n"),
              StartsWith(file + ":3:3: domains_file: 'ftp://x': scheme 'ftp'"));
  EXPECT_THAT(error_of("a.example\nb example\n", "domains_file: domains.txt\n"),
              StartsWith(file + ":2:1: domains_file: 'b example' contains a space"));
  const test::scoped_env unset("ISITUP_TEST_UNSET", std::nullopt);
  EXPECT_EQ(error_of("a.example\n  x${ISITUP_TEST_UNSET}\n", "domains_file: domains.txt\n"),
            file +
                ":2:4: environment variable ISITUP_TEST_UNSET is not set (use "
                "${ISITUP_TEST_UNSET:-default} to give a default)");
  EXPECT_EQ(error_of("a.example\n", "domains: [b.example, a.example]\ndomains_file: domains.txt\n"),
            file + ":1:1: duplicate check name 'a.example' (first at " + config + ":1:22)");

  const test::scoped_env d("ISITUP_TEST_DIR", (dir / "").string());
  EXPECT_EQ(error_of("z.example\n", "domains_file: ${ISITUP_TEST_DIR}/domains.txt\n"),
            "(no error)");
}

TEST(config_test, config_file_errors) {
  const temp_dir dir;
  const std::string missing = (dir / "nope.yml").string();
  try {
    load_file(missing);
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()), missing +
                                         ": cannot read the config file: No such file or "
                                         "directory");
    EXPECT_EQ(e.where().file, missing);
    EXPECT_EQ(e.where().line, 0);
  }
  const std::string bad = dir.write("bad.yml", "agent:\n  id: x\n  max_in_flight: lots\n");
  try {
    load_file(bad);
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.where().file, bad);
    EXPECT_EQ(e.where().line, 3);
    EXPECT_EQ(e.where().column, 18);
    EXPECT_EQ(e.message(), "agent.max_in_flight: expected a positive integer, got 'lots'");
    EXPECT_EQ(std::string(e.what()), bad + ":3:18: " + e.message());
  }
}

// A plugin's refusal that starts with an option's name points at that option's value, and at
// the entry of a map option it names in quotes; anything else is left to the check's place.
TEST(config, a_plugin_refusal_naming_an_option_points_at_its_value) {
  const agent a = load_string(
      "checks:\n"
      "  - name: shop\n"
      "    target: https://shop.example.com/\n"
      "    options:\n"
      "      max_redirects: 101\n"
      "      properties: {a.b: x, ssl.key.location: /k.pem}\n"
      "  - {name: bare, target: https://example.com/}\n",
      "t.yml");
  ASSERT_EQ(a.checks.size(), 2u);
  const raw_options& o = a.checks[0].options;
  const auto at = [&](std::string_view message) {
    const std::optional<location> where = option_named_in(o, message);
    return where ? to_string(*where) : std::string("none");
  };
  EXPECT_EQ(at("max_redirects: expected 0..100, got 101"), "t.yml:5:22");
  EXPECT_EQ(at("properties: 'ssl.key.location': unreadable"), "t.yml:6:46");
  EXPECT_EQ(at("properties: 'sasl.kerberos.keytab' is refused"), "t.yml:6:19")
      << "an entry not given: the option";
  EXPECT_EQ(at("properties: bad"), "t.yml:6:19");
  EXPECT_EQ(at("user_agent: not given here"), "none");
  EXPECT_EQ(at("no option named here"), "none");
  EXPECT_EQ(at(": empty name"), "none");
  EXPECT_FALSE(option_named_in(a.checks[1].options, "max_redirects: x").has_value());
}

}  // namespace
}  // namespace isitup::config
