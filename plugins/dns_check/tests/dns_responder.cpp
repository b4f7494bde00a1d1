// The test DNS responder (dns_responder.hpp).
#include "dns_responder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

namespace isitup::dns::testing {
namespace {

using bytes = std::vector<unsigned char>;

// The reply to query `q` (n bytes), or empty for no reply. `tcp`: the transport it came on.
bytes answer(const unsigned char* q, size_t n, bool tcp) {
  if (n < 17) return {};
  size_t i = 12;
  std::string name;
  while (i < n && q[i] != 0) {
    const size_t l = q[i];
    if (l > 63 || i + 1 + l >= n) return {};
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(q + i + 1), l);
    i += 1 + l;
  }
  if (i + 5 > n) return {};
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "silent.test") return {};
  bytes r(q, q + i + 5);                                    // header and question
  r[2] = static_cast<unsigned char>(0x80 | (q[2] & 0x01));  // QR, RD copied
  r[3] = 0x80;                                              // RA, NOERROR
  r[4] = 0, r[5] = 1;
  for (int k = 6; k < 12; ++k) r[k] = 0;
  if (name == "servfail.test") {
    r[3] |= 2;
  } else if (name == "refused.test") {
    r[3] |= 5;
  } else if (name == "garbage.test") {
    r[7] = 1;  // one answer, cut short
    const unsigned char cut[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127};
    r.insert(r.end(), cut, cut + sizeof cut);
  } else if (name == "rd.test") {
    // One TXT record saying whether the query asked for recursion (its RD bit).
    r[7] = 1;
    const std::string text = (q[2] & 0x01) ? "rd=1" : "rd=0";
    const unsigned char head[] = {0xc0,
                                  0x0c,
                                  0,
                                  16,
                                  0,
                                  1,
                                  0,
                                  0,
                                  0,
                                  30,
                                  0,
                                  static_cast<unsigned char>(text.size() + 1),
                                  static_cast<unsigned char>(text.size())};
    r.insert(r.end(), head, head + sizeof head);
    r.insert(r.end(), text.begin(), text.end());
  } else if (name == "big.test") {
    if (!tcp) {
      r[2] |= 0x02;  // TC: ask again over TCP
    } else {
      r[7] = 40;
      for (int k = 0; k < 40; ++k) {
        const std::string text = "record " + std::to_string(k) + " " + std::string(40, 'x');
        const unsigned char head[] = {0xc0,
                                      0x0c,
                                      0,
                                      16,
                                      0,
                                      1,
                                      0,
                                      0,
                                      0,
                                      30,
                                      0,
                                      static_cast<unsigned char>(text.size() + 1),
                                      static_cast<unsigned char>(text.size())};
        r.insert(r.end(), head, head + sizeof head);
        r.insert(r.end(), text.begin(), text.end());
      }
    }
  } else {
    r[3] |= 3;  // NXDOMAIN
  }
  return r;
}

bool read_all(int fd, unsigned char* p, size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

dns_responder::dns_responder() {
  // The kernel picks the UDP port; TCP may hold it already: then try another.
  for (int attempt = 0; attempt < 20 && port_ == 0; ++attempt) {
    udp_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tcp_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const int one = 1;
    setsockopt(tcp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(udp_fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
        getsockname(udp_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
        bind(tcp_fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 && listen(tcp_fd_, 64) == 0) {
      port_ = ntohs(a.sin_port);
    } else {
      close(udp_fd_);
      close(tcp_fd_);
    }
  }
  if (port_ == 0) throw std::runtime_error("dns_responder: cannot bind UDP and TCP on one port");
  thread_ = std::thread([this] { serve(); });
}

dns_responder::~dns_responder() {
  stop_ = true;
  thread_.join();
  for (std::thread& t : connections_) t.join();
  close(udp_fd_);
  close(tcp_fd_);
}

void dns_responder::serve() {
  while (!stop_) {
    pollfd p[2] = {{udp_fd_, POLLIN, 0}, {tcp_fd_, POLLIN, 0}};
    if (poll(p, 2, 50) <= 0) continue;
    if (p[0].revents & POLLIN) {
      unsigned char q[512];
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t n =
          recvfrom(udp_fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n > 0) {
        ++udp_queries_;
        const bytes r = answer(q, static_cast<size_t>(n), false);
        if (!r.empty())
          sendto(udp_fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
      }
    }
    if (p[1].revents & POLLIN) {
      const int fd = accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) connections_.emplace_back([this, fd] { serve_tcp(fd); });
    }
  }
}

// One connection, queries answered in turn until the client closes (or 2 s of silence).
void dns_responder::serve_tcp(int fd) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ready = 0;
    for (int waited = 0; waited < 2000 && !stop_ && ready == 0; waited += 50)
      ready = poll(&p, 1, 50);
    if (ready <= 0) break;
    unsigned char len[2];
    if (!read_all(fd, len, 2)) break;
    bytes q(static_cast<size_t>((len[0] << 8) | len[1]));
    if (!read_all(fd, q.data(), q.size())) break;
    ++tcp_queries_;
    bytes r = answer(q.data(), q.size(), true);
    if (r.empty()) continue;
    const unsigned char head[] = {static_cast<unsigned char>(r.size() >> 8),
                                  static_cast<unsigned char>(r.size() & 0xff)};
    r.insert(r.begin(), head, head + 2);
    if (write(fd, r.data(), r.size()) != static_cast<ssize_t>(r.size())) break;
  }
  close(fd);
}

}  // namespace isitup::dns::testing
