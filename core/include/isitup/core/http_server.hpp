// The agent's HTTP interface: a small, bounded listener (cpp-httplib) that serves what an
// http_service answers. Knows nothing of checks or metrics: only requests, limits and auth.
//
// Bounds, so that hostile clients cannot stall it or grow its memory:
// - `workers` threads serve connections, at most `max_queued` more wait for a worker; a
//   connection beyond that is answered 503 and closed at once by the accepting thread.
// - a connection must send its whole request head (request line and headers, at most
//   max_head_bytes) within head_timeout of being accepted (time waiting for a worker counts),
//   or it is closed (408, or 431 when too large).
// - one request per connection (no keep-alive), bodies at most 1 KiB, reads and writes time
//   out after io_timeout.
// - GET and HEAD only; the path decides the route, nothing is read from the file system.
// Auth: with a token, every path but /healthz needs "Authorization: Bearer <token>"
// (compared in constant time), else 401. The token is never logged.
//
// Threads: start() and stop() from one thread (the agent's main thread). The service's
// methods are called on the listener's worker threads, several at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <isitup/core/config.hpp>

namespace isitup {

struct http_reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class http_service {
 public:
  virtual ~http_service() = default;
  virtual http_reply healthz() = 0;
  virtual http_reply readyz() = 0;
  virtual http_reply metrics() = 0;
  virtual http_reply checks() = 0;
  // `name` is URL-decoded and may be anything; `last` is the ?last= parameter, or empty.
  virtual http_reply check(const std::string& name, const std::string& last) = 0;
  virtual http_reply status_page() = 0;
};

struct http_limits {
  int workers = 4;
  std::size_t max_queued = 64;
  std::size_t max_head_bytes = 16384;
  std::chrono::milliseconds head_timeout{3000};
  std::chrono::milliseconds io_timeout{5000};
};

struct http_stats {
  std::map<int, uint64_t> answered;  // requests answered, by status
  // Connections closed without serving them: no worker free and the queue full (503), the
  // head not in within head_timeout (408), too large (431), closed or broken before (400).
  uint64_t refused_busy = 0, refused_timeout = 0, refused_too_large = 0, refused_bad = 0;
};

// A JSON error body: {"error": {"status": 404, "message": "..."}}.
http_reply json_error(int status, const std::string& message);

class http_server {
 public:
  // `service` must outlive the server.
  http_server(config::http_settings settings, http_service& service, http_limits limits = {});
  ~http_server();  // stop()s
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and starts the listener thread. Throws std::runtime_error when it cannot bind.
  void start();
  // Closes the listening socket, lets connections in progress finish (bounded by the
  // timeouts) and joins every thread.
  void stop();
  int port() const { return port_; }
  http_stats stats() const;  // any thread

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  int port_ = 0;
};

}  // namespace isitup
