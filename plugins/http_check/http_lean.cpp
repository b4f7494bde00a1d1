// The lean HTTP/1.1 engine: http:// and https:// hops without a proxy or connection reuse
// (the default availability checks) run here instead of on libcurl, on the same epoll loop.
// libcurl spends about 50 us of CPU per transfer building the request, parsing the URL and
// formatting strings, and for https:// makes a new SSL_CTX per connection (~0.1 ms with
// OpenSSL 3); a fresh check needs none of it. The request text is built once per configuration
// (http_config.cpp); per run this file does socket, connect, one epoll_ctl (edge-triggered,
// both directions, never modified), for https:// an OpenSSL handshake from the engine's one
// SSL_CTX with the check's shared CA store and client identity installed by reference
// (net/tls_store.hpp), send, recv and close, and parses the answer with Node's http_parser
// (Debian's libhttp-parser). It speaks HTTP/1.1 only (ALPN "http/1.1"). Proxies, reuse,
// user:password@ and engine: curl stay on curl; a redirect is followed here while the next hop
// is eligible and handed to curl for one that is not. Errors are classified as on curl.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <isitup/util/error_text.hpp>

#include "http_engine.hpp"
#include "http_engine_internal.hpp"

namespace isitup::http {

namespace {

std::atomic<uint64_t> lean_count{0};

bool is_location(const char* at, size_t len) {
  return len == 8 && strncasecmp(at, "location", 8) == 0;
}

}  // namespace

uint64_t engine::lean_transfers() { return lean_count.load(std::memory_order_relaxed); }

// http_parser callbacks: the Location header (for redirects), the body limit and regex text,
// and the end of the message. They only record; the engine decides after execute() returns.
struct lean_parser {
  static engine::job* job_of(http_parser* p) { return static_cast<engine::job*>(p->data); }
  static int on_header_field(http_parser* p, const char* at, size_t len) {
    auto* c = job_of(p)->conn;
    c->in_location = is_location(at, len);
    return 0;
  }
  static int on_header_value(http_parser* p, const char* at, size_t len) {
    auto* c = job_of(p)->conn;
    if (c->in_location && c->location.size() < 8192) c->location.append(at, len);
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    auto* c = job_of(p)->conn;
    c->in_location = false;
    if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) return 0;
    c->head_done = true;
    return c->head_request ? 1 : 0;  // 1: no body follows (HEAD)
  }
  static int on_body(http_parser* p, const char* at, size_t len) {
    engine::job* j = job_of(p);
    if (!j->conn->head_done) return 0;  // a body on an interim 1xx answer is not the answer's
    if (j->bytes + static_cast<int64_t>(len) > j->cfg->max_body_bytes) {
      j->too_large = true;
      return -1;
    }
    j->bytes += static_cast<int64_t>(len);
    if (j->cfg->needs_body()) j->body.append(at, len);
    return 0;
  }
  static int on_message_complete(http_parser* p) {
    auto* c = job_of(p)->conn;
    if (!c->head_done) {  // an interim 1xx answer: the real one follows
      c->location.clear();
      return 0;
    }
    c->complete = true;
    return -1;  // stop: anything after the answer is not ours to read
  }
  static const http_parser_settings settings;
};

const http_parser_settings lean_parser::settings = [] {
  http_parser_settings s{};
  s.on_header_field = &lean_parser::on_header_field;
  s.on_header_value = &lean_parser::on_header_value;
  s.on_headers_complete = &lean_parser::on_headers_complete;
  s.on_body = &lean_parser::on_body;
  s.on_message_complete = &lean_parser::on_message_complete;
  return s;
}();

