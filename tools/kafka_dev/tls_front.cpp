#include "tls_front.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <isitup/util/error_text.hpp>

namespace isitup::kafka_dev {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

std::string openssl_error() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

bool write_all(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    const ssize_t w = write(fd, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

// Requests and responses are small and answered one by one: no Nagle delay on either side.
void no_delay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

tls_context::tls_context(const std::string& cert, const std::string& key,
                         const std::string& client_ca) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) throw std::runtime_error("cannot create a TLS context: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // SSL_read returns instead of blocking after a non-application record, so the poll loop
  // of a connection never waits inside OpenSSL while the broker has data for the client.
  SSL_CTX_clear_mode(ctx_, SSL_MODE_AUTO_RETRY);
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1)
    throw std::runtime_error("--tls certificate " + cert + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("--tls key " + key + ": " + openssl_error());
  if (SSL_CTX_check_private_key(ctx_) != 1)
    throw std::runtime_error("--tls key " + key + " does not match certificate " + cert);
  if (!client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, client_ca.c_str(), nullptr) != 1)
      throw std::runtime_error("--client-ca " + client_ca + ": " + openssl_error());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx_, names);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

tls_front::tls_front(int port, int upstream, const tls_context& tls)
    : tls_(tls), upstream_(upstream) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = sdk::error_text(errno);
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("TLS port " + std::to_string(port) + ": cannot listen: " + why);
  }
  port_ = ntohs(a.sin_port);
  if (pipe2(wake_, O_CLOEXEC) != 0) {
    close(listen_fd_);
    throw std::runtime_error("pipe2 failed");
  }
}

void tls_front::start(const port_map& ports) {
  ports_ = &ports;
  thread_ = std::thread([this] { accept_loop(); });
}

tls_front::~tls_front() {
  if (thread_.joinable()) {
    const char c = 0;
    (void)!write(wake_[1], &c, 1);
    thread_.join();
  }
  {
    std::lock_guard lock(mutex_);
    for (connection& c : connections_) {
      if (c.client >= 0) shutdown(c.client, SHUT_RDWR);
      if (c.server >= 0) shutdown(c.server, SHUT_RDWR);
    }
  }
  reap(true);
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void tls_front::reap(bool all) {
  std::lock_guard lock(mutex_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (all || it->done) {
      it->thread.join();  // a connection sets done as its thread's last step
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void tls_front::accept_loop() {
  for (;;) {
    pollfd fds[] = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (poll(fds, 2, 1000) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    reap(false);
    if (!(fds[1].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    connection& c = connections_.emplace_back();
    c.client = fd;
    c.thread = std::thread([this, &c] { serve(c); });
  }
}

void tls_front::serve(connection& c) {
  SSL* ssl = SSL_new(tls_.get());
  int server = -1;
  std::string why;
  set_timeouts(c.client, 10);  // a client that stalls the handshake is dropped
  if (!ssl || SSL_set_fd(ssl, c.client) != 1) {
    why = "cannot create a TLS session: " + openssl_error();
  } else if (SSL_accept(ssl) != 1) {
    const long verify = SSL_get_verify_result(ssl);
    why = "TLS handshake refused: " + openssl_error();
    if (verify != X509_V_OK)
      why += std::string(" (client certificate: ") + X509_verify_cert_error_string(verify) + ")";
  } else {
    set_timeouts(c.client, 0);
    no_delay(c.client);
    server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server >= 0) no_delay(server);
    sockaddr_in a = loopback(upstream_);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      why = "broker at 127.0.0.1:" + std::to_string(upstream_) +
            " refused: " + sdk::error_text(errno);
    } else {
      std::lock_guard lock(mutex_);
      c.server = server;
    }
  }
  if (why.empty()) {
    kafka_stream stream(*ports_, tls_.sasl());
    std::string out, reply;
    char buf[65536];
    for (;;) {
      pollfd fds[] = {{c.client, POLLIN, 0}, {server, POLLIN, 0}};
      if (SSL_pending(ssl) == 0 && poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (SSL_pending(ssl) > 0 || fds[0].revents) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
          const int e = SSL_get_error(ssl, n);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) continue;
          break;  // closed by the client
        }
        out.clear();
        reply.clear();
        const bool ok = stream.from_client({buf, static_cast<size_t>(n)}, out, reply, why);
        if (!reply.empty() && SSL_write(ssl, reply.data(), static_cast<int>(reply.size())) <= 0)
          break;
        if (!ok || (!out.empty() && !write_all(server, out))) break;
      }
      if (fds[1].revents) {
        const ssize_t n = read(server, buf, sizeof buf);
        if (n <= 0) break;  // the broker closed (e.g. `down`)
        out.clear();
        if (!stream.from_broker({buf, static_cast<size_t>(n)}, out, why)) break;
        if (!out.empty() && SSL_write(ssl, out.data(), static_cast<int>(out.size())) <= 0) break;
      }
    }
    if (!why.empty()) why = "closed a connection: " + why;
  }
  if (!why.empty()) std::fprintf(stderr, "isitup-kafka-dev: TLS port %d: %s\n", port_, why.c_str());
  if (ssl) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  std::lock_guard lock(mutex_);
  close(c.client);
  if (server >= 0) close(server);
  c.client = c.server = -1;
  c.done = true;
}

}  // namespace isitup::kafka_dev
