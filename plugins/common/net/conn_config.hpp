// What tcp_check and tls_check read at prepare time: their targets, `starttls` and `send`
// values, and the options they share (connection, address family, DNS, TLS), declared once and
// read into a conn_options. Main thread (prepare).
#pragma once

#include <isitup/config_map.hpp>
#include <isitup/plugin.hpp>

#include <chrono>

#include <string>
#include <vector>

#include "net/conn_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::net {

// "smtp", "imap", "pop3" or "" (none); throws std::invalid_argument otherwise.
starttls_kind parse_starttls(const std::string& text);

// Parses "host:port" (or "host" when `default_port` is not 0); throws std::invalid_argument
// with a message for the user.
host_port parse_host_port(const std::string& target, uint16_t default_port);

// "\r\n" escapes of a `send` option: \r \n \t \\ \0 and \xHH; throws std::invalid_argument.
std::string unescape(const std::string& text);

// The shared options as the user wrote them (connection_map() fills them).
struct conn_settings {
  std::chrono::milliseconds connect_timeout{0};  // 0: the check's timeout
  std::string ip_protocol;                       // "ip4" or "ip6"
  bool ip_fallback = true;
  std::vector<std::string> dns_servers;
  std::string starttls;
  bool tls = false;  // tcp_check only; tls_check always speaks TLS
  bool tls_verify = true;
  std::string server_name, ca_file, client_cert, client_key;
};

// The shared declarations, in README order, for config_map::include(). With `tls_option`
// (tcp_check) the map declares `tls` (default false); without it (tls_check) it does not.
const sdk::config_map<conn_settings>& connection_map(bool tls_option);

// conn_options from read settings: the checks config_map cannot state (ip_protocol's values,
// DNS server and server name syntax, client_key without client_cert), then the CA store and
// client identity from `tls` (loaded now when new). Throws std::invalid_argument naming the
// option.
void apply_connection_settings(const conn_settings& s, bool tls_option, tls_cache& tls,
                               conn_options& o);

// "ip" or "ip:port" or "[ip6]:port" -> "ip:port" / "[ip6]:port"; throws std::invalid_argument.
std::string parse_dns_server(const std::string& text);

}  // namespace isitup::net