void engine::start_lean(job* j, const std::string& ip) {
  const check_config& c = *j->cfg;
  j->body.clear();
  j->bytes = 0;
  j->too_large = false;
  j->hop_curl = clock::now();
  lean_conn* conn = &j->lean_storage.emplace();
  j->conn = conn;
  conn->ip = ip;
  const bool get = j->get_after_redirect;
  conn->head_request = !get && c.method == "HEAD";
  const std::string& tail = get ? c.lean_tail_get : c.lean_tail;
  const std::string_view method = get ? std::string_view("GET") : std::string_view(c.method);
  const url_parts& t = j->target();
  request_text& req = conn->request;
  req.reserve(method.size() + t.path_len + t.host.size() + tail.size() + 40);
  (((req += method) += ' ') += t.request_path()) += " HTTP/1.1\r\n";
  if (!c.host_header_set) {  // else the configured Host comes with the other headers
    const bool v6 = t.host.find(':') != std::string::npos;
    ((req += "Host: ") += v6 ? "[" : "") += t.host;
    if (v6) req += ']';
    if (t.port != (t.scheme == "https" ? 443 : 80)) (req += ':') += std::to_string(t.port);
    req += "\r\n";
  }
  req += tail;
  http_parser_init(&conn->parser, HTTP_RESPONSE);
  conn->parser.data = j;
  lean_count.fetch_add(1, std::memory_order_relaxed);
  if (t.scheme == "https" && !lean_tls_setup(j)) return;

  sockaddr_storage ss{};
  socklen_t len = 0;
  const uint16_t port = htons(static_cast<uint16_t>(j->target().port));
  if (auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
      inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = port;
    len = sizeof *a4;
  } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
             inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = port;
    len = sizeof *a6;
  } else {
    lean_fail(j, "connect", "bad address " + ip);
    return;
  }
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    lean_fail(j, "connect", std::string("socket: ") + sdk::error_text(errno));
    return;
  }
  conn->fd = fd;
  if (conn->ssl && SSL_set_fd(conn->ssl, fd) != 1) {
    lean_fail(j, "internal", "TLS setup: " + lean_tls_reason(SSL_ERROR_SSL));
    return;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    conn->connecting = false;
  } else if (errno != EINPROGRESS) {
    const int err = errno;
    lean_fail(j, "connect",
              "Failed to connect to " + ip + " port " + std::to_string(j->target().port) + ": " +
                  sdk::error_text(err));
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = epoll_key(tag_lean, fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    lean_fail(j, "connect", std::string("epoll_ctl: ") + sdk::error_text(errno));
    return;
  }
  if (static_cast<size_t>(fd) >= lean_by_fd_.size()) lean_by_fd_.resize(fd + 1024, nullptr);
  lean_by_fd_[fd] = j;
  const bool connect_limit =
      conn->connecting && c.connect_timeout_ms > 0 &&
      j->hop_curl + std::chrono::milliseconds(c.connect_timeout_ms) < j->deadline;
  track_deadline(j, connect_limit ? j->hop_curl + std::chrono::milliseconds(c.connect_timeout_ms)
                                  : j->deadline);
  if (!conn->connecting) lean_connected(j);
}

void engine::lean_event(int fd, uint32_t events) {
  if (fd < 0 || static_cast<size_t>(fd) >= lean_by_fd_.size() || !lean_by_fd_[fd]) return;
  job* j = lean_by_fd_[fd];
  lean_conn* c = j->conn;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = true;
  if (c->connecting) {
    if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      lean_fail(j, "connect",
                "Failed to connect to " + c->ip + " port " + std::to_string(j->target().port) +
                    ": " + sdk::error_text(err ? err : ECONNREFUSED));
      return;
    }
    if (!(events & EPOLLOUT)) return;
    c->connecting = false;
    lean_connected(j);
    return;
  }
  if (c->handshaking) {  // OpenSSL waits for either direction: any edge may be the one
    lean_handshake(j);
    return;
  }
  if (c->sent < c->request.size()) {
    if (c->ssl || (events & (EPOLLOUT | EPOLLERR))) lean_send(j);
    return;
  }
  // OpenSSL may need to write while reading (a TLS 1.3 key update's answer into a full send
  // buffer): then a writable edge is what lets the read go on.
  if (c->readable || (c->ssl && (events & EPOLLOUT))) lean_receive(j);
}

