#include "net/conn_engine.hpp"

#include "net/cert_time.hpp"
#include "net/conn_internal.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <isitup/text.hpp>
#include <isitup/util/error_text.hpp>

namespace isitup::net {

namespace {

constexpr uint64_t tag_wake = 0;
constexpr uint64_t tag_conn = 1;
constexpr uint32_t tag_resolver = 2;  // + channel index

uint64_t epoll_key(uint64_t tag, int fd) { return (tag << 32) | static_cast<uint32_t>(fd); }

double ms_between(conn_engine::clock::time_point a, conn_engine::clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

using detail::openssl_reason;
using detail::read_some;

}  // namespace

conn_engine::conn_engine(sdk::host host, std::string who) : host_(host), who_(std::move(who)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  if (epoll_fd_ < 0 || wake_fd_ < 0 || !ssl_ctx_) {
    const int err = errno;
    if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), who_ + ": event loop setup");
  }
  // Verification runs in every handshake; the run reads its result afterwards, so that a
  // check can report the certificate it refuses.
  SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_NONE, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = epoll_key(tag_wake, wake_fd_);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  resolver_ = std::make_unique<resolver>(host_, epoll_fd_, tag_resolver);
  thread_ = std::thread([this] { loop(); });
}

conn_engine::~conn_engine() {
  stopping_ = true;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) { /* the loop also wakes within a second */
  }
  thread_.join();
  for (run* r : incoming_) runs_.insert(r);
  resolver_.reset();  // drops its lookups without calling back
  for (run* r : runs_) {
    r->close_socket();
    delete r;
  }
  SSL_CTX_free(ssl_ctx_);
  close(wake_fd_);
  close(epoll_fd_);
}

void conn_engine::submit(const host_port& target, std::shared_ptr<const conn_options> options,
                         std::chrono::milliseconds timeout, sdk::completion done) {
  auto* r = new run(this, target, std::move(options), std::move(done));
  r->begun = clock::now();
  r->deadline = r->begun + timeout;
  {
    std::lock_guard lock(incoming_mu_);
    incoming_.push_back(r);
  }
  if (sleeping_.exchange(false)) {
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof one) < 0) { /* already signalled */
    }
  }
}

void conn_engine::loop() {
  // OpenSSL writes to sockets with write(): a peer that closed first must give EPIPE, not a
  // SIGPIPE that kills a host which does not ignore it (the agent does; a test may not).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  epoll_event events[256];
  while (!stopping_) {
    sleeping_.store(true);
    const int n = epoll_wait(epoll_fd_, events, 256, next_timeout_ms());
    sleeping_.store(false);
    for (int i = 0; i < n; ++i) {
      const auto tag = static_cast<uint32_t>(events[i].data.u64 >> 32);
      const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
      if (tag == tag_wake) {
        uint64_t count;
        if (read(wake_fd_, &count, sizeof count) < 0) { /* raced: nothing to read */
        }
      } else if (tag == tag_conn) {
        on_socket(fd, events[i].events);
      } else if (resolver_->owns_tag(tag)) {
        resolver_->on_event(tag, fd, events[i].events);
      }
    }
    resolver_->process_timeouts();
    expire(clock::now());
    take_incoming();
    admit();
  }
}

int conn_engine::next_timeout_ms() {
  {
    std::lock_guard lock(incoming_mu_);
    if (!incoming_.empty()) return 0;
  }
  if (tls_active_ < max_tls_runs && queue_head_ < tls_queue_.size()) return 0;
  const clock::time_point now = clock::now();
  clock::time_point wake = now + std::chrono::seconds(1);
  if (!deadlines_.empty() && deadlines_.begin()->first < wake) wake = deadlines_.begin()->first;
  wake = resolver_->next_wake(now, wake);
  if (wake <= now) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wake - now).count());
}

void conn_engine::take_incoming() {
  std::vector<run*> taken;
  {
    std::lock_guard lock(incoming_mu_);
    taken.swap(incoming_);
  }
  for (run* r : taken) {
    runs_.insert(r);
    set_deadline(r, r->deadline);
    if (r->opt->tls && (tls_active_ >= max_tls_runs || queue_head_ < tls_queue_.size())) {
      r->queue_pos = tls_queue_.size();
      tls_queue_.push_back(r);
      continue;
    }
    begin(r);
  }
}

