#include "http_target_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace isitup::test {

http_target_server::http_target_server() {
  thread_ = std::thread([this] { serve(); });
}

http_target_server::~http_target_server() {
  stop_ = true;
  thread_.join();
}

std::string http_target_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

void http_target_server::set_raw_reply(std::string reply) {
  std::lock_guard lock(mu_);
  raw_reply_ = std::move(reply);
}

std::string http_target_server::last_request() {
  std::lock_guard lock(mu_);
  return last_request_;
}

void http_target_server::serve() {
  accept_until(
      listener_, stop_,
      [this](int c) {
        answer(c);
        close(c);
      },
      std::chrono::milliseconds(100));
}

// Reads the request head (at most 1 s, 16 KiB), answers 200 with a small body.
void http_target_server::answer(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) return;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
  int status = status_.load();
  {
    std::lock_guard lock(mu_);
    if (!script_.empty()) {
      status = script_.front();
      script_.pop_front();
    }
  }
  std::string reply = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
                      "\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                      "Connection: close\r\n\r\nup\n";
  {
    std::lock_guard lock(mu_);
    if (!raw_reply_.empty()) reply = raw_reply_;
    last_request_ = head;
  }
  size_t sent = 0;
  while (sent < reply.size()) {
    const ssize_t n = send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
  ++requests_;
}

void http_target_server::script_statuses(std::vector<int> codes) {
  std::lock_guard lock(mu_);
  script_.assign(codes.begin(), codes.end());
}

}  // namespace isitup::test
