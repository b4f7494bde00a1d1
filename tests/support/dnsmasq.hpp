// Test fixture: dnsmasq (Debian's dnsmasq-base) as a DNS server on 127.0.0.1, UDP and TCP on a
// port that was free, answering only from the records it is given (no upstream, no
// /etc/hosts): names under the local domains it is given and not defined are NXDOMAIN.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "process.hpp"

namespace isitup::test {

class dnsmasq {
 public:
  // `records`: dnsmasq options defining records, e.g. "--host-record=host.test,127.0.0.8".
  // `local_domain`: the domain answered locally ("test"). Waits (at most 5 s) until it
  // accepts TCP connections; running() says whether it did.
  explicit dnsmasq(const std::vector<std::string>& records,
                   const std::string& local_domain = "test", int ttl = 60);
  dnsmasq(const dnsmasq&) = delete;
  dnsmasq& operator=(const dnsmasq&) = delete;
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  bool running();
  std::string log() const { return process_->err(); }

 private:
  int port_;
  std::unique_ptr<child_process> process_;
};

// A port on 127.0.0.1 free for both UDP and TCP a moment ago.
int free_udp_tcp_port();

}  // namespace isitup::test
