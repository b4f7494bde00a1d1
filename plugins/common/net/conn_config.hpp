// The options tcp_check and tls_check share (connection, address family, DNS, TLS): declared
// once, read into a conn_options. Main thread (prepare).
#pragma once

#include <isitup/plugin.hpp>

#include <string>
#include <vector>

#include "net/conn_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::net {

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
