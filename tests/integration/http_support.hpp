// Test helper: an isitup-agent with agent.http on a kernel-chosen port of 127.0.0.1, and
// requests to it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "eventually.hpp"
#include "process.hpp"

namespace isitup::test {

struct http_answer {
  int status = 0;  // 0: no answer (connection refused, closed or timed out)
  std::string body;
  std::string content_type;
  std::string csp;  // Content-Security-Policy
};

class http_agent {
 public:
  // Writes `config` (its agent.http.listen should end in ":0") and starts the agent; waits
  // until it says where it listens. Throws std::runtime_error when it does not within 10 s.
  // `plugins`: the plugin folder (default: the build's).
  explicit http_agent(const std::string& config, const std::string& plugins = "");
  int port() const { return port_; }
  // Replaces the config file's text (for a SIGHUP reload).
  void rewrite_config(const std::string& config) const { dir_.write("agent.yml", config); }
  child_process& process() { return *process_; }
  // GET `path` (as written: percent-encode it yourself), with a bearer token when not empty.
  http_answer get(const std::string& path, const std::string& token = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Stops the agent (SIGTERM) and returns its exit code.
  int stop();

 private:
  temp_dir dir_;
  std::unique_ptr<child_process> process_;
  int port_ = 0;
};

}  // namespace isitup::test
