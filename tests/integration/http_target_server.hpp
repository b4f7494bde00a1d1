// Test helper: a tiny HTTP/1.1 server on 127.0.0.1 (kernel-chosen port) that answers every
// request with "200 OK" (or the status set_status() chose) and a short body, then closes the
// connection. One thread, connections served one after another: enough for a few checks every few
// hundred milliseconds.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "listener.hpp"

namespace isitup::test {

class http_target_server {
 public:
  http_target_server();   // listening when it returns; throws std::runtime_error otherwise
  ~http_target_server();  // stops the thread, closes the socket
  http_target_server(const http_target_server&) = delete;
  http_target_server& operator=(const http_target_server&) = delete;

  int port() const { return listener_.port(); }
  // "http://127.0.0.1:<port><path>"
  std::string url(const std::string& path) const;
  long requests() const { return requests_.load(); }
  // The status code of every answer from now on (200 until set).
  void set_status(int code) { status_ = code; }
  // The next answers, one each, in order; then set_status()'s code again.
  void script_statuses(std::vector<int> codes);
  // Every answer from now on is exactly `reply` (status line, headers and body as given),
  // e.g. "HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n"; empty goes back to set_status().
  void set_raw_reply(std::string reply);
  // The head of the last request answered ("" before the first).
  std::string last_request();

 private:
  void serve();
  void answer(int fd);

  tcp_listener listener_;
  std::atomic<bool> stop_{false};
  std::atomic<long> requests_{0};
  std::atomic<int> status_{200};
  std::mutex mu_;
  std::string raw_reply_;     // guarded by mu_
  std::deque<int> script_;    // guarded by mu_
  std::string last_request_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace isitup::test
