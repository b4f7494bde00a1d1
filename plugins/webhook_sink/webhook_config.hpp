// webhook_sink's options, validated once at create(), and the redaction of secrets from log
// lines. Main thread builds them; afterwards they are read-only and shared by every thread.
#pragma once

#include <isitup/config_map.hpp>
#include <isitup/plugin.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook_format.hpp"

namespace isitup::webhook {

struct settings {
  std::string url;          // as configured: may hold userinfo and a token (a secret)
  std::string safe_url;     // scheme://host[:port], the only form of the URL ever logged
  std::string format_name;  // as configured; format is what it means
  body_format format = body_format::json;
  std::vector<std::pair<std::string, std::string>> headers;  // values are secrets
  std::string secret;                                        // HMAC key; empty: no signature
  std::chrono::milliseconds timeout{10'000};
  bool tls_verify = true;
  std::string ca_file;
  std::string user_agent;
  std::chrono::milliseconds retry_for{300'000};
  std::chrono::milliseconds retry_backoff{1'000};
  std::chrono::milliseconds retry_backoff_max{60'000};
  std::chrono::milliseconds retry_after_max{300'000};
  int64_t max_concurrent = 8;
};

// Every option, declared once: the table the agent validates and prints, the member of
// settings each fills and its range. Shared, immutable.
const sdk::config_map<settings>& settings_map();

// Reads and checks every option; throws std::invalid_argument("<option>: <what is wrong>").
// Never puts a secret (URL beyond scheme://host, secret, header values) into the message.
settings parse_settings(const sdk::options_view& options);

// Checks one configured URL: http:// or https:// with a host. Returns scheme://host[:port];
// throws std::invalid_argument naming what is wrong without echoing the URL.
std::string safe_url_of(const std::string& url);

// Replaces every occurrence of the secrets it was given with "***". The last line of defence
// for text that did not come from the plugin itself (libcurl's error messages): lines the
// plugin writes never contain a secret in the first place.
class redactor {
 public:
  explicit redactor(const settings& s);
  std::string operator()(std::string_view text) const;

 private:
  void add(std::string secret);
  std::vector<std::string> secrets_;  // longest first
};

}  // namespace isitup::webhook
