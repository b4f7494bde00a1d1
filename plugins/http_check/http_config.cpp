#include "http_config.hpp"

#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <isitup/config_map.hpp>
#include <isitup/text.hpp>
#include <optional>
#include <stdexcept>

#include "net/conn_config.hpp"

namespace isitup::http {

namespace {

using std::invalid_argument;

// A value for a message (isitup/text.hpp): cut to 100 characters, so a long value leaves room
// for the reason.
std::string shown(std::string_view text) { return sdk::shown_value(text); }

// A URL for a message: its userinfo's password as *** (a user alone, maybe a token, as ***),
// then shown().
std::string shown_url(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::size_t begin = scheme_end + 3;
    const std::size_t end = std::min(url.find_first_of("/?#", begin), url.size());
    const std::size_t at = url.substr(0, end).rfind('@');
    if (at != std::string_view::npos && at >= begin) {
      const std::string_view info = url.substr(begin, at - begin);
      const std::size_t colon = info.find(':');
      const std::string redacted =
          std::string(url.substr(0, begin)) +
          (colon == std::string_view::npos ? "***" : std::string(info.substr(0, colon)) + ":***") +
          std::string(url.substr(at));
      return shown(redacted);
    }
  }
  return shown(url);
}

int parse_status_number(const std::string& text, const std::string& item) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 100 || value > 599)
    throw invalid_argument("expect_status: '" + shown(item) + "' is not a status from 100 to 599");
  return value;
}

// "200", "300-399" -> an inclusive range.
std::pair<int, int> parse_status_range(std::string item) {
  item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
  const auto dash = item.find('-');
  if (dash == std::string::npos) {
    const int code = parse_status_number(item, item);
    return {code, code};
  }
  const int lo = parse_status_number(item.substr(0, dash), item);
  const int hi = parse_status_number(item.substr(dash + 1), item);
  if (lo > hi) throw invalid_argument("expect_status: range '" + shown(item) + "' is empty");
  return {lo, hi};
}

std::unique_ptr<re2::RE2> compile_regex(const std::string& pattern, const char* option) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(8 << 20);
  auto re = std::make_unique<re2::RE2>(pattern, opts);
  if (!re->ok()) throw invalid_argument(std::string(option) + ": " + shown(re->error()));
  return re;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

// A Unicode host name -> its A-label, as curl itself does it (TR46 non-transitional, then
// transitional for names that only that accepts).
std::string to_a_label(const std::string& host, const std::string& url) {
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(host.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc == IDN2_DISALLOWED)
    rc = idn2_to_ascii_8z(host.c_str(), &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
  if (rc != IDN2_OK)
    throw invalid_argument("target '" + shown_url(url) + "': host '" + shown(host) +
                           "' is not a valid internationalized domain name: " + idn2_strerror(rc));
  std::string ascii(out);
  idn2_free(out);
  return ascii;
}

bool iequals(const std::string& a, const char* b) {
  return a.size() == std::strlen(b) &&
         std::equal(a.begin(), a.end(), b, [](char x, char y) { return ::tolower(x) == y; });
}

// The lean engine's request after the Host line, with the headers curl would send: its own
// (User-Agent, Accept, and for a body Content-Length and a form Content-Type) unless the
// configuration sets one of that name, then the configured ones; and Connection: close.
std::string lean_tail(const check_config& c,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      bool with_body) {
  auto configured = [&](const char* name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return iequals(h.first, name); });
  };
  std::string t;
  if (!c.user_agent.empty() && !configured("user-agent"))
    t += "User-Agent: " + c.user_agent + "\r\n";
  if (!configured("accept")) t += "Accept: */*\r\n";
  for (const auto& [name, value] : headers) t += name + ": " + value + "\r\n";
  if (with_body) {
    if (!configured("content-length"))
      t += "Content-Length: " + std::to_string(c.body.size()) + "\r\n";
    if (!configured("content-type")) t += "Content-Type: application/x-www-form-urlencoded\r\n";
  }
  if (!configured("connection")) t += "Connection: close\r\n";
  t += "\r\n";
  if (with_body) t += c.body;
  return t;
}

}  // namespace

