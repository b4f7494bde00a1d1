// The engine's DNS half: each hop's host is looked up by the shared resolver
// (plugins/common/net/resolver.hpp: c-ares on the engine's epoll, one lookup per name in
// flight, answers cached for their TTL), then the hop's transfer starts on the chosen address.
#include "http_engine.hpp"
#include "http_engine_internal.hpp"

namespace isitup::http {

void engine::resolve(job* j) {
  const check_config& c = *j->cfg;
  const auto family = c.ip_fallback               ? net::resolver::family::any
                      : c.family == ip_family::v4 ? net::resolver::family::v4
                                                  : net::resolver::family::v6;
  resolver_->resolve(*j, c.dns_key, family, j->target().host);
}

void engine::resolved(job* j, const net::resolver::outcome& o) {
  j->dns_ms = ms_since(j->hop_resolve);
  if (!o.ok) {
    finish(j, sdk::result::down("dns", o.error + " for " + j->target().host));
    return;
  }
  const check_config& c = *j->cfg;
  const bool v4_first = c.family == ip_family::v4;
  const std::vector<std::string>& first = v4_first ? o.found->v4 : o.found->v6;
  const std::vector<std::string>& second = v4_first ? o.found->v6 : o.found->v4;
  untrack_deadline(j);
  if (!first.empty()) {
    start_transfer(j, first.front());
  } else if (c.ip_fallback && !second.empty()) {
    start_transfer(j, second.front());
  } else {
    finish(j, sdk::result::down("dns", std::string("no ") + (v4_first ? "IPv4" : "IPv6") +
                                           " address for " + j->target().host));
  }
}

}  // namespace isitup::http