void engine::lean_connected(job* j) {
  lean_conn* c = j->conn;
  c->connected = clock::now();
  if (c->ssl) {  // connect_timeout covers the handshake too, as on curl
    c->handshaking = true;
    lean_handshake(j);
    return;
  }
  if (j->cfg->connect_timeout_ms > 0) track_deadline(j, j->deadline);
  lean_send(j);
}

void engine::lean_send(job* j) {
  lean_conn* c = j->conn;
  while (c->sent < c->request.size()) {
    if (c->ssl) {
      ERR_clear_error();
      errno = 0;
      const int n = SSL_write(c->ssl, c->request.data() + c->sent,
                              static_cast<int>(c->request.size() - c->sent));
      if (n <= 0) {
        const int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return;  // the next edge
        lean_fail(j, "connect", "Failed sending HTTP request: " + lean_tls_reason(e));
        return;
      }
      c->sent += static_cast<size_t>(n);
      continue;
    }
    const ssize_t n =
        send(c->fd, c->request.data() + c->sent, c->request.size() - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // the next EPOLLOUT edge
      if (errno == EINTR) continue;
      if (errno == ENOTCONN && c->sent == 0) {  // a stale edge: still connecting
        c->connecting = true;
        return;
      }
      lean_fail(j, "connect",
                std::string("Failed sending HTTP request: ") + sdk::error_text(errno));
      return;
    }
    c->sent += static_cast<size_t>(n);
  }
  if (c->readable) lean_receive(j);
}

void engine::lean_receive(job* j) {
  lean_conn* c = j->conn;
  char buf[16384];
  for (;;) {
    const ssize_t n = lean_read(j, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->readable = false;
        return;
      }
      if (errno == EINTR) continue;
      lean_fail(j, "connect",
                "Recv failure: " + (c->tls_error.empty() ? sdk::error_text(errno) : c->tls_error));
      return;
    }
    if (n > 0 && c->first_byte == clock::time_point{}) c->first_byte = clock::now();
    std::string message;
    if (const char* kind = lean_feed(j, buf, static_cast<size_t>(n), message)) {
      lean_fail(j, kind, std::move(message));
      return;
    }
    if (c->complete) {
      lean_done(j);
      return;
    }
    // Not complete yet: read on until EAGAIN. A short read does not prove the socket drained:
    // a FIN queued behind the data gives no new edge (seen under gVisor), so stopping here
    // could miss the end of a close-delimited body. A complete answer never gets here.
  }
}

const char* engine::lean_feed(job* j, const char* data, size_t n, std::string& message) {
  lean_conn* c = j->conn;
  // n == 0 tells the parser the connection closed (ends a close-delimited body).
  http_parser_execute(&c->parser, &lean_parser::settings, data, n);
  if (c->complete) return nullptr;
  if (j->too_large) {
    message = "body larger than max_body_bytes (" + std::to_string(j->cfg->max_body_bytes) + ")";
    return "too_large";
  }
  if (const auto e = HTTP_PARSER_ERRNO(&c->parser); e != HPE_OK) {
    message = std::string("invalid HTTP response: ") + http_errno_description(e);
    return "protocol";
  }
  if (n == 0) {
    message =
        c->head_done ? "transfer closed before the body was complete" : "Empty reply from server";
    return "protocol";
  }
  return nullptr;
}

void engine::lean_http_fields(const job* j, sdk::result& r) {
  const lean_conn* c = j->conn;
  if (!c->head_done) return;
  r.http_code = static_cast<int32_t>(c->parser.status_code);
  r.http_version = c->parser.http_major == 1 ? (c->parser.http_minor == 0 ? "1.0" : "1.1")
                                             : std::to_string(c->parser.http_major);
  r.http_bytes = j->bytes;
}