url_parts parse_url(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (!u) throw std::bad_alloc();
  if (CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK)
    throw invalid_argument("target '" + shown_url(url) +
                           "' is not a valid URL: " + curl_url_strerror(rc));
  url_parts out;
  char* part = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &part, 0) == CURLUE_OK) {
    out.scheme = part;
    curl_free(part);
  }
  std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(), ::tolower);
  if (out.scheme != "http" && out.scheme != "https")
    throw invalid_argument("target '" + shown_url(url) + "' must be an http:// or https:// URL");
  if (curl_url_get(u.get(), CURLUPART_HOST, &part, 0) != CURLUE_OK || !part || !*part)
    throw invalid_argument("target '" + shown_url(url) + "' has no host");
  out.host = part;
  curl_free(part);
  if (out.host.size() > 2 && out.host.front() == '[')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (const auto pct = out.host.find('%'); pct != std::string::npos) out.host.resize(pct);
  if (curl_url_get(u.get(), CURLUPART_PORT, &part, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    out.port = std::atoi(part);
    curl_free(part);
  }
  out.host_is_ip = is_ip_literal(out.host);
  if (!is_ascii(out.host)) {
    out.host = to_a_label(out.host, url);
    if (curl_url_set(u.get(), CURLUPART_HOST, out.host.c_str(), 0) != CURLUE_OK)
      throw invalid_argument("target '" + shown_url(url) + "' has a bad host");
  }
  if (curl_url_get(u.get(), CURLUPART_URL, &part, 0) == CURLUE_OK) {
    out.url = part;
    curl_free(part);
  }
  // The URL as curl writes it is scheme://[userinfo@]host[:port]/path[?query][#fragment]:
  // the request target (path and query) and the userinfo are read from it, not asked of curl
  // one part at a time (each an allocation; 100k checks prepare in a row).
  const auto authority = out.url.find("://");
  const auto at = authority == std::string::npos ? authority : out.url.find('/', authority + 3);
  if (at == std::string::npos)
    throw invalid_argument("target '" + shown_url(url) + "' has a path this check cannot send");
  const auto fragment = out.url.find('#', at);
  const std::size_t path_len = (fragment == std::string::npos ? out.url.size() : fragment) - at;
  if (at > 65535 || path_len > 65535)
    throw invalid_argument("target '" + shown_url(url) + "' has a path this check cannot send");
  out.has_userinfo = out.url.find('@', authority + 3) < at;
  out.path_at = static_cast<uint16_t>(at);
  out.path_len = static_cast<uint16_t>(path_len);
  return out;
}

