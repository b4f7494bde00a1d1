#include "test_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>

namespace isitup::http::testing {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

int free_port(const char* address) {
  const bool v6 = std::strchr(address, ':') != nullptr;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, address, &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, address, &a->sin_addr);
    len = sizeof *a;
  }
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (fd >= 0) close(fd);
  return port;
}

bool ipv6_loopback_available() { return free_port("::1") != 0; }

bool wait_for_port(const std::string& address, int port, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  const bool v6 = address.find(':') != std::string::npos;
  while (std::chrono::steady_clock::now() < until) {
    const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, address.c_str(), &a->sin_addr);
      len = sizeof *a;
    }
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    close(fd);
    if (up) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// ---------------------------------------------------------------- nginx

nginx_server::nginx_server() : nginx_server(options{}) {}

nginx_server::nginx_server(const options& opts) {
  try {
    certs_ = std::make_unique<test::tls_certs>(dir_.path());
  } catch (const std::exception& e) {
    error_ = e.what();
    return;
  }
  // A port found free may be taken by someone else before nginx binds it: try new ones.
  for (int attempt = 0; attempt < 3; ++attempt) {
    error_.clear();
    if (launch(opts)) return;
    if (process_) {
      process_->signal(SIGKILL);
      process_->wait(5s);
      process_.reset();
    }
  }
}

bool nginx_server::launch(const options& opts) {
  http_port = free_port();
  https_port = free_port();
  expired_port = free_port();
  wrong_host_port = free_port();
  mtls_port = free_port();
  https_fresh_port = free_port();
  const bool v6 = ipv6_loopback_available();
  if (v6) http6_port = free_port("::1");
  const fs::path d = dir_.path();
  const std::string echo_module = "/usr/lib/nginx/modules/ngx_http_echo_module.so";
  const bool has_echo = fs::exists(echo_module);
  char slow[32];
  std::snprintf(slow, sizeof slow, "%.3f", opts.slow_seconds);
  const std::string locations =
      "    location = / { return 200 \"hello isitup\\n\"; }\n"
      "    location = /404 { return 404; }\n"
      "    location = /500 { return 500; }\n"
      "    location = /created { return 201 \"created\\n\"; }\n"
      "    location = /method { return 200 \"$request_method\\n\"; }\n"
      "    location = /header { return 200 \"x-isitup=$http_x_isitup ua=$http_user_agent\\n\"; }\n"
      "    location = /redirect { return 302 /; }\n"
      "    location = /loop { return 302 /loop; }\n"
      "    location = /to-file { return 302 file:///etc/passwd; }\n"
      "    location = /to-https { return 302 https://localhost:" +
      std::to_string(https_port) + "/; }\n" +
      (has_echo ? "    location = /slow { echo_sleep " + std::string(slow) + "; echo \"slow\"; }\n"
                : "") +
      "  }\n";
  auto tls_server = [&](int port, const std::string& cert, const std::string& key,
                        const std::string& extra = "", bool every_address = false) {
    std::string listen = "    listen 127.0.0.1:" + std::to_string(port) + " ssl backlog=4096;\n";
    if (every_address)
      for (const std::string& a : opts.extra_addresses)
        listen += "    listen " + a + ":" + std::to_string(port) + " ssl backlog=4096;\n";
    return "  server {\n" + listen + "    ssl_certificate " + cert + ";\n    ssl_certificate_key " +
           key + ";\n" + extra + locations;
  };
  std::string listens = "    listen 127.0.0.1:" + std::to_string(http_port) + " backlog=4096;\n";
  for (const std::string& a : opts.extra_addresses)
    listens += "    listen " + a + ":" + std::to_string(http_port) + " backlog=4096;\n";
  if (v6) listens += "    listen [::1]:" + std::to_string(http6_port) + ";\n";
  const std::string conf =
      (has_echo ? "load_module " + echo_module + ";\n" : "") + "daemon off;\n" +
      (opts.worker_processes > 0
           ? "user root;\nworker_processes " + std::to_string(opts.worker_processes) + ";\n"
           : "master_process off;\n") +
      "pid " + (d / "nginx.pid").string() + ";\nerror_log " + (d / "error.log").string() +
      " error;\nworker_rlimit_nofile 65536;\n"
      "events { worker_connections 16384; }\n"
      "http {\n  access_log off;\n  keepalive_requests 100000;\n"
      "  client_body_temp_path " +
      (d / "body").string() + ";\n  proxy_temp_path " + (d / "proxy").string() +
      ";\n  fastcgi_temp_path " + (d / "fastcgi").string() + ";\n  uwsgi_temp_path " +
      (d / "uwsgi").string() + ";\n  scgi_temp_path " + (d / "scgi").string() +
      ";\n  default_type text/plain;\n"
      "  server {\n" +
      listens + locations +
      tls_server(https_port, certs_->server_cert, certs_->server_key, "", true) +
      tls_server(expired_port, certs_->expired_server_cert, certs_->expired_server_key) +
      tls_server(wrong_host_port, certs_->wrong_host_cert, certs_->wrong_host_key) +
      tls_server(mtls_port, certs_->server_cert, certs_->server_key,
                 "    ssl_verify_client on;\n    ssl_client_certificate " + certs_->ca + ";\n") +
      tls_server(https_fresh_port, certs_->server_cert, certs_->server_key,
                 "    ssl_session_tickets off;\n    ssl_session_cache off;\n") +
      "}\n";
  const std::string conf_path = dir_.write("nginx.conf", conf);
  process_ = std::make_unique<test::child_process>(
      std::vector<std::string>{"/usr/sbin/nginx", "-p", d.string() + "/", "-e",
                               (d / "error.log").string(), "-c", conf_path});
  const auto until = std::chrono::steady_clock::now() + 10s;
  for (int port :
       {http_port, https_port, expired_port, wrong_host_port, mtls_port, https_fresh_port}) {
    while (!wait_for_port("127.0.0.1", port, 100ms)) {
      if (!process_->running() || std::chrono::steady_clock::now() > until) {
        error_ = "nginx did not listen on port " + std::to_string(port) + ": " + process_->err() +
                 test::read_file(d / "error.log");
        return false;
      }
    }
  }
  if (v6 && !wait_for_port("::1", http6_port, 10s)) error_ = "nginx did not listen on [::1]";
  return error_.empty();
}

