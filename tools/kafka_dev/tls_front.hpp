// A TLS front for one mock broker: listens on 127.0.0.1, terminates TLS (OpenSSL) on every
// connection, forwards the Kafka requests to the broker's plaintext port and its responses
// back, with the broker ports in Metadata and FindCoordinator responses replaced by the TLS
// fronts' ports (kafka_frames.hpp), so clients only ever connect over TLS.
// Threads: one accept thread per front and one thread per client connection; the destructor
// closes every connection and joins them all.
#pragma once

#include <openssl/ssl.h>

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kafka_frames.hpp"

namespace isitup::kafka_dev {

// The server side TLS settings shared by every front. Throws std::runtime_error naming the
// file that cannot be used.
class tls_context {
 public:
  // cert: PEM certificate (chain) of the broker; key: its PEM private key (unencrypted);
  // client_ca: when not empty, clients must present a certificate issued by this CA.
  tls_context(const std::string& cert, const std::string& key, const std::string& client_ca);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;
  SSL_CTX* get() const { return ctx_; }
  // Clients must then authenticate with SASL/PLAIN and these credentials. Call before any
  // front starts.
  void require_sasl_plain(sasl_plain creds) { sasl_ = std::move(creds); }
  const sasl_plain* sasl() const { return sasl_.user.empty() ? nullptr : &sasl_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  sasl_plain sasl_;
};

class tls_front {
 public:
  // Listens at once on 127.0.0.1:port (0: a free port); throws std::runtime_error when it
  // cannot. Connections are accepted only after start().
  tls_front(int port, int upstream, const tls_context& tls);
  ~tls_front();
  tls_front(const tls_front&) = delete;
  tls_front& operator=(const tls_front&) = delete;

  int port() const { return port_; }
  // Starts accepting; `ports` must outlive the front and not change any more.
  void start(const port_map& ports);

 private:
  struct connection {
    int client = -1;
    int server = -1;
    bool done = false;
    std::thread thread;
  };
  void accept_loop();
  void serve(connection& c);
  void reap(bool all);

  const tls_context& tls_;
  const port_map* ports_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  int upstream_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mutex_;  // guards connections_ (the list, the fds and done)
  std::list<connection> connections_;
};

}  // namespace isitup::kafka_dev