namespace {

// A check's options as the config gives them, declared once (sdk::config_map): the host's
// validation, --describe-plugin, this struct and the ranges. make_config() derives the rest.
struct http_settings {
  std::string method;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> body;  // given (even empty): sent
  std::vector<std::string> expect_status;
  std::optional<std::string> regex, regex_absent;
  bool follow_redirects = false;
  int64_t max_redirects = 10;
  std::chrono::milliseconds connect_timeout{0};
  int64_t max_body_bytes = 1 << 20;
  bool tls_verify = true;
  std::string ca_file, client_cert, client_key;
  int64_t min_tls_days_left = 0;
  std::string ip_protocol;
  bool ip_fallback = true;
  std::vector<std::string> dns_servers;
  std::string user_agent, proxy;
  bool reuse_connections = false;
  int64_t max_in_flight = 4096, loops = 1;
  bool max_in_flight_given = false, loops_given = false;  // named by the check
  std::string engine;
};

const sdk::config_map<http_settings>& settings_map() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using s = http_settings;
  static const auto map =
      sdk::config_map<s>()
          .string("method", &s::method, "GET", "HTTP method")
          .map("headers", &s::headers, "{}", "request headers, name: value")
          .string("body", &s::body, nullptr, "request body (sent with any method)")
          .list("expect_status", &s::expect_status, "[\"200-399\"]",
                "status codes that count as up: numbers and ranges like \"300-399\"")
          .string("regex", &s::regex, nullptr, "RE2 pattern the body must match")
          .string("regex_absent", &s::regex_absent, nullptr, "RE2 pattern the body must not match")
          .boolean("follow_redirects", &s::follow_redirects, "false",
                   "follow 3xx redirects (http/https only)")
          .integer("max_redirects", &s::max_redirects, "10",
                   "redirects followed at most before down (up to 100)", 0, 100)
          .duration("connect_timeout", &s::connect_timeout, "0s",
                    "give up connecting after this, up to 24h (0s: the check's timeout)",
                    milliseconds(0), hours(24))
          .integer("max_body_bytes", &s::max_body_bytes, "1048576",
                   "body bytes read at most before down (up to 1073741824)", 0, int64_t{1} << 30)
          .boolean("tls_verify", &s::tls_verify, "true",
                   "verify the server certificate and host name")
          .string("ca_file", &s::ca_file, nullptr, "PEM file of CA certificates to trust instead")
          .string("client_cert", &s::client_cert, nullptr, "PEM client certificate")
          .string("client_key", &s::client_key, nullptr, "PEM private key of client_cert")
          .integer("min_tls_days_left", &s::min_tls_days_left, "0",
                   "down when the certificate expires in fewer days (0: off; up to 36500)", 0,
                   36500)
          .string("ip_protocol", &s::ip_protocol, "ip4", "address family to use first: ip4 or ip6")
          .one_of({"ip4", "ip6"})
          .boolean("ip_fallback", &s::ip_fallback, "true",
                   "use the other family when the first has no address")
          .list("dns_servers", &s::dns_servers, "[]",
                "DNS servers (\"ip\" or \"ip:port\"); empty: /etc/resolv.conf")
          .string("user_agent", &s::user_agent, "isitup/0.1 (http_check)", "User-Agent header")
          .string("proxy", &s::proxy, nullptr, "proxy URL (http://, https://, socks5h://)")
          .boolean("reuse_connections", &s::reuse_connections, "false",
                   "keep connections open between runs (default: a fresh connection per run)")
          .integer("max_in_flight", &s::max_in_flight, "4096",
                   "requests in flight at once for all checks of the plugin, 1 to 1048576 (the "
                   "smallest value set wins)",
                   1, 1 << 20)
          .given(&s::max_in_flight_given)
          .integer("loops", &s::loops, "1",
                   "event-loop threads of the plugin, 0 to 64 (0: one per hardware thread, at "
                   "most 4; the smallest value set wins)",
                   0, 64)
          .given(&s::loops_given)
          .string("engine", &s::engine, "auto",
                  "auto: http:// and https:// without proxy or reuse on the built-in HTTP/1.1 "
                  "client, the rest on libcurl; curl: always libcurl")
          .one_of({"auto", "curl"});
  return map;
}

}  // namespace

const std::vector<sdk::option>& declared_options() { return settings_map().options(); }

std::string options_key(const sdk::options_view& o) {
  // The options given, each with its value: the others are the declared defaults, the same
  // for every check (most checks give none, and their key is empty).
  std::string key;
  for (const sdk::option& d : declared_options()) {
    if (!o.is_set(d.name)) continue;
    key += d.name;
    key += '=';
    if (d.type == ISITUP_OPT_LIST) {
      for (const std::string& item : o.list(d.name)) (key += item) += '\x1f';
    } else if (d.type == ISITUP_OPT_MAP) {
      for (const auto& [k, v] : o.map(d.name)) ((key += k) += '\x1e', key += v) += '\x1f';
    } else {
      key += o.has_value(d.name) ? "v" + o.string(d.name) : "-";
    }
    key += '\x1d';
  }
  return key;
}

