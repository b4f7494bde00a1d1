// Servers the http_check tests (and the HTTP benchmark) start on loopback: nginx with a
// generated config and certificates, small misbehaving HTTP servers, and a tiny UDP DNS
// responder. Every server stops (and its threads end) in its destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"
#include "tls_certs.hpp"

namespace isitup::http::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
int free_port(const char* address = "127.0.0.1");
// True when ::1 can be bound here.
bool ipv6_loopback_available();
// Waits until address:port accepts TCP connections, at most `timeout`.
bool wait_for_port(const std::string& address, int port, std::chrono::milliseconds timeout);

// nginx (Debian's nginx-light) in a temp dir, single process, serving:
//   /            200 "hello isitup"        /404, /500   those statuses
//   /created     201                       /method      200 with the request method
//   /header      200 "x-isitup=<X-Isitup header> ua=<User-Agent>"
//   /redirect    302 -> /                  /loop        302 -> /loop
//   /to-file     302 -> file:///etc/passwd /to-https   302 -> https://localhost:<https>/
//   /slow        the answer after `slow_seconds` (bench: lots of slow responses)
// on http_port and https_port (127.0.0.1 and the extra addresses; valid certificate),
// expired_port, wrong_host_port, mtls_port (valid certificate; requires a client certificate
// signed by the CA), https_fresh_port (valid certificate, session resumption off: every
// connection a full handshake, as a check makes; wrk resumes sessions where it can), and
// http6_port on [::1] when IPv6 is available. Absolute-form requests
// ("GET http://any.host/ HTTP/1.1") are served too, so http_port also acts as an HTTP proxy.
class nginx_server {
 public:
  struct options {
    std::vector<std::string> extra_addresses;  // more 127.x.y.z to listen on (bench)
    int worker_processes = 0;                  // 0: single process (master_process off)
    double slow_seconds = 2.0;
  };
  nginx_server();
  explicit nginx_server(const options& opts);
  ~nginx_server();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const test::tls_certs& certs() const { return *certs_; }

  int http_port = 0, https_port = 0, expired_port = 0, wrong_host_port = 0, mtls_port = 0,
      http6_port = 0, https_fresh_port = 0;

 private:
  bool launch(const options& opts);  // picks ports, writes the config, starts nginx

  test::temp_dir dir_;
  std::unique_ptr<test::tls_certs> certs_;
  std::unique_ptr<test::child_process> process_;
  std::string error_;
};

// One HTTP server that misbehaves in a chosen way on every connection.
class bad_server {
 public:
  enum class mode {
    silent,           // accepts, reads, never answers
    trickle,          // a valid head, then the body at 1 byte per second
    endless,          // a valid head, then body bytes forever
    garbage,          // a line that is not HTTP, then closes
    reset,            // a head announcing 100000 bytes, 1000 bytes, then a TCP reset
    chunked,          // a valid chunked answer "hello chunked world" (in three chunks)
    close_delimited,  // an HTTP/1.0 answer "until close" without length, then closes
  };
  explicit bad_server(mode m);
  ~bad_server();
  int port() const { return port_; }

 private:
  void serve(int fd);
  mode mode_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

// A UDP DNS server on 127.0.0.1 answering:
//   ok.test          A 127.0.0.1 (TTL 60), no AAAA      short.test   the same, TTL 1 s
//   v6only.test      AAAA ::1, no A
//   xn--bcher-kva.test (bücher.test)  A 127.0.0.1 (TTL 60)
//   nx.test          NXDOMAIN          servfail.test   SERVFAIL
//   anything else    NXDOMAIN, with an SOA whose MINIMUM is 1 s (negative TTL 1 s)
class dns_server {
 public:
  dns_server();
  ~dns_server();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_.load(); }

 private:
  void serve();
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

}  // namespace isitup::http::testing
