#include "agents.hpp"

#include <sstream>
#include <stdexcept>

namespace isitup::test {

const std::string& agent_path() {
  static const std::string path = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
  return path;
}

const std::string& plugin_path() {
  static const std::string path = ISITUP_PLUGIN_DIR;
  return path;
}

std::unique_ptr<child_process> start_agent(const std::string& config,
                                           const std::vector<std::string>& env) {
  return std::make_unique<child_process>(
      std::vector<std::string>{agent_path(), "-c", config, "-p", plugin_path()}, env);
}

std::string fast_kafka_client(std::chrono::milliseconds session_timeout) {
  return "{reconnect.backoff.max.ms: \"500\", session.timeout.ms: \"" +
         std::to_string(session_timeout.count()) + "\", heartbeat.interval.ms: \"500\"}";
}

std::string writer_yaml::str() const {
  auto more = [](const std::string& options) { return options.empty() ? "" : ", " + options; };
  return "sources:\n  - plugin: kafka_sink\n    options: {brokers: \"" + brokers +
         "\", topic: " + topic + (group.empty() ? "" : ", group: " + group) + more(source_options) +
         ", properties: " + properties +
         "}\n"
         "sinks:\n  - plugin: pg_sink\n    options: {connection: \"" +
         pg_connection + "\"" + more(sink_options) +
         ", connect_timeout: 2s, reconnect_backoff_max: 500ms}\n";
}

long pg_number(const pg_server& pg, const std::string& sql) {
  try {
    return std::stol(pg.psql(sql));
  } catch (const std::exception&) {
    return -1;
  }
}

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.insert(l);
  return out;
}

}  // namespace isitup::test
