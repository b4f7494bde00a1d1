// A TCP server on 127.0.0.1 for tcp_check's and tls_check's tests, one thread per connection:
// it can send a banner, echo, play the server side of an SMTP, IMAP or POP3 STARTTLS
// dialogue, and speak TLS (at once or after STARTTLS) with given PEM files (OpenSSL). Every
// blocking call is bounded (5 s); the destructor stops the server and joins its threads.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace isitup::net::testing {

struct server_options {
  std::string banner;               // sent first (plain, or after TLS when `tls` without STARTTLS)
  bool echo = false;                // then echo what is read
  bool close_after_banner = false;  // close right after the banner
  std::string starttls;             // "smtp", "imap", "pop3" or "": the dialogue to play
  bool offer_starttls = true;       // smtp: list STARTTLS in the EHLO answer
  std::string after_yes;            // bytes sent right after the yes to STARTTLS (an attack)
  bool tls = false;                 // TLS (at once, or after STARTTLS)
  std::string cert, key;            // PEM: the certificate file may hold the chain after it
};

class line_server {
 public:
  explicit line_server(server_options o);
  ~line_server();
  line_server(const line_server&) = delete;
  line_server& operator=(const line_server&) = delete;
  int port() const { return port_; }
  const std::string& error() const { return error_; }  // empty when it serves
  int connections() const { return connections_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  server_options o_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::string error_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace isitup::net::testing