void engine::lean_fields(job* j, sdk::result& r) {
  const lean_conn* c = j->conn;
  r.dns_ms = j->dns_ms;
  if (c->connected != clock::time_point{}) r.connect_ms = ms_between(j->hop_curl, c->connected);
  if (c->secured != clock::time_point{}) r.tls_ms = ms_between(c->connected, c->secured);
  if (c->first_byte != clock::time_point{}) r.ttfb_ms = ms_between(j->begun, c->first_byte);
  r.total_ms = ms_between(j->begun, clock::now());
  r.ip = c->ip;
  lean_http_fields(j, r);
  r.redirects = j->redirects;
  set_tls_expiry(j->tls_not_after_ms, r);
}

std::string engine::redirect_url(const std::string& base, const std::string& location) {
  // Resolves a relative Location against the hop's URL, as curl's CURLINFO_REDIRECT_URL.
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  char* abs = nullptr;
  if (u && curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u.get(), CURLUPART_URL, location.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u.get(), CURLUPART_URL, &abs, 0) == CURLUE_OK) {
    std::string out = abs;
    curl_free(abs);
    return out;
  }
  return location;  // parse_url() will refuse it
}

engine::lean_answer engine::parse_lean_answer(std::shared_ptr<const check_config> cfg,
                                              const std::string& url, bool head_request,
                                              std::string_view answer, size_t piece) {
  job j(nullptr, std::move(cfg), sdk::completion(nullptr, nullptr));
  lean_conn conn;
  j.conn = &conn;
  conn.head_request = head_request;
  http_parser_init(&conn.parser, HTTP_RESPONSE);
  conn.parser.data = &j;
  lean_answer out{sdk::result::ok(), {}, {}};
  std::string message;
  const char* kind = nullptr;
  if (piece == 0) piece = answer.size();
  for (size_t at = 0; !kind && !conn.complete; at += piece) {
    const size_t n = at < answer.size() ? std::min(piece, answer.size() - at) : 0;
    kind = lean_feed(&j, answer.data() + at, n, message);
    if (n == 0) break;
  }
  if (kind) out.result = sdk::result::down(kind, std::move(message));
  lean_http_fields(&j, out.result);
  if (conn.complete && j.cfg->follow_redirects && out.result.http_code >= 300 &&
      out.result.http_code < 400 && !conn.location.empty()) {
    out.location = redirect_url(url, conn.location);
  }
  out.body = std::move(j.body);
  return out;
}

void engine::lean_fail(job* j, const char* kind, std::string message) {
  sdk::result r = sdk::result::down(kind, std::move(message));
  lean_fields(j, r);
  finish(j, std::move(r));
}

void engine::lean_done(job* j) {
  sdk::result r = sdk::result::ok();
  lean_fields(j, r);
  std::string location;
  if (j->cfg->follow_redirects && r.http_code >= 300 && r.http_code < 400 &&
      !j->conn->location.empty()) {
    location = redirect_url(j->target().url, j->conn->location);
  }
  conclude(j, std::move(r), location);
}

void engine::lean_timeout(job* j) {
  const lean_conn* c = j->conn;
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      clock::now() - (c->connecting || c->handshaking ? j->hop_curl : j->begun));
  if (c->connecting || c->handshaking) {
    lean_fail(j, "timeout",
              std::string(c->connecting ? "Connection" : "TLS handshake") + " timed out after " +
                  std::to_string(waited.count()) + " milliseconds");
    return;
  }
  lean_fail(j, "timeout",
            "Operation timed out after " + std::to_string(waited.count()) + " milliseconds with " +
                std::to_string(j->bytes) + " bytes received");
}

void engine::lean_close(job* j) {
  lean_conn* c = j->conn;
  if (!c) return;
  release_handshake_slot(j);
  if (c->ssl) SSL_free(c->ssl);  // no close_notify: the answer is read, the socket closes
  if (c->fd >= 0) {
    if (static_cast<size_t>(c->fd) < lean_by_fd_.size()) lean_by_fd_[c->fd] = nullptr;
    close(c->fd);  // also leaves the epoll set
  }
  j->conn = nullptr;
  j->lean_storage.reset();
}

}  // namespace isitup::http
