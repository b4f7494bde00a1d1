// Test helper: TCP ports on 127.0.0.1 for checks to aim at.
#pragma once

namespace isitup::test {

// A socket listening on 127.0.0.1 on a port the kernel chose; connections are accepted by the
// kernel's backlog and never read. Throws std::runtime_error when it cannot listen.
class tcp_listener {
 public:
  tcp_listener();
  ~tcp_listener();
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  int port() const { return port_; }
  int fd() const { return fd_; }  // for a test server that accepts on it

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 that nothing listens on (bound by the kernel's choice, then closed).
int unused_port();

}  // namespace isitup::test