void conn_engine::admit() {
  while (tls_active_ < max_tls_runs && queue_head_ < tls_queue_.size()) {
    run* r = tls_queue_[queue_head_++];
    if (r) begin(r);
  }
  if (queue_head_ == tls_queue_.size()) {
    tls_queue_.clear();
    queue_head_ = 0;
  }
}

void conn_engine::begin(run* r) {
  if (r->opt->tls) {
    r->holds_tls_slot = true;
    ++tls_active_;
  }
  r->at = run::phase::resolving;
  r->begun = r->phase_at = clock::now();  // waiting for a slot is in no phase
  if (r->target.host_is_ip) return start_connect(r, r->target.host);
  resolver_->resolve(*r, r->opt->dns_servers,
                     r->opt->ip_fallback ? resolver::family::any : r->opt->family, r->target.host);
}

void conn_engine::set_deadline(run* r, clock::time_point at) {
  if (r->has_deadline) deadlines_.erase(r->deadline_it);
  r->deadline_it = deadlines_.emplace(std::min(at, r->deadline), r);
  r->has_deadline = true;
}

void conn_engine::expire(clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    run* r = deadlines_.begin()->second;
    const std::string where = r->target.host + ":" + std::to_string(r->target.port);
    switch (r->at) {
      case run::phase::queued:
        fail(r, "timeout",
             "timed out waiting to start (at most " + std::to_string(max_tls_runs) +
                 " TLS runs at once per plugin instance)");
        break;
      case run::phase::resolving:
        fail(r, "timeout", "timed out resolving " + r->target.host);
        break;
      case run::phase::connecting:
        fail(r, "timeout", "timed out connecting to " + where);
        break;
      case run::phase::prelude:
        fail(r, "timeout", "timed out in the STARTTLS dialogue with " + where);
        break;
      case run::phase::handshake:
        fail(r, "timeout", "timed out in the TLS handshake with " + where);
        break;
      case run::phase::sending:
        fail(r, "timeout", "timed out sending to " + where);
        break;
      case run::phase::reading:
        fail(r, "timeout",
             "timed out waiting for a match of expect (" + std::to_string(r->in.size()) +
                 " bytes read: '" + sdk::shown_value(r->in, 60) + "')");
        break;
    }
  }
}

void conn_engine::resolved(run* r, const resolver::outcome& o) {
  r->res.dns_ms = ms_between(r->phase_at, clock::now());
  if (!o.ok) return fail(r, "dns", o.error + " for " + r->target.host);
  const bool v4_first = r->opt->family == resolver::family::v4;
  const auto& first = v4_first ? o.found->v4 : o.found->v6;
  const auto& second = v4_first ? o.found->v6 : o.found->v4;
  if (!first.empty()) return start_connect(r, first.front());
  if (r->opt->ip_fallback && !second.empty()) return start_connect(r, second.front());
  fail(r, "dns",
       std::string("no ") + (v4_first ? "IPv4" : "IPv6") + " address for " + r->target.host);
}

void conn_engine::start_connect(run* r, const std::string& ip) {
  r->ip = ip;
  r->res.ip = ip;
  r->at = run::phase::connecting;
  r->phase_at = clock::now();
  if (r->opt->connect_timeout.count() > 0) set_deadline(r, r->phase_at + r->opt->connect_timeout);
  sockaddr_storage sa{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&sa);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&sa);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(r->target.port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(r->target.port);
    len = sizeof *v6;
  } else {
    return fail(r, "internal", "not an address: " + ip);
  }
  r->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (r->fd < 0) return fail(r, "connect", std::string("socket: ") + sdk::error_text(errno));
  const int one = 1;
  setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (static_cast<size_t>(r->fd) >= by_fd_.size()) by_fd_.resize(r->fd + 64, nullptr);
  by_fd_[r->fd] = r;
  if (connect(r->fd, reinterpret_cast<sockaddr*>(&sa), len) == 0) return connected(r);
  if (errno != EINPROGRESS)
    return fail(r, "connect", "connecting to " + ip + ": " + sdk::error_text(errno));
  want(r, EPOLLOUT);
}

