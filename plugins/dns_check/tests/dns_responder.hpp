// A small DNS server on 127.0.0.1 (UDP and TCP on one port) for the replies dnsmasq will not
// make on demand. By the name asked (any type):
//   servfail.test  SERVFAIL              refused.test   REFUSED
//   silent.test    no reply at all       garbage.test   a reply whose answer runs past its end
//   big.test       over UDP: an empty reply with TC set; over TCP: 40 TXT records
//   rd.test        one TXT record, "rd=1" or "rd=0": the query's RD (recursion desired) bit
//   anything else  NXDOMAIN
// Every query is counted per transport. Stops (and its thread ends) in its destructor.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace isitup::dns::testing {

class dns_responder {
 public:
  dns_responder();  // throws std::runtime_error when it cannot bind
  ~dns_responder();
  dns_responder(const dns_responder&) = delete;
  dns_responder& operator=(const dns_responder&) = delete;
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int udp_queries() const { return udp_queries_.load(); }
  int tcp_queries() const { return tcp_queries_.load(); }

 private:
  void serve();
  void serve_tcp(int fd);
  int udp_fd_ = -1, tcp_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> udp_queries_{0}, tcp_queries_{0};
  std::thread thread_;
  std::vector<std::thread> connections_;  // one per TCP connection; joined at the end
};

}  // namespace isitup::dns::testing
