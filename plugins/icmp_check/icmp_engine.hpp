// icmp_check's engine: one event-loop thread per plugin instance sends every echo request of
// the instance and reads every reply, on one ICMP socket per address family and one epoll.
// Host names are looked up by the shared c-ares resolver (plugins/common) on the same loop.
// Sockets: an unprivileged ICMP datagram socket (allowed by the sysctl
// net.ipv4.ping_group_range), else a raw socket (needs CAP_NET_RAW); both are tried once,
// when the engine is made, and never anything that needs more privilege.
//
// Contract: submit() may be called from any thread and returns at once; each run completes
// exactly once, on the loop thread, by its timeout (plus loop latency), unless the engine is
// destroyed first: the destructor stops the loop and drops the runs in flight uncompleted.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <isitup/plugin.hpp>

#include "icmp_config.hpp"
#include "icmp_packet.hpp"
#include "net/resolver.hpp"

namespace isitup::icmp {

class engine {
 public:
  explicit engine(sdk::host host);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Why echo requests cannot be sent over IPv4 (v6: IPv6), naming the sysctl and the
  // capability; empty when they can. Any thread.
  const std::string& unavailable(bool v6) const { return (v6 ? v6_ : v4_).error; }
  // "datagram" or "raw": the kind of socket in use for the family.
  const char* socket_kind(bool v6) const { return (v6 ? v6_ : v4_).raw ? "raw" : "datagram"; }

  // Pings `config`'s host once (count requests); `done` is called by `timeout`. Any thread.
  void submit(std::shared_ptr<const ping_config> config, std::chrono::milliseconds timeout,
              sdk::completion done);

 private:
  struct run;
  struct icmp_socket {
    int fd = -1;
    bool v6 = false;
    bool raw = false;
    uint16_t id = 0;  // raw sockets: ours; datagram sockets: the kernel's (not looked at)
    std::string error;
    probe_table probes;
  };

  void open_socket(icmp_socket& s, bool v6);
  void loop();
  void take_incoming();
  void begin(run* r);
  void resolved(run* r, const net::resolver::outcome& o);
  void send_probe(run* r);
  void receive(icmp_socket& s);
  void set_timer(run* r, clock::time_point at);
  void fire_timers(clock::time_point now);
  void finish(run* r);

  sdk::host host_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  icmp_socket v4_, v6_;
  uint64_t token_ = 0;   // in every request's payload
  uint32_t serial_ = 0;  // the last probe's serial number
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sleeping_{false};  // the loop is (about to be) blocked in epoll_wait

  std::mutex incoming_mu_;
  std::vector<run*> incoming_;

  // Loop thread only from here on.
  std::unique_ptr<net::resolver> resolver_;
  std::unordered_set<run*> runs_;
  std::multimap<clock::time_point, run*> timers_;  // each run's next send or its deadline
  std::vector<unsigned char> packet_, received_;   // buffers, reused

  std::thread thread_;  // last: started when everything above exists
};

}  // namespace isitup::icmp
