// A TCP (and TLS) connection check engine: one event-loop thread per plugin instance (epoll),
// host names looked up by net::resolver on the same loop, no thread per check. A run connects
// to host:port, optionally speaks a STARTTLS prelude (SMTP, IMAP, POP3), optionally does a TLS
// handshake (CA store from net::tls_cache, verification of the chain and the host name),
// optionally sends bytes and reads until an RE2 pattern matches the first bytes read.
// tcp_check and tls_check are thin layers over it.
//
// Contract: submit() may be called from any thread and returns at once; each submitted run
// completes exactly once, on the loop thread, within its timeout (plus loop latency), unless
// the engine is destroyed first: the destructor stops the loop and drops every run still in
// flight without completing it (the ABI's destroy() contract).
#pragma once

#include <openssl/ssl.h>
#include <re2/re2.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <isitup/plugin.hpp>

#include "net/resolver.hpp"
#include "net/tls_store.hpp"

namespace isitup::net {

enum class starttls_kind { none, smtp, imap, pop3 };

// host:port of a check's target. IPv6 literals in brackets ("[::1]:443").
struct host_port {
  std::string host;  // without brackets
  uint16_t port = 0;
  bool host_is_ip = false;
};
// How a run behaves. Made at prepare time, immutable and shared by the runs afterwards.
struct conn_options {
  resolver::family family = resolver::family::v4;  // the family tried first
  bool ip_fallback = true;                         // the other one when it has no address
  std::string dns_servers;                         // "ip[:port],..." or "": resolv.conf
  std::chrono::milliseconds connect_timeout{0};    // 0: only the run's timeout
  starttls_kind starttls = starttls_kind::none;
  bool tls = false;  // a TLS handshake after connect (always after STARTTLS)
  bool tls_verify = true;
  std::string server_name;                   // SNI and the verified name; "": the host
  std::shared_ptr<tls_source> ca, identity;  // tls_verify: the CA store; client identity
  std::string send;                          // bytes sent once connected (and secured)
  std::unique_ptr<re2::RE2> expect;          // read until it matches the bytes read so far
  size_t read_limit = 4096;                  // bytes read at most for `expect`
  // After a handshake: sees the connection and OpenSSL's verification result (X509_V_OK or
  // why not; checked by the engine afterwards when tls_verify), may fill `r` (extra, down).
  // Loop thread.
  std::function<void(SSL* ssl, long verify_result, sdk::result& r)> inspect;
};

class conn_engine {
 public:
  using clock = std::chrono::steady_clock;

  // `who` names the plugin in logs and errors.
  conn_engine(sdk::host host, std::string who);
  ~conn_engine();
  conn_engine(const conn_engine&) = delete;
  conn_engine& operator=(const conn_engine&) = delete;

  // Runs one check; `done` is called within `timeout` (plus loop latency). Any thread.
  void submit(const host_port& target, std::shared_ptr<const conn_options> options,
              std::chrono::milliseconds timeout, sdk::completion done);

 private:
  struct run;
  friend struct run;

  void loop();
  int next_timeout_ms();
  void take_incoming();
  void admit();        // starts queued TLS runs while there is room
  void begin(run* r);  // leaves the queue: lookup or connect
  void release_tls_slot(run* r);
  void expire(clock::time_point now);
  void resolved(run* r, const resolver::outcome& o);
  void start_connect(run* r, const std::string& ip);
  void on_socket(int fd, uint32_t events);
  void step(run* r);  // advances the run as far as its socket allows
  void connected(run* r);
  bool starttls_step(run* r);  // false: waits for more input (or the run finished)
  void start_handshake(run* r);
  void handshake(run* r);
  void secured(run* r);
  void sending(run* r);
  void reading(run* r);
  void want(run* r, uint32_t events);
  void set_deadline(run* r, clock::time_point at);
  void finish(run* r, sdk::result res);
  void fail(run* r, const char* kind, std::string message);

  sdk::host host_;
  const std::string who_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  SSL_CTX* ssl_ctx_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sleeping_{false};
  std::mutex incoming_mu_;
  std::vector<run*> incoming_;
  // Loop thread only from here on.
  std::unordered_set<run*> runs_;
  // TLS runs in progress at most; more wait in tls_queue_ (their timeout running, their phases
  // not begun). Each handshake step takes ~0.3 ms of the loop's CPU: 200 handshakes at once
  // would put tens of milliseconds into every `tls` phase in flight.
  static constexpr int max_tls_runs = 8;
  int tls_active_ = 0;
  std::vector<run*> tls_queue_;  // oldest first from queue_head_; null: ended while queued
  size_t queue_head_ = 0;
  std::vector<run*> by_fd_;
  std::multimap<clock::time_point, run*> deadlines_;
  std::unique_ptr<resolver> resolver_;
  std::thread thread_;  // last: started when everything above exists
};

}  // namespace isitup::net
