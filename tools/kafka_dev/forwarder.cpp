#include "forwarder.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include <isitup/util/error_text.hpp>

namespace isitup::kafka_dev {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// One client connection and its upstream twin.
struct link {
  int client;
  int server;
};

// Copies what is readable from `from` to `to` (blocking write); false when the link ends.
bool pump(int from, int to) {
  char buf[65536];
  const ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    const ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

}  // namespace

forwarder::forwarder(int port, int upstream) : upstream_(upstream) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 64) != 0) {
    const std::string why = sdk::error_text(errno);
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("--port " + std::to_string(port) + ": cannot listen: " + why);
  }
  if (pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  thread_ = std::thread([this] { run(); });
}

forwarder::~forwarder() {
  const char c = 0;
  (void)!write(wake_[1], &c, 1);
  thread_.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void forwarder::run() {
  std::vector<link> links;
  for (;;) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const link& l : links) {
      fds.push_back({l.client, POLLIN, 0});
      fds.push_back({l.server, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(upstream_);
        if (s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          links.push_back({c, s});
        } else {
          if (s >= 0) close(s);
          close(c);
        }
      }
    }
    std::vector<link> alive;
    for (size_t i = 0; i < links.size(); ++i) {
      const pollfd& pc = fds[2 + 2 * i];
      const pollfd& ps = fds[3 + 2 * i];
      bool ok = true;
      if (pc.revents) ok = pump(links[i].client, links[i].server);
      if (ok && ps.revents) ok = pump(links[i].server, links[i].client);
      if (ok) {
        alive.push_back(links[i]);
      } else {
        close(links[i].client);
        close(links[i].server);
      }
    }
    links.swap(alive);
  }
  for (const link& l : links) {
    close(l.client);
    close(l.server);
  }
}

}  // namespace isitup::kafka_dev
