// Helpers of conn_engine.cpp and starttls.cpp. Loop thread.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "net/conn_engine.hpp"

namespace isitup::net::detail {

// OpenSSL's reason for the last failure (and the error queue cleared).
inline std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown OpenSSL error";
}

// Reads what is there into `in` (at most `limit` bytes in all). Returns 1 with new bytes, 0
// when nothing more can be read now, -1 at the peer's close, -2 on an error (in `error`).
inline int read_some(SSL* ssl, int fd, std::string& in, size_t limit, std::string& error) {
  char buf[4096];
  const size_t room = std::min(sizeof buf, limit - in.size());
  if (room == 0) return 0;
  if (ssl) {
    ERR_clear_error();
    const int n = SSL_read(ssl, buf, static_cast<int>(room));
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      return 1;
    }
    const int e = SSL_get_error(ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0))
      return -1;
    error = "reading: " + openssl_reason();
    return -2;
  }
  const ssize_t n = recv(fd, buf, room, 0);
  if (n > 0) {
    in.append(buf, static_cast<size_t>(n));
    return 1;
  }
  if (n == 0) return -1;
  if (errno == EAGAIN || errno == EINTR) return 0;
  error = std::string("reading: ") + sdk::error_text(errno);
  return -2;
}

}  // namespace isitup::net::detail

namespace isitup::net {

// One run: its state from submit to completion.
struct conn_engine::run : resolver::request {
  enum class phase { queued, resolving, connecting, prelude, handshake, sending, reading };
  conn_engine* owner;
  host_port target;
  std::shared_ptr<const conn_options> opt;
  sdk::completion done;
  clock::time_point deadline, begun, phase_at;
  std::multimap<clock::time_point, run*>::iterator deadline_it;
  bool has_deadline = false;
  phase at = phase::queued;
  size_t queue_pos = 0;         // in conn_engine::tls_queue_ while queued
  bool holds_tls_slot = false;  // counted in conn_engine::tls_active_
  int fd = -1;
  uint32_t events = 0;  // registered on epoll
  std::string ip;
  SSL* ssl = nullptr;
  std::shared_ptr<const tls_material> ca_now, identity_now;
  int prelude_step = 0;
  bool starttls_offered = false;  // SMTP: the EHLO answer lists STARTTLS
  std::string in;                 // bytes read (prelude lines, or the answer `expect` looks at)
  size_t sent = 0;
  sdk::result res = sdk::result::ok();

  run(conn_engine* e, host_port t, std::shared_ptr<const conn_options> o, sdk::completion d)
      : owner(e), target(std::move(t)), opt(std::move(o)), done(std::move(d)) {}
  void resolved(const resolver::outcome& o) override { owner->resolved(this, o); }
  void close_socket() {
    if (ssl) SSL_free(ssl);
    ssl = nullptr;
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

}  // namespace isitup::net
