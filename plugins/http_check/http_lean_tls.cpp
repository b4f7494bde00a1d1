// The lean engine's TLS (http_lean.cpp runs the rest of a hop): the one SSL_CTX of an engine,
// a connection's setup with the check's shared CA store and client identity, the handshake
// (paced: engine::take_handshake_slot, one budget for the loops of a plugin instance) and
// reads through OpenSSL.
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <isitup/util/error_text.hpp>

#include "http_engine.hpp"
#include "http_engine_internal.hpp"
#include "net/cert_time.hpp"

namespace isitup::http {

std::string lean_tls_reason(int ssl_error) {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  const int saved = errno;
  ERR_clear_error();
  if (reason) return reason;
  if (ssl_error == SSL_ERROR_SYSCALL && saved != 0) return sdk::error_text(saved);
  return ssl_error == SSL_ERROR_SYSCALL ? "the server closed the connection"
                                        : "SSL error " + std::to_string(ssl_error);
}

SSL_CTX* engine::make_lean_tls() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  // Every run is a full handshake that verifies the certificate: a resumed session would
  // verify nothing (and report an earlier run's certificate).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // A close without close_notify ends a close-delimited body, as on curl and plain http.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // A connection waiting for its answer holds no idle read/write buffers (RSS per check).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn) != 0) {  // 0 is success here
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}
bool engine::lean_tls_setup(job* j) {
  const check_config& cfg = *j->cfg;
  lean_conn* c = j->conn;
  const url_parts& t = j->target();
  std::string error;
  j->ca_now.reset();
  j->identity_now.reset();
  if (cfg.tls_verify && !(j->ca_now = cfg.ca->current(error))) {
    lean_fail(j, "tls", std::move(error));
    return false;
  }
  if (cfg.identity && !(j->identity_now = cfg.identity->current(error))) {
    lean_fail(j, "tls", std::move(error));
    return false;
  }
  c->ssl = SSL_new(lean_tls_);
  bool ok = c->ssl != nullptr;
  if (ok) take_handshake_slot(j, true);  // a queued run holds one since it left the queue
  // SNI for a host name, never for an address (as curl).
  if (ok && !t.host_is_ip) ok = SSL_set_tlsext_host_name(c->ssl, t.host.c_str()) == 1;
  if (ok && cfg.tls_verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(c->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = (t.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, t.host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, t.host.c_str(), t.host.size())) == 1 &&
         j->ca_now->install(c->ssl);
    SSL_set_verify(c->ssl, SSL_VERIFY_PEER, nullptr);  // a failed verification ends the handshake
  }
  if (ok && j->identity_now) ok = j->identity_now->install(c->ssl);
  if (!ok) lean_fail(j, "internal", "TLS setup: " + lean_tls_reason(SSL_ERROR_SSL));
  return ok;
}

bool engine::starts_lean_handshake(const job* j) {
  return j->target().scheme == "https" && j->cfg->lean_eligible(j->target());
}

double engine::pool_busy() const {
  double busy = 0;
  const int n = pool_->member_count.load();
  for (int i = 0; i < n; ++i)
    if (const engine* e = pool_->members[i].load())
      busy += e->busy_share_.load(std::memory_order_relaxed);
  return busy;
}

bool engine::handshakes_full() const {
  const int all = pool_->handshakes.load();
  if (all >= max_lean_handshakes) return true;
  if (lean_handshakes_ == 0) return false;  // this loop's next handshake wakes it
  return all >= lean_handshakes_busy && pool_busy() > lean_busy_share;
}

bool engine::take_handshake_slot(job* j, bool always) {
  if (j->holds_handshake_slot) return true;
  if (always) {
    pool_->handshakes.fetch_add(1);
  } else {
    // The hard bound exactly (loops take slots at the same time); the busy bound is a hint.
    if (handshakes_full()) return false;
    int all = pool_->handshakes.load();
    do {
      if (all >= max_lean_handshakes) return false;
    } while (!pool_->handshakes.compare_exchange_weak(all, all + 1));
  }
  j->holds_handshake_slot = true;
  ++lean_handshakes_;
  return true;
}

void engine::release_handshake_slot(job* j) {
  if (!j->holds_handshake_slot) return;
  j->holds_handshake_slot = false;
  --lean_handshakes_;
  pool_->handshakes.fetch_sub(1);
  if (destroying_) return;  // the other members are stopped, maybe destroyed
  const int n = pool_->member_count.load();
  for (int i = 0; i < n; ++i)
    if (engine* e = pool_->members[i].load();
        e && e != this && e->waits_for_handshake_.load(std::memory_order_relaxed))
      e->wake();
}

void engine::lean_handshake(job* j) {
  lean_conn* c = j->conn;
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_connect(c->ssl);
  if (rc != 1) {
    const int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;  // the next edge
    const long verify = SSL_get_verify_result(c->ssl);
    if (j->cfg->tls_verify && verify != X509_V_OK) {
      ERR_clear_error();
      if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        lean_fail(j, "tls",
                  "SSL: certificate subject name does not match target host name '" +
                      j->target().host + "'");
      } else {
        lean_fail(j, "tls",
                  std::string("SSL certificate problem: ") + X509_verify_cert_error_string(verify));
      }
      return;
    }
    lean_fail(j, "tls",
              "TLS handshake with " + c->ip + " port " + std::to_string(j->target().port) +
                  " failed: " + lean_tls_reason(e));
    return;
  }
  c->handshaking = false;
  c->secured = clock::now();
  release_handshake_slot(j);
  j->tls_not_after_ms = net::not_after_ms(SSL_get0_peer_certificate(c->ssl));
  if (j->cfg->connect_timeout_ms > 0) track_deadline(j, j->deadline);
  c->readable = true;  // OpenSSL may hold bytes read past the handshake
  lean_send(j);
}
ssize_t engine::lean_read(job* j, char* buf, size_t size) {
  lean_conn* c = j->conn;
  if (!c->ssl) return recv(c->fd, buf, size, 0);
  ERR_clear_error();
  errno = 0;
  const int n = SSL_read(c->ssl, buf, static_cast<int>(size));
  if (n > 0) return n;
  switch (const int e = SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_ZERO_RETURN:  // close_notify, or a close without it (IGNORE_UNEXPECTED_EOF)
      return 0;
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    default:
      c->tls_error = lean_tls_reason(e);
      errno = EPROTO;
      return -1;
  }
}

}  // namespace isitup::http