nginx_server::~nginx_server() {
  if (process_) {
    process_->signal(SIGQUIT);
    if (process_->wait(5s) < 0) process_.reset();
  }
}

// ---------------------------------------------------------------- bad_server

bad_server::bad_server(mode m) : mode_(m) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 && listen(listen_fd_, 64) == 0 &&
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  });
}

bad_server::~bad_server() {
  stop_ = true;
  acceptor_.join();
  for (std::thread& t : connections_) t.join();
  close(listen_fd_);
}

void bad_server::serve(int fd) {
  auto send_all = [&](const std::string& s) {
    return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  };
  // Read the request head (up to a blank line), at most 2 s.
  std::string request;
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (!stop_ && request.find("\r\n\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  auto sleep_unless_stopped = [&](std::chrono::milliseconds d) {
    for (auto left = d; left.count() > 0 && !stop_; left -= 50ms) std::this_thread::sleep_for(50ms);
  };
  switch (mode_) {
    case mode::silent:
      while (!stop_) sleep_unless_stopped(50ms);
      break;
    case mode::trickle:
      if (send_all("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"))
        for (int i = 0; i < 100 && !stop_ && send_all("x"); ++i) sleep_unless_stopped(1000ms);
      break;
    case mode::endless: {
      const std::string chunk(16384, 'y');
      if (send_all("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"))
        for (int i = 0; i < 100000 && !stop_ && send_all(chunk); ++i) {
        }
      break;
    }
    case mode::garbage:
      send_all("SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n");
      break;
    case mode::chunked:
      send_all(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          "6\r\nhello \r\n");
      send_all("8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n");
      break;
    case mode::close_delimited:
      send_all("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ");
      sleep_unless_stopped(50ms);
      send_all("close");
      break;
    case mode::reset: {
      send_all("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'z'));
      sleep_unless_stopped(100ms);
      linger l{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      break;
    }
  }
  close(fd);
}

// ---------------------------------------------------------------- dns_server

dns_server::dns_server() {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { serve(); });
}

dns_server::~dns_server() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

void dns_server::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    unsigned char q[512];
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 17) continue;
    ++queries_;
    // The question: labels from byte 12, then type and class.
    size_t i = 12;
    std::string name;
    while (i < static_cast<size_t>(n) && q[i] != 0) {
      const size_t l = q[i];
      if (i + 1 + l >= static_cast<size_t>(n)) break;
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(q + i + 1), l);
      i += 1 + l;
    }
    if (i + 5 > static_cast<size_t>(n)) continue;
    const size_t question_end = i + 5;
    const int qtype = (q[i + 1] << 8) | q[i + 2];
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    int rcode = 3;  // NXDOMAIN
    unsigned char ttl = 60;
    std::vector<unsigned char> rdata;
    if (name == "servfail.test") {
      rcode = 2;
    } else if (name == "ok.test" || name == "short.test" || name == "xn--bcher-kva.test") {
      rcode = 0;
      if (qtype == 1) rdata = {127, 0, 0, 1};
      if (name == "short.test") ttl = 1;
    } else if (name == "v6only.test") {
      rcode = 0;
      if (qtype == 28) {
        rdata.assign(16, 0);
        rdata[15] = 1;
      }
    }
    std::vector<unsigned char> r(q, q + question_end);
    r[2] = 0x81 | (q[2] & 0x01);                      // QR, opcode 0, RD copied
    r[3] = static_cast<unsigned char>(0x80 | rcode);  // RA
    r[4] = 0, r[5] = 1;                               // one question
    r[6] = 0, r[7] = rdata.empty() ? 0 : 1;           // answers
    r[8] = 0, r[9] = rcode == 3 ? 1 : 0;  // NXDOMAIN: the zone's SOA in the authority section
    r[10] = r[11] = 0;
    if (!rdata.empty()) {
      const unsigned char answer[] = {0xc0, 0x0c, 0, static_cast<unsigned char>(qtype),
                                      0,    1,    0, 0,
                                      0,    ttl,  0, static_cast<unsigned char>(rdata.size())};
      r.insert(r.end(), answer, answer + sizeof answer);
      r.insert(r.end(), rdata.begin(), rdata.end());
    }
    if (rcode == 3) {
      // SOA: TTL 60, MNAME and RNAME the root, serial/refresh/retry/expire, MINIMUM 1 s, so
      // the negative answer may be kept for 1 s (RFC 2308).
      const unsigned char soa[] = {0xc0, 0x0c, 0, 6, 0,  1, 0, 0, 0,  60, 0, 22, 0,  0, 0, 0, 0,
                                   1,    0,    0, 0, 60, 0, 0, 0, 60, 0,  0, 0,  60, 0, 0, 0, 1};
      r.insert(r.end(), soa, soa + sizeof soa);
    }
    sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

}  // namespace isitup::http::testing