void conn_engine::want(run* r, uint32_t events) {
  if (r->events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = epoll_key(tag_conn, r->fd);
  epoll_ctl(epoll_fd_, r->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, r->fd, &ev);
  r->events = events;
}

void conn_engine::on_socket(int fd, uint32_t events) {
  run* r = static_cast<size_t>(fd) < by_fd_.size() ? by_fd_[fd] : nullptr;
  if (!r) return;
  if (r->at == run::phase::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) return connected(r);
    if (err == 0) err = ECONNREFUSED;
    return fail(r, "connect",
                "connecting to " + r->ip + " port " + std::to_string(r->target.port) + ": " +
                    sdk::error_text(err));
  }
  step(r);
}

void conn_engine::connected(run* r) {
  const clock::time_point now = clock::now();
  r->res.connect_ms = ms_between(r->phase_at, now);
  set_deadline(r, r->deadline);  // connect_timeout no longer applies
  r->phase_at = now;
  if (r->opt->starttls != starttls_kind::none) {
    r->at = run::phase::prelude;
    want(r, EPOLLIN);
    return;
  }
  if (r->opt->tls) return start_handshake(r);
  secured(r);
}

void conn_engine::step(run* r) {
  switch (r->at) {
    case run::phase::prelude:
      while (r->at == run::phase::prelude && starttls_step(r)) {
      }
      return;
    case run::phase::handshake:
      return handshake(r);
    case run::phase::sending:
      return sending(r);
    case run::phase::reading:
      return reading(r);
    default:
      return;
  }
}

void conn_engine::start_handshake(run* r) {
  const conn_options& o = *r->opt;
  r->at = run::phase::handshake;
  r->phase_at = clock::now();
  r->ssl = SSL_new(ssl_ctx_);
  if (!r->ssl || SSL_set_fd(r->ssl, r->fd) != 1)
    return fail(r, "internal", "TLS setup: " + openssl_reason());
  const std::string& name = o.server_name.empty() ? r->target.host : o.server_name;
  unsigned char buf[sizeof(in6_addr)];
  const bool name_is_ip =
      inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
  if (!name_is_ip) SSL_set_tlsext_host_name(r->ssl, name.c_str());
  std::string error;
  if (o.tls_verify) {
    if (o.ca && !(r->ca_now = o.ca->current(error))) return fail(r, "tls", error);
    if (r->ca_now && !r->ca_now->install(r->ssl))
      return fail(r, "internal", "TLS setup: " + openssl_reason());
    X509_VERIFY_PARAM* param = SSL_get0_param(r->ssl);
    if (name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1
                   : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1)
      return fail(r, "internal", "TLS setup: " + openssl_reason());
  }
  if (o.identity) {
    if (!(r->identity_now = o.identity->current(error))) return fail(r, "tls", error);
    if (!r->identity_now->install(r->ssl))
      return fail(r, "internal", "TLS setup: " + openssl_reason());
  }
  handshake(r);
}

void conn_engine::handshake(run* r) {
  ERR_clear_error();
  const int rc = SSL_connect(r->ssl);
  if (rc != 1) {
    const int e = SSL_get_error(r->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return want(r, EPOLLIN);
    if (e == SSL_ERROR_WANT_WRITE) return want(r, EPOLLOUT);
    const std::string why = e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0
                                ? std::string("the server closed the connection")
                                : openssl_reason();
    return fail(r, "tls", "TLS handshake with " + r->ip + " failed: " + why);
  }
  const clock::time_point now = clock::now();
  release_tls_slot(r);
  r->res.tls_ms = ms_between(r->phase_at, now);
  r->phase_at = now;
  r->res.tls_not_after_ms = not_after_ms(SSL_get0_peer_certificate(r->ssl));
  r->res.tls_days_left = days_left(r->res.tls_not_after_ms);
  const long verify = SSL_get_verify_result(r->ssl);
  if (r->opt->inspect) r->opt->inspect(r->ssl, verify, r->res);
  if (r->opt->tls_verify && verify != X509_V_OK)
    return fail(r, "tls",
                std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify));
  if (!r->res.up) return finish(r, std::move(r->res));
  secured(r);
}

