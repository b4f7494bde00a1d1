#include "http_support.hpp"

#include <httplib.h>
#include <signal.h>

#include <regex>
#include <stdexcept>

namespace isitup::test {

namespace {
const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
}  // namespace

http_agent::http_agent(const std::string& config, const std::string& plugins) {
  const std::string path = dir_.write("agent.yml", config);
  process_ = std::make_unique<child_process>(std::vector<std::string>{
      agent_bin, "-c", path, "-p", plugins.empty() ? plugin_dir : plugins});
  // Within the line: the next one starts with a time full of colons.
  const std::regex where("http: listening on [^ \\n]*:([0-9]+)");
  std::smatch m;
  const bool up = eventually([&] {
    const std::string err = process_->err();
    if (!std::regex_search(err, m, where)) return false;
    port_ = std::stoi(m[1]);
    return true;
  });
  if (!up) throw std::runtime_error("the agent does not listen: " + process_->err());
}

http_answer http_agent::get(const std::string& path, const std::string& token,
                            std::chrono::milliseconds timeout) const {
  httplib::Client c("127.0.0.1", port_);
  c.set_connection_timeout(timeout);
  c.set_read_timeout(timeout);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  const auto res = c.Get(path.c_str(), headers);
  http_answer a;
  if (!res) {
    a.body = "(no answer: " + httplib::to_string(res.error()) + ")";
    return a;
  }
  a.status = res->status;
  a.body = res->body;
  a.content_type = res->get_header_value("Content-Type");
  a.csp = res->get_header_value("Content-Security-Policy");
  return a;
}

int http_agent::stop() {
  process_->signal(SIGTERM);
  return process_->wait(std::chrono::seconds(15));
}

}  // namespace isitup::test
