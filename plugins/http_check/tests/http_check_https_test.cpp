// https:// on both engines: the lean one (engine: auto, OpenSSL on the plugin's own loop) and
// curl must report the same records: the phases of a handshake, the host name in SNI (never an
// address), the reason a certificate is refused, a handshake that never completes, and which
// options leave the lean engine for curl.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "http_engine.hpp"
#include "http_fixture.hpp"

namespace isitup::http {
namespace {

using namespace testing;  // the fixture's names (http_fixture.hpp)

// A TCP listener on 127.0.0.1 that keeps the first bytes a client sends on each connection
// (a TLS ClientHello) and then closes it.
class hello_catcher {
 public:
  hello_catcher() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 && listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~hello_catcher() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string last() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string got;
      char buf[4096];
      pollfd q{c, POLLIN, 0};
      // The whole ClientHello (a few hundred bytes) within a second.
      for (int i = 0; i < 20 && got.size() < 200 && poll(&q, 1, 50) >= 0; ++i) {
        if (!(q.revents & POLLIN)) continue;
        const ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      close(c);
      std::lock_guard lock(mu_);
      last_ = std::move(got);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string last_;
  std::thread thread_;
};

uint64_t lean_hops(const std::function<void()>& f) {
  const uint64_t before = engine::lean_transfers();
  f();
  return engine::lean_transfers() - before;
}

class http_check_https_test : public testing::http_check_test {};

TEST_P(http_check_https_test, verified_check_reports_every_phase_on_http_1_1) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  observed r;
  EXPECT_EQ(lean_hops([&] {
              r = check(https(nginx().https_port), {{"ca_file", nginx().certs().ca}});
            }),
            GetParam() == "auto" ? 1u : 0u);
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.http_version, "1.1");
  EXPECT_EQ(r.http_bytes, 13);  // "hello isitup\n"
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_GT(r.tls_ms, 0.0) << r;
  EXPECT_GE(r.tls_days_left, 363);
  expect_sensible_timings(r);
  // Without verification the same phases, and the certificate's expiry still read.
  const observed off = check(https(nginx().https_port), {{"tls_verify", "false"}});
  EXPECT_TRUE(off.up) << off;
  EXPECT_GT(off.tls_ms, 0.0) << off;
  EXPECT_GE(off.tls_days_left, 363);
  expect_sensible_timings(off);
}

TEST_P(http_check_https_test, sni_names_the_host_and_never_an_address) {
  hello_catcher catcher;
  ASSERT_NE(catcher.port(), 0);
  const std::string port = std::to_string(catcher.port());
  const observed named = check("https://localhost:" + port + "/", {{"tls_verify", "false"}});
  expect_down(named, "tls");
  EXPECT_NE(catcher.last().find("localhost"), std::string::npos);
  const observed address = check("https://127.0.0.1:" + port + "/", {{"tls_verify", "false"}});
  expect_down(address, "tls");
  const std::string hello = catcher.last();
  EXPECT_GT(hello.size(), 50u);  // a ClientHello was read
  EXPECT_EQ(hello.find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(hello.find("localhost"), std::string::npos);
}

TEST_P(http_check_https_test, refused_certificates_say_why) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed unknown_ca = check(https(nginx().https_port));
  expect_down(unknown_ca, "tls");
  EXPECT_NE(unknown_ca.error_message.find("certificate problem"), std::string::npos) << unknown_ca;
  EXPECT_EQ(unknown_ca.http_code, ISITUP_ABSENT_INT);
  const observed wrong = check(https(nginx().wrong_host_port), {{"ca_file", nginx().certs().ca}});
  expect_down(wrong, "tls");
  EXPECT_NE(wrong.error_message.find("host name 'localhost'"), std::string::npos) << wrong;
  const observed expired = check(https(nginx().expired_port), {{"ca_file", nginx().certs().ca}});
  expect_down(expired, "tls");
  EXPECT_NE(expired.error_message.find("expired"), std::string::npos) << expired;
}

TEST_P(http_check_https_test, handshake_that_never_completes_times_out) {
  bad_server silent(bad_server::mode::silent);  // accepts and reads, never answers
  const observed r = check("https://127.0.0.1:" + std::to_string(silent.port()) + "/",
                           {{"tls_verify", "false"}}, 1s);
  expect_down(r, "timeout");
  // The lean engine reports the TCP connect it saw; curl no phase of a connection whose
  // handshake did not end.
  if (GetParam() == "auto") {
    EXPECT_GE(r.connect_ms, 0.0) << r;
  }
  EXPECT_LT(r.tls_ms, 0.0) << r;  // absent: the handshake never ended
  EXPECT_GE(r.elapsed, 900ms) << r;
}

// What the lean engine cannot do stays on curl: reused connections, proxies, user:password@.
TEST_P(http_check_https_test, options_that_need_curl_run_on_curl) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  EXPECT_EQ(lean_hops([&] {
              const observed r =
                  check(https(nginx().https_port, "/?reuse"),
                        {{"ca_file", nginx().certs().ca}, {"reuse_connections", "true"}});
              EXPECT_TRUE(r.up) << r;
              const observed user =
                  check("https://u:p@localhost:" + std::to_string(nginx().https_port) + "/",
                        {{"ca_file", nginx().certs().ca}});
              EXPECT_TRUE(user.up) << user;
            }),
            0u);
}

INSTANTIATE_TEST_SUITE_P(engines, http_check_https_test, ::testing::Values("auto", "curl"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace isitup::http
