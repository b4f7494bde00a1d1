// What tcp_check and tls_check read at prepare time: their targets, `starttls` and `send`
// values, and the options they share (connection, address family, DNS, TLS), declared once and
// read into a conn_options. Main thread (prepare).
#pragma once

#include <isitup/plugin.hpp>

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

// The declarations, in README order. `tls_default` is the default of `tls` ("false" for
// tcp_check); nullptr leaves the `tls` option out (tls_check always speaks TLS).
std::vector<sdk::option> connection_options(const char* tls_default);

// Fills `o` from the declared options above; CA stores and client identities come from
// `tls` (loaded now when new). Throws std::invalid_argument naming the option.
void read_connection_options(const sdk::options_view& options, bool has_tls_option, tls_cache& tls,
                             conn_options& o);

// "ip" or "ip:port" or "[ip6]:port" -> "ip:port" / "[ip6]:port"; throws std::invalid_argument.
std::string parse_dns_server(const std::string& text);

}  // namespace isitup::net
