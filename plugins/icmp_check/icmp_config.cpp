// icmp_check's options (icmp_config.hpp).
#include "icmp_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <isitup/config_map.hpp>
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

namespace {

// A check's options as declared (sdk::config_map): the host's validation, --describe-plugin,
// this struct and the ranges, one list.
struct ping_options {
  int64_t count = 3, packet_size = 56;
  std::chrono::milliseconds interval{1000};
  double max_loss_percent = 50;
  std::string ip_protocol;
  bool ip_fallback = true;
  std::vector<std::string> dns_servers;
};

const sdk::config_map<ping_options>& options_map() {
  using o = ping_options;
  static const auto map =
      sdk::config_map<o>()
          .integer("count", &o::count, "3", "echo requests per run (1 to 100)", 1, 100)
          .duration("interval", &o::interval, "1s",
                    "time between two echo requests of a run (at least 10ms)",
                    std::chrono::milliseconds(10), std::chrono::hours(1))
          .integer("packet_size", &o::packet_size, "56",
                   "ICMP data bytes per request, as ping -s (16 to 9000)", 16, 9000)
          .number("max_loss_percent", &o::max_loss_percent, "50",
                  "down when more than this percentage of the requests got no reply", 0, 100)
          .string("ip_protocol", &o::ip_protocol, "ip4", "address family tried first: ip4 or ip6")
          .one_of({"ip4", "ip6"})
          .boolean("ip_fallback", &o::ip_fallback, "true",
                   "use the other family when the host name has no address of the first")
          .list("dns_servers", &o::dns_servers, "[]",
                "DNS servers for the host name, \"ip\" or \"ip:port\" (\"[ip6]:port\"); empty: "
                "/etc/resolv.conf");
  return map;
}

}  // namespace

std::vector<sdk::option> declared_options() { return options_map().options(); }

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

  const ping_options o = options_map().read(options);
  c->count = static_cast<int>(o.count);
  c->interval = o.interval;
  c->packet_size = static_cast<size_t>(o.packet_size);
  c->max_loss_percent = o.max_loss_percent;
  c->prefer_v6 = o.ip_protocol == "ip6";
  c->fallback = o.ip_fallback;
  for (const std::string& s : o.dns_servers)
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
