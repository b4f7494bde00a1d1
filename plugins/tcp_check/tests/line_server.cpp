#include "line_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <isitup/util/error_text.hpp>

namespace isitup::net::testing {

namespace {

// The connection's byte stream, plain or TLS.
struct stream {
  int fd;
  SSL* ssl = nullptr;
  bool write(const std::string& s) {
    if (ssl) return SSL_write(ssl, s.data(), static_cast<int>(s.size())) > 0;
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  ssize_t read(char* buf, size_t n) {
    if (ssl) return SSL_read(ssl, buf, static_cast<int>(n));
    return recv(fd, buf, n, 0);
  }
  // One line without CR LF; false at the end or on an error.
  bool line(std::string& out) {
    out.clear();
    char c;
    while (read(&c, 1) == 1) {
      if (c == '\n') {
        if (!out.empty() && out.back() == '\r') out.pop_back();
        return true;
      }
      out += c;
    }
    return false;
  }
};

}  // namespace

line_server::line_server(server_options o) : o_(std::move(o)) {
  if (o_.tls) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_, o_.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, o_.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      error_ = "TLS server setup failed for " + o_.cert;
      return;
    }
  }
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    error_ = std::string("listen: ") + sdk::error_text(errno);
    return;
  }
  port_ = ntohs(sa.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

line_server::~line_server() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (ctx_) SSL_CTX_free(ctx_);
}

void line_server::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void line_server::serve(int fd) {
  sigset_t pipe;  // a client that closed first: EPIPE, not SIGPIPE
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  stream s{fd};
  std::string line;
  bool ok = true;
  const std::string& st = o_.starttls;
  if (st == "smtp") {
    ok = s.write("220 test.local ESMTP ready\r\n") && s.line(line);  // EHLO
    ok = ok && s.write(o_.offer_starttls ? "250-test.local\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
                                         : "250-test.local\r\n250 HELP\r\n");
    ok = ok && s.line(line) && line == "STARTTLS" &&
         s.write("220 2.0.0 go ahead\r\n" + o_.after_yes);
  } else if (st == "imap") {
    ok = s.write("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n") && s.line(line) &&
         s.write("* CAPABILITY IMAP4rev1\r\n") &&
         s.write(line.substr(0, line.find(' ')) + " OK begin TLS\r\n" + o_.after_yes);
  } else if (st == "pop3") {
    ok = s.write("+OK POP3 ready\r\n") && s.line(line) && line == "STLS" &&
         s.write("+OK begin TLS\r\n" + o_.after_yes);
  }
  if (ok && o_.tls) {
    s.ssl = SSL_new(ctx_);
    SSL_set_fd(s.ssl, fd);
    ok = SSL_accept(s.ssl) == 1;
  }
  if (ok && !o_.banner.empty()) ok = s.write(o_.banner);
  if (ok && !o_.close_after_banner) {
    char buf[4096];
    ssize_t n;
    while (!stop_ && (n = s.read(buf, sizeof buf)) > 0)
      if (o_.echo && !s.write(std::string(buf, static_cast<size_t>(n)))) break;
  }
  if (s.ssl) {
    SSL_shutdown(s.ssl);
    SSL_free(s.ssl);
  }
  ERR_clear_error();
  close(fd);
}

}  // namespace isitup::net::testing