namespace {

// Empty when `value` may go into a header as it is, else why not: a control character (CR
// or LF would start a header or a request of the config's making). Tab is allowed.
std::string header_value_problem(std::string_view value) {
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "\\x%02x", c);
      return std::string("contains the control character ") + code + " at offset " +
             std::to_string(i) + "; header values may not";
    }
  }
  return "";
}

// Header names are RFC 9110 tokens.
bool is_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
  });
}

}  // namespace

std::shared_ptr<check_config> make_config(const sdk::options_view& o) {
  http_settings s = settings_map().read(o);
  auto c = std::make_shared<check_config>();

  c->method = std::move(s.method);
  if (c->method.empty() || !std::all_of(c->method.begin(), c->method.end(),
                                        [](char ch) { return ch >= 'A' && ch <= 'Z'; }))
    throw invalid_argument("method: '" + shown(c->method) +
                           "' is not an HTTP method (e.g. GET, HEAD)");
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : s.headers) {
    if (!is_header_name(name)) {
      curl_slist_free_all(headers);
      throw invalid_argument("headers: bad header name '" + shown(name) +
                             "' (letters, digits and !#$%&'*+-.^_`|~)");
    }
    if (const std::string why = header_value_problem(value); !why.empty()) {
      curl_slist_free_all(headers);
      throw invalid_argument("headers: " + shown(name) + ": " + why);
    }
    // "Name;" sends an empty header; "Name:" would remove curl's own.
    headers =
        curl_slist_append(headers, (value.empty() ? name + ";" : name + ": " + value).c_str());
  }
  c->headers.reset(headers);
  c->has_body = s.body.has_value();
  c->body = s.body.value_or("");

  for (const std::string& item : s.expect_status)
    c->expect_status.push_back(parse_status_range(item));
  if (c->expect_status.empty()) throw invalid_argument("expect_status: give at least one status");
  if (s.regex) c->regex = compile_regex(*s.regex, "regex");
  if (s.regex_absent) c->regex_absent = compile_regex(*s.regex_absent, "regex_absent");

  c->follow_redirects = s.follow_redirects;
  c->max_redirects = static_cast<int>(s.max_redirects);
  c->connect_timeout_ms = s.connect_timeout.count();
  c->max_body_bytes = s.max_body_bytes;

  c->tls_verify = s.tls_verify;
  c->ca_file = std::move(s.ca_file);
  c->client_cert = std::move(s.client_cert);
  c->client_key = std::move(s.client_key);
  if (!c->client_key.empty() && c->client_cert.empty())
    throw invalid_argument("client_key: needs client_cert");
  c->min_tls_days_left = s.min_tls_days_left;

  c->family = s.ip_protocol == "ip6" ? ip_family::v6 : ip_family::v4;
  c->ip_fallback = s.ip_fallback;
  for (const std::string& server : s.dns_servers) {
    c->dns_servers.push_back(net::parse_dns_server(server));
    c->dns_key += (c->dns_key.empty() ? "" : ",") + c->dns_servers.back();
  }
  c->user_agent = std::move(s.user_agent);
  if (const std::string why = header_value_problem(c->user_agent); !why.empty())
    throw invalid_argument("user_agent: " + why);
  c->proxy = std::move(s.proxy);
  c->reuse_connections = s.reuse_connections;
  if (s.max_in_flight_given) c->max_in_flight = s.max_in_flight;
  if (s.loops_given) c->loops = s.loops;
  c->force_curl = s.engine == "curl";
  c->host_header_set = std::any_of(s.headers.begin(), s.headers.end(),
                                   [](const auto& h) { return iequals(h.first, "host"); });
  const bool with_body = c->has_body && c->method != "HEAD";
  c->lean_tail = lean_tail(*c, s.headers, with_body);
  c->lean_tail_get = lean_tail(*c, s.headers, false);
  return c;
}

}  // namespace isitup::http
