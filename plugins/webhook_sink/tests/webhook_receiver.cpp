#include "webhook_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <isitup/util/error_text.hpp>

namespace isitup::test {
namespace {

constexpr size_t max_request = 1 << 20;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

std::string webhook_receiver::request::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

webhook_receiver::webhook_receiver(int port, responder r, const tls_files& tls)
    : responder_(std::move(r)) {
  if (!tls.cert.empty()) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx);
      throw std::runtime_error("receiver: cannot load " + tls.cert + " / " + tls.key);
    }
    tls_ctx_ = ctx;
  }
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof a;
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(fd_, 128) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = sdk::error_text(errno);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(static_cast<SSL_CTX*>(tls_ctx_));
    throw std::runtime_error("receiver: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                             why);
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { serve(); });
}

webhook_receiver::~webhook_receiver() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  thread_.join();
  close(fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(tls_ctx_));
}

std::string webhook_receiver::url(const std::string& path) const {
  return std::string(tls_ctx_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

void webhook_receiver::set_responder(responder r) {
  std::lock_guard lock(mu_);
  responder_ = std::move(r);
}

std::vector<webhook_receiver::request> webhook_receiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool webhook_receiver::wait_for(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void webhook_receiver::serve() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    const timeval tv{5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    handle(c);
    close(c);
  }
}

void webhook_receiver::handle(int fd) {
  SSL* ssl = nullptr;
  if (tls_ctx_) {
    ssl = SSL_new(static_cast<SSL_CTX*>(tls_ctx_));
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {  // e.g. the client refused our certificate
      SSL_free(ssl);
      return;
    }
  }
  const auto recv_some = [&](char* buf, size_t n) -> long {
    return ssl ? SSL_read(ssl, buf, static_cast<int>(n)) : ::recv(fd, buf, n, 0);
  };
  std::string data;
  char buf[4096];
  size_t head_end = std::string::npos;
  size_t content_length = 0;
  request r;
  for (;;) {
    if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
      std::string head = data.substr(0, head_end);
      size_t eol = head.find("\r\n");
      const std::string line = head.substr(0, eol);
      const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
      r.method = line.substr(0, sp1);
      r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      while (eol != std::string::npos) {
        const size_t next = head.find("\r\n", eol + 2);
        const std::string h =
            head.substr(eol + 2, next == std::string::npos ? next : next - eol - 2);
        const size_t colon = h.find(':');
        if (colon != std::string::npos)
          r.headers.emplace_back(lower(h.substr(0, colon)), trim(h.substr(colon + 1)));
        eol = next;
      }
      content_length = std::strtoul(r.header("content-length").c_str(), nullptr, 10);
    }
    if (head_end != std::string::npos && data.size() >= head_end + 4 + content_length) break;
    if (data.size() > max_request) break;
    const long n = recv_some(buf, sizeof buf);
    if (n <= 0) {
      if (ssl) SSL_free(ssl);
      return;  // the client gave up (or never sent a full request)
    }
    data.append(buf, static_cast<size_t>(n));
  }
  r.body = data.substr(head_end + 4, content_length);
  r.at = clock::now();

  answer a;
  {
    std::unique_lock lock(mu_);
    requests_.push_back(r);
    const size_t n = requests_.size() - 1;
    responder resp = responder_;
    cv_.notify_all();
    lock.unlock();
    if (resp) a = resp(r, n);
  }
  std::string out = "HTTP/1.1 " + std::to_string(a.status) + " X\r\nContent-Length: 2\r\n";
  for (const auto& [n, v] : a.headers) out += n + ": " + v + "\r\n";
  out += "Connection: close\r\n\r\nok";
  if (ssl) {
    SSL_write(ssl, out.data(), static_cast<int>(out.size()));
    SSL_shutdown(ssl);
    SSL_free(ssl);
  } else {
    ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  }
}

}  // namespace isitup::test
