// Test helper: a webhook receiver on 127.0.0.1 that records every request it reads and answers
// each with what a test's responder says (default 200). HTTP/1.1, one request per connection
// (it answers with Connection: close), plain or TLS (a PEM certificate and key).
//
// Threads: one accept thread serves connections one at a time; every public member may be
// called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace isitup::test {

class webhook_receiver {
 public:
  using clock = std::chrono::steady_clock;
  struct request {
    std::string method, target;                                // target: path and query as sent
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    clock::time_point at;
    // The first header of that (lower-case) name, "" when absent.
    std::string header(const std::string& name) const;
  };
  struct answer {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  // Called for the n-th request (0-based), after it was recorded.
  using responder = std::function<answer(const request&, size_t n)>;

  struct tls_files {
    std::string cert, key;
  };

  // Listens on 127.0.0.1:port (0: a port the kernel picks). Throws std::runtime_error.
  explicit webhook_receiver(int port = 0, responder r = {}, const tls_files& tls = {});
  ~webhook_receiver();
  webhook_receiver(const webhook_receiver&) = delete;
  webhook_receiver& operator=(const webhook_receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;
  void set_responder(responder r);
  std::vector<request> requests() const;
  // Waits until at least n requests were recorded; false on timeout.
  bool wait_for(size_t n, std::chrono::milliseconds timeout) const;

 private:
  void serve();
  void handle(int fd);

  int fd_ = -1;
  int port_ = 0;
  void* tls_ctx_ = nullptr;  // SSL_CTX*
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  responder responder_;
  std::vector<request> requests_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace isitup::test