void conn_engine::secured(run* r) {
  r->phase_at = clock::now();
  if (!r->opt->send.empty()) {
    r->at = run::phase::sending;
    return sending(r);
  }
  if (r->opt->expect) {
    r->at = run::phase::reading;
    want(r, EPOLLIN);
    return reading(r);
  }
  finish(r, std::move(r->res));
}

void conn_engine::sending(run* r) {
  const std::string& data = r->opt->send;
  while (r->sent < data.size()) {
    const size_t left = data.size() - r->sent;
    if (r->ssl) {
      ERR_clear_error();
      const int n = SSL_write(r->ssl, data.data() + r->sent, static_cast<int>(left));
      if (n <= 0) {
        const int e = SSL_get_error(r->ssl, n);
        if (e == SSL_ERROR_WANT_READ) return want(r, EPOLLIN);
        if (e == SSL_ERROR_WANT_WRITE) return want(r, EPOLLOUT);
        return fail(r, "connect", "sending: " + openssl_reason());
      }
      r->sent += static_cast<size_t>(n);
    } else {
      const ssize_t n = ::send(r->fd, data.data() + r->sent, left, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return want(r, EPOLLOUT);
      if (n < 0) return fail(r, "connect", std::string("sending: ") + sdk::error_text(errno));
      r->sent += static_cast<size_t>(n);
    }
  }
  if (!r->opt->expect) return finish(r, std::move(r->res));
  r->at = run::phase::reading;
  want(r, EPOLLIN);
  reading(r);
}

void conn_engine::reading(run* r) {
  const conn_options& o = *r->opt;
  for (;;) {
    std::string error;
    const bool first = r->in.empty();
    const int got = read_some(r->ssl, r->fd, r->in, o.read_limit, error);
    if (got == -2) return fail(r, "connect", error);
    if (got == 1 && first) r->res.ttfb_ms = ms_between(r->begun, clock::now());
    if (got == 1 && re2::RE2::PartialMatch(r->in, *o.expect)) {
      r->res.regex_match = 1;
      return finish(r, std::move(r->res));
    }
    if (got == 1) continue;
    if (got == -1 || r->in.size() >= o.read_limit) {
      r->res.regex_match = 0;
      const std::string why =
          got == -1 ? "before the server closed the connection"
                    : "in the first " + std::to_string(o.read_limit) + " bytes (read_limit)";
      r->res.up = false;
      r->res.error_kind = "body_mismatch";
      r->res.error_message =
          "expect did not match " + why + ": '" + sdk::shown_value(r->in, 60) + "'";
      return finish(r, std::move(r->res));
    }
    return want(r, EPOLLIN);
  }
}

void conn_engine::fail(run* r, const char* kind, std::string message) {
  sdk::result res = std::move(r->res);
  res.up = false;
  res.error_kind = kind;
  res.error_message = std::move(message);
  finish(r, std::move(res));
}

void conn_engine::release_tls_slot(run* r) {
  if (!r->holds_tls_slot) return;
  r->holds_tls_slot = false;
  --tls_active_;
}

void conn_engine::finish(run* r, sdk::result res) {
  release_tls_slot(r);
  if (r->at == run::phase::queued) tls_queue_[r->queue_pos] = nullptr;
  if (r->has_deadline) deadlines_.erase(r->deadline_it);
  r->has_deadline = false;
  resolver_->cancel(*r);
  if (r->fd >= 0) {
    by_fd_[r->fd] = nullptr;
    if (r->ssl && res.up) SSL_shutdown(r->ssl);  // close_notify, best effort, not waited for
  }
  r->close_socket();  // closing removes the fd from epoll
  res.total_ms = ms_between(r->begun, clock::now());
  runs_.erase(r);
  sdk::completion done = std::move(r->done);
  delete r;
  done(res);
}

}  // namespace isitup::net
