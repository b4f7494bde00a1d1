// The dnsmasq fixture (dnsmasq.hpp).
#include "dnsmasq.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace isitup::test {
namespace {

bool accepts_tcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

int free_udp_tcp_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(u, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
        getsockname(u, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
        bind(t, reinterpret_cast<sockaddr*>(&a), len) == 0)
      port = ntohs(a.sin_port);
    close(u);
    close(t);
    if (port) return port;
  }
  return 0;
}

dnsmasq::dnsmasq(const std::vector<std::string>& records, const std::string& local_domain, int ttl)
    : port_(free_udp_tcp_port()) {
  std::vector<std::string> argv = {"/usr/sbin/dnsmasq",
                                   "--keep-in-foreground",
                                   "--conf-file=/dev/null",
                                   "--pid-file=",
                                   "--port=" + std::to_string(port_),
                                   "--listen-address=127.0.0.1",
                                   "--bind-interfaces",
                                   "--no-resolv",
                                   "--no-hosts",
                                   "--local=/" + local_domain + "/",
                                   "--local-ttl=" + std::to_string(ttl)};
  argv.insert(argv.end(), records.begin(), records.end());
  process_ = std::make_unique<child_process>(argv);
  for (int i = 0; i < 200 && process_->running() && !accepts_tcp(port_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
}

bool dnsmasq::running() { return process_->running() && accepts_tcp(port_); }

}  // namespace isitup::test
