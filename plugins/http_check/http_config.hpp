// http_check: one configured check, parsed and validated once in prepare() (main thread) and
// then shared read-only with the event loop thread for every run.
#pragma once

#include <curl/curl.h>
#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <isitup/plugin.hpp>

namespace isitup::net {
class tls_source;  // net/tls_store.hpp
}  // namespace isitup::net

namespace isitup::http {

enum class ip_family { v4, v6 };

// The parts of an http(s) URL the check needs. A host name in Unicode is converted to its
// A-label (punycode, IDNA2008/TR46 by libidn2) so that DNS, the Host header and TLS SNI all
// see the ASCII form. Throws std::invalid_argument when `url` is not an absolute http:// or
// https:// URL with a host.
struct url_parts {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  int port = 0;        // explicit or the scheme's default
  bool host_is_ip = false;
  bool has_userinfo = false;           // user:password@ in the URL (curl sends it as Basic auth)
  uint16_t path_at = 0, path_len = 0;  // the request target (path and query) within `url`
  std::string url;                     // the URL as sent: an internationalized host as its A-label

  std::string_view request_path() const { return std::string_view(url).substr(path_at, path_len); }
};
url_parts parse_url(const std::string& url);

struct curl_slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// The options of a check: shared by every check configured with the same options.
struct check_config {
  std::string method = "GET";
  std::unique_ptr<curl_slist, curl_slist_deleter> headers;  // null: none
  std::string body;
  bool has_body = false;
  std::vector<std::pair<int, int>> expect_status;  // inclusive ranges
  std::unique_ptr<re2::RE2> regex, regex_absent;
  bool follow_redirects = false;
  int max_redirects = 10;
  int64_t connect_timeout_ms = 0;  // 0: only the run's timeout applies
  int64_t max_body_bytes = 1 << 20;
  bool tls_verify = true;
  std::string ca_file, client_cert, client_key;
  int64_t min_tls_days_left = 0;  // 0: off
  ip_family family = ip_family::v4;
  bool ip_fallback = true;
  std::vector<std::string> dns_servers;  // "ip" or "ip:port"; empty: system resolver
  std::string dns_key;                   // dns_servers joined: selects the resolver channel
  std::string user_agent;
  std::string proxy;
  bool reuse_connections = false;
  // Plugin-wide settings, set only when the check's options give them (the smallest given
  // wins, prepare()); loops 0: one loop per hardware thread, at most 4, as many as are idle.
  std::optional<int64_t> max_in_flight;
  std::optional<int64_t> loops;
  bool force_curl = false;  // engine: curl

  // The TLS material, set by the plugin when it makes the options of a check that may use
  // TLS (https://, or redirects): read once per file, shared (net/tls_store.hpp); null otherwise.
  std::shared_ptr<net::tls_source> ca;        // tls_verify: the CA store (ca_file or the default)
  std::shared_ptr<net::tls_source> identity;  // client_cert (and client_key)

  // The lean HTTP/1.1 engine's request after the Host line (headers, blank line, body),
  // built once: as configured, and as GET without a body (after a 303).
  std::string lean_tail, lean_tail_get;
  bool host_header_set = false;  // `headers` has a Host: it replaces the URL's

  // Whether a hop to `t` can run on the lean engine instead of curl: plain http://, and
  // https:// when its CA store and client identity are the shared ones (always so when the
  // plugin prepared the check; a config without them stays on curl).
  bool lean_eligible(const url_parts& t) const {
    if (force_curl || t.has_userinfo || !proxy.empty() || reuse_connections) return false;
    if (t.scheme == "http") return true;
    return t.scheme == "https" && (!tls_verify || ca) && (client_cert.empty() || identity);
  }

  bool status_expected(long code) const {
    for (const auto& [lo, hi] : expect_status)
      if (code >= lo && code <= hi) return true;
    return false;
  }
  bool needs_body() const { return regex || regex_absent; }
};

// One configured check: its URL and its (shared) options.
struct check_target {
  url_parts target;
  std::shared_ptr<const check_config> config;
};

// The options every check accepts (declared to the host).
const std::vector<sdk::option>& declared_options();

// A text that is equal for two checks exactly when their options are: the options given,
// with their values (the rest are the defaults). One option given with its default value
// makes another key than not giving it, which only costs one more shared copy.
std::string options_key(const sdk::options_view& options);

// Builds a check's options; throws std::invalid_argument with a message for the user.
std::shared_ptr<check_config> make_config(const sdk::options_view& options);

}  // namespace isitup::http
