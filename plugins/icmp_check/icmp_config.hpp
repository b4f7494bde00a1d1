// icmp_check's options: declared for the host (which validates them), and read once per check
// at prepare time into a ping_config that every run of the check shares read-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <isitup/plugin.hpp>

namespace isitup::icmp {

// Built on the main thread, then immutable: any thread.
struct ping_config {
  std::string host;      // the target: a host name or an IP address
  bool literal = false;  // host is an IP address (no lookup)
  bool literal_v6 = false;
  int count = 3;
  std::chrono::milliseconds interval{1000};
  size_t packet_size = 56;  // ICMP data bytes, as ping -s
  double max_loss_percent = 50;
  bool prefer_v6 = false;
  bool fallback = true;
  std::string dns_servers;  // "ip:port,..." for the resolver; "": resolv.conf
};

std::vector<sdk::option> declared_options();

// Reads a check's target and options; throws std::invalid_argument naming the option and
// what was expected (also when count and interval do not fit in the check's timeout).
std::shared_ptr<const ping_config> make_config(const std::string& target,
                                               const sdk::options_view& options,
                                               std::chrono::milliseconds timeout);

}  // namespace isitup::icmp
