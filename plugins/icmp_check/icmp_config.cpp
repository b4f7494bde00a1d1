// icmp_check's options (icmp_config.hpp).
#include "icmp_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <isitup/text.hpp>

#include "net/conn_config.hpp"

namespace isitup::icmp {
namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

void check_host(const std::string& host) {
  const std::string shown = "\"" + sdk::shown_value(host) + "\"";
  if (host.empty() || host.size() > 253)
    bad("target: expected a host name or an IP address, got " + shown);
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
      bad("target: expected a host name (letters, digits, '-', '.'; IDNs as xn-- A-labels) or "
          "an IP address, got " +
          shown);
}

}  // namespace

std::vector<sdk::option> declared_options() {
  return {
      {"count", ISITUP_OPT_INT, "3", "echo requests per run (1 to 100)"},
      {"interval", ISITUP_OPT_DURATION, "1s",
       "time between two echo requests of a run (at least 10ms)"},
      {"packet_size", ISITUP_OPT_INT, "56", "ICMP data bytes per request, as ping -s (16 to 9000)"},
      {"max_loss_percent", ISITUP_OPT_FLOAT, "50",
       "down when more than this percentage of the requests got no reply"},
      {"ip_protocol", ISITUP_OPT_STRING, "ip4", "address family tried first: ip4 or ip6"},
      {"ip_fallback", ISITUP_OPT_BOOL, "true",
       "use the other family when the host name has no address of the first"},
      {"dns_servers", ISITUP_OPT_LIST, "[]",
       "DNS servers for the host name, \"ip\" or \"ip:port\" (\"[ip6]:port\"); empty: "
       "/etc/resolv.conf"},
  };
}

std::shared_ptr<const ping_config> make_config(const std::string& target,
                                               const sdk::options_view& options,
                                               std::chrono::milliseconds timeout) {
  auto c = std::make_shared<ping_config>();
  std::string host = target;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned char buf[16];
  c->literal_v6 = inet_pton(AF_INET6, host.c_str(), buf) == 1;
  c->literal = c->literal_v6 || inet_pton(AF_INET, host.c_str(), buf) == 1;
  if (!c->literal) check_host(host);
  c->host = host;

  const int64_t count = options.integer("count");
  if (count < 1 || count > 100) bad("count: expected 1 to 100, got " + std::to_string(count));
  c->count = static_cast<int>(count);
  c->interval = options.duration("interval");
  if (c->interval < std::chrono::milliseconds(10))
    bad("interval: expected at least 10ms, got " + std::to_string(c->interval.count()) + "ms");
  const int64_t size = options.integer("packet_size");
  if (size < 16 || size > 9000)
    bad("packet_size: expected 16 to 9000, got " + std::to_string(size));
  c->packet_size = static_cast<size_t>(size);
  c->max_loss_percent = options.number("max_loss_percent");
  if (!(c->max_loss_percent >= 0 && c->max_loss_percent <= 100))
    bad("max_loss_percent: expected 0 to 100, got " + std::to_string(c->max_loss_percent));
  const std::string family = options.string("ip_protocol");
  if (family != "ip4" && family != "ip6")
    bad("ip_protocol: expected ip4 or ip6, got \"" + sdk::shown_value(family) + "\"");
  c->prefer_v6 = family == "ip6";
  c->fallback = options.boolean("ip_fallback");
  for (const std::string& s : options.list("dns_servers"))
    c->dns_servers += (c->dns_servers.empty() ? "" : ",") + net::parse_dns_server(s);

  const auto sending = c->interval * (c->count - 1);
  if (sending >= timeout)
    bad("count: " + std::to_string(c->count) + " requests " + std::to_string(c->interval.count()) +
        "ms apart take " + std::to_string(sending.count()) +
        "ms, which leaves no time for a "
        "reply within the check's timeout of " +
        std::to_string(timeout.count()) + "ms: raise timeout, or lower count or interval");
  return c;
}

}  // namespace isitup::icmp
