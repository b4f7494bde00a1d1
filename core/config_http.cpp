// agent.http: where the HTTP interface listens, its token and the per-check metrics switch.
#include <arpa/inet.h>

#include <algorithm>

#include "config_internal.hpp"

namespace isitup::config::detail {

namespace {

constexpr std::string_view http_keys[] = {"listen", "auth", "per_check_metrics",
                                          "per_check_metrics_limit"};
constexpr std::string_view auth_keys[] = {"token"};
constexpr std::size_t max_token_bytes = 4096;
constexpr std::size_t max_per_check_limit = 1'000'000;

const std::string& scalar(const std::string& file, const YAML::Node& node, const std::string& path,
                          const char* expected) {
  if (!node.IsScalar())
    fail(at(file, node), path + ": expected " + expected + ", got " + describe(node));
  return node.Scalar();
}

// "127.0.0.1:9110", "[::1]:9110", "localhost:9110", ":9110" (every address). Port 0 lets the
// kernel choose.
void read_listen(const std::string& file, const YAML::Node& node, const std::string& path,
                 http_settings& out) {
  const std::string& text = scalar(file, node, path, "host:port");
  const auto bad = [&](const std::string& why) {
    fail(at(file, node), path + ": " + why + ", got " + quote(text) +
                             " (expected host:port, e.g. 127.0.0.1:9110 or [::1]:9110)");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) bad("no port");
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  const auto number = parse_int64(port);
  if (port.empty() || !number || *number < 0 || *number > 65535 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    bad("the port is not a number from 0 to 65535");
  bool v6 = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    v6 = true;
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  unsigned char addr[16];
  if (v6 ? inet_pton(AF_INET6, host.c_str(), addr) != 1
         : inet_pton(AF_INET, host.c_str(), addr) != 1)
    bad(v6 ? "not an IPv6 address" : "not an IPv4 address (or [IPv6], or localhost)");
  out.enabled = true;
  out.host = host;
  out.port = static_cast<int>(*number);
  out.loopback = v6 ? host == "::1" : addr[0] == 127;
  out.where = at(file, node);
}

}  // namespace

void read_http(const std::string& file, const YAML::Node& node, const std::string& path,
               http_settings& out) {
  bool has_listen = false;
  for (const auto& e : mapping_entries(file, node, path, http_keys)) {
    if (e.value.IsNull()) continue;
    const std::string key_path = path + "." + e.key;
    if (e.key == "listen") {
      read_listen(file, e.value, key_path, out);
      has_listen = true;
    } else if (e.key == "auth") {
      for (const auto& a : mapping_entries(file, e.value, key_path, auth_keys)) {
        const std::string& token = scalar(file, a.value, key_path + ".token", "a string");
        // The token's value is never quoted back: it is a secret.
        if (token.empty()) fail(at(file, a.value), key_path + ".token: must not be empty");
        if (token.size() > max_token_bytes)
          fail(at(file, a.value), key_path + ".token: longer than 4096 bytes");
        if (std::any_of(token.begin(), token.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
          fail(at(file, a.value),
               key_path +
                   ".token: contains a space or a control character (not allowed in a "
                   "bearer token)");
        out.token = token;
      }
      if (out.token.empty()) fail(at(file, e.value), key_path + ": missing required key 'token'");
    } else if (e.key == "per_check_metrics") {
      const auto v = parse_bool(scalar(file, e.value, key_path, "true or false"));
      if (!v)
        fail(at(file, e.value),
             key_path + ": expected true or false, got " + quote(e.value.Scalar()));
      out.per_check_metrics = *v;
    } else if (e.key == "per_check_metrics_limit") {
      const std::string& text = scalar(file, e.value, key_path, "a positive integer");
      const auto v = parse_int64(text);
      if (!v || *v <= 0 || static_cast<uint64_t>(*v) > max_per_check_limit)
        fail(at(file, e.value),
             key_path + ": expected an integer from 1 to 1000000, got " + quote(text));
      out.per_check_metrics_limit = static_cast<std::size_t>(*v);
    }
  }
  if (!has_listen) fail(at(file, node), path + ": missing required key 'listen'");
}

}  // namespace isitup::config::detail
