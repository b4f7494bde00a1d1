#include "net/conn_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include <isitup/text.hpp>

namespace isitup::net {

using std::invalid_argument;

starttls_kind parse_starttls(const std::string& text) {
  if (text.empty()) return starttls_kind::none;
  if (text == "smtp") return starttls_kind::smtp;
  if (text == "imap") return starttls_kind::imap;
  if (text == "pop3") return starttls_kind::pop3;
  throw std::invalid_argument("starttls: '" + sdk::shown_value(text) +
                              "' is not one of smtp, imap, pop3");
}

host_port parse_host_port(const std::string& target, uint16_t default_port) {
  host_port out;
  std::string port;
  if (!target.empty() && target.front() == '[') {
    const auto close = target.find(']');
    if (close == std::string::npos) throw std::invalid_argument("target: missing ']'");
    out.host = target.substr(1, close - 1);
    if (close + 1 < target.size()) {
      if (target[close + 1] != ':') throw std::invalid_argument("target: expected ':' after ']'");
      port = target.substr(close + 2);
    }
  } else {
    const auto colon = target.rfind(':');
    if (colon != std::string::npos && target.find(':') != colon)
      throw std::invalid_argument("target: an IPv6 address goes in brackets: [" + target + "]");
    out.host = target.substr(0, colon);
    if (colon != std::string::npos) port = target.substr(colon + 1);
  }
  const std::string wanted = default_port ? "host[:port]" : "host:port";
  if (out.host.empty() || out.host.size() > 253)
    throw std::invalid_argument("target must be " + wanted + ", got '" + sdk::shown_value(target) +
                                "'");
  for (char c : out.host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '_'))
      throw std::invalid_argument("target: '" + sdk::shown_value(out.host) +
                                  "' is not a host name or address");
  if (port.empty() && !default_port)
    throw std::invalid_argument("target must be host:port, got '" + sdk::shown_value(target) + "'");
  if (port.empty()) {
    out.port = default_port;
  } else {
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || (value = value * 10 + (c - '0')) > 65535) value = -1;
      if (value < 0) break;
    }
    if (value <= 0)
      throw std::invalid_argument("target: port '" + sdk::shown_value(port) +
                                  "' is not a number from 1 to 65535");
    out.port = static_cast<uint16_t>(value);
  }
  unsigned char buf[sizeof(in6_addr)];
  out.host_is_ip = inet_pton(AF_INET, out.host.c_str(), buf) == 1 ||
                   inet_pton(AF_INET6, out.host.c_str(), buf) == 1;
  if (!out.host_is_ip && out.host.find(':') != std::string::npos)
    throw std::invalid_argument("target: '" + sdk::shown_value(out.host) +
                                "' is not an IPv6 address");
  return out;
}

std::string unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) throw std::invalid_argument("send: a lone '\\' at the end");
    switch (text[i]) {
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case '0':
        out += '\0';
        break;
      case '\\':
        out += '\\';
        break;
      case 'x': {
        if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(text[i + 2])))
          throw std::invalid_argument("send: \\x needs two hex digits");
        out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
        i += 2;
        break;
      }
      default:
        throw std::invalid_argument(std::string("send: unknown escape '\\") + text[i] +
                                    "' (\\r \\n \\t \\0 \\\\ \\xHH)");
    }
  }
  return out;
}

namespace {

// The options before `tls`, then `tls` when wanted, then the TLS ones (README order).
sdk::config_map<conn_settings> make_connection_map(bool tls_option) {
  using s = conn_settings;
  sdk::config_map<s> map;
  map.duration("connect_timeout", &s::connect_timeout, "0s",
               "give up connecting after this, up to 24h (0s: the check's timeout)",
               std::chrono::milliseconds(0), std::chrono::hours(24))
      .string("ip_protocol", &s::ip_protocol, "ip4", "address family to use first: ip4 or ip6")
      .one_of({"ip4", "ip6"})
      .boolean("ip_fallback", &s::ip_fallback, "true",
               "use the other family when the first has no address")
      .list("dns_servers", &s::dns_servers, "[]",
            "DNS servers (\"ip\" or \"ip:port\"); empty: /etc/resolv.conf")
      .string("starttls", &s::starttls, nullptr,
              "smtp, imap or pop3: ask for TLS in that protocol after connecting");
  if (tls_option) map.boolean("tls", &s::tls, "false", "a TLS handshake after connecting");
  map.boolean("tls_verify", &s::tls_verify, "true", "verify the server certificate and host name")
      .string("server_name", &s::server_name, nullptr,
              "TLS server name sent (SNI) and verified (default: the target's host)")
      .string("ca_file", &s::ca_file, nullptr, "PEM file of CA certificates to trust instead")
      .string("client_cert", &s::client_cert, nullptr, "PEM client certificate")
      .string("client_key", &s::client_key, nullptr, "PEM private key of client_cert");
  return map;
}

}  // namespace

const sdk::config_map<conn_settings>& connection_map(bool tls_option) {
  static const sdk::config_map<conn_settings> with_tls = make_connection_map(true);
  static const sdk::config_map<conn_settings> without_tls = make_connection_map(false);
  return tls_option ? with_tls : without_tls;
}

std::string parse_dns_server(const std::string& s) {
  std::string host = s, port = "53";
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos)
      throw invalid_argument("dns_servers: bad address '" + sdk::shown_value(s) + "'");
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':')
        throw invalid_argument("dns_servers: bad address '" + sdk::shown_value(s) + "'");
      port = s.substr(close + 2);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  int p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
    throw invalid_argument("dns_servers: bad port in '" + sdk::shown_value(s) + "'");
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return host + ":" + port;
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return "[" + host + "]:" + port;
  throw invalid_argument("dns_servers: '" + sdk::shown_value(s) +
                         "' is not an IP address (with optional :port)");
}

void apply_connection_settings(const conn_settings& s, bool tls_option, tls_cache& tls,
                               conn_options& o) {
  o.connect_timeout = s.connect_timeout;
  o.family = s.ip_protocol == "ip6" ? resolver::family::v6 : resolver::family::v4;
  o.ip_fallback = s.ip_fallback;
  o.dns_servers.clear();
  for (const std::string& server : s.dns_servers)
    o.dns_servers += (o.dns_servers.empty() ? "" : ",") + parse_dns_server(server);
  o.starttls = parse_starttls(s.starttls);
  o.tls = !tls_option || s.tls || o.starttls != starttls_kind::none;
  o.tls_verify = s.tls_verify;
  o.server_name = s.server_name;
  if (o.server_name.size() > 253 ||
      !std::all_of(o.server_name.begin(), o.server_name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':';
      }))
    throw invalid_argument("server_name: '" + sdk::shown_value(o.server_name) +
                           "' is not a host name");
  if (!s.client_key.empty() && s.client_cert.empty())
    throw invalid_argument("client_key: needs client_cert");
  if (!o.tls) return;
  // Read here, once per file, and shared; never by a running check.
  if (o.tls_verify) o.ca = tls.ca(s.ca_file);
  if (!s.client_cert.empty()) o.identity = tls.identity(s.client_cert, s.client_key);
}

}  // namespace isitup::net
