// The built agent in tests that run it as a process: where it and the plugins are, starting
// it, and the pieces of config the whole-pipeline tests (probe -> Kafka -> writer ->
// PostgreSQL) share. Plain functions, any thread.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pg_server.hpp"
#include "process.hpp"

namespace isitup::test {

// <build>/bin/isitup-agent.
const std::string& agent_path();
// The folder the build puts the plugins in.
const std::string& plugin_path();

// Starts the built agent on the config file `config` with the build's plugins; `env` adds
// NAME=value variables.
std::unique_ptr<child_process> start_agent(const std::string& config,
                                           const std::vector<std::string>& env = {});

// kafka_sink `properties:` (a YAML flow map) for agents whose test stops brokers or kills group
// members: reconnects back off at most 500 ms, heartbeats every 500 ms, and a member that
// stopped is out of its group after `session_timeout`.
std::string fast_kafka_client(std::chrono::milliseconds session_timeout = std::chrono::seconds(6));

// The `sources:` and `sinks:` of a writer agent: kafka_sink reads `topic` of `brokers` in group
// `group` (none: empty) with `properties`, pg_sink writes to `pg_connection` (reconnecting within
// 500 ms). `source_options` and `sink_options` add "key: value" pairs (comma-separated) to each.
// More sinks may follow as "  - {...}\n" lines.
struct writer_yaml {
  std::string brokers, topic = "results", group = "writers", properties = fast_kafka_client();
  std::string pg_connection;
  std::string source_options = "batch_delay: 50ms", sink_options;
  std::string str() const;
};

// The integer `sql` (a count(*)) returns; -1 when psql fails (a table not created yet).
long pg_number(const pg_server& pg, const std::string& sql);

// The non-empty lines of `text`.
std::set<std::string> lines(const std::string& text);

}  // namespace isitup::test
