// http_server as a unit, on 127.0.0.1 with a stub service: its warning, its queue bound and its
// head deadline.
#include <isitup/core/http_server.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

namespace isitup {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

struct stub final : http_service {
  http_reply healthz() override { return {200, "text/plain", "ok\n"}; }
  http_reply readyz() override { return {200, "text/plain", "ready\n"}; }
  http_reply metrics() override { return {200, "text/plain", "m 1\n"}; }
  http_reply checks() override { return {200, "application/json", "{}"}; }
  http_reply check(const std::string&, const std::string&) override { return {}; }
  http_reply status_page() override { return {200, "text/html", "<p>"}; }
};

// The log of everything the default logger says while this lives.
class captured_log {
 public:
  captured_log() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  ~captured_log() { spdlog::set_default_logger(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

config::http_settings local(bool loopback, const std::string& token = "") {
  config::http_settings s;
  s.enabled = true;
  s.host = "127.0.0.1";
  s.loopback = loopback;  // as the config says: a test may only bind 127.0.0.1
  s.token = token;
  return s;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// What the server sends until it closes (at most `wait`).
std::string read_all(int fd, std::chrono::milliseconds wait) {
  std::string got;
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

TEST(http_server, warns_when_not_loopback_without_auth_and_never_logs_the_token) {
  stub svc;
  {
    captured_log log;
    http_server s(local(false), svc);
    s.start();
    EXPECT_GT(s.port(), 0);
    EXPECT_THAT(log.text(), HasSubstr("is not a loopback address and agent.http.auth is not set"));
  }
  {
    captured_log log;
    http_server s(local(false, "tok-3x4mple"), svc);
    s.start();
    EXPECT_THAT(log.text(), Not(HasSubstr("loopback")));
    EXPECT_THAT(log.text(), Not(HasSubstr("tok-3x4mple")));
  }
  {
    captured_log log;
    http_server s(local(true), svc);
    s.start();
    EXPECT_THAT(log.text(), Not(HasSubstr("loopback")));
  }
}

TEST(http_server, past_its_queue_a_connection_gets_503_and_a_slow_head_408) {
  stub svc;
  http_limits limits;
  limits.workers = 1;
  limits.max_queued = 1;
  limits.head_timeout = 1s;
  http_server s(local(true), svc, limits);
  s.start();
  const int busy = connect_to(s.port());  // the worker waits for its head
  std::this_thread::sleep_for(100ms);
  const int queued = connect_to(s.port());  // waits for the worker
  std::this_thread::sleep_for(100ms);
  const int refused = connect_to(s.port());
  EXPECT_THAT(read_all(refused, 900ms), HasSubstr("HTTP/1.1 503"));
  // The worker gives up on the silent one after the head timeout; the queued one's time ran
  // out while it waited.
  EXPECT_THAT(read_all(busy, 3s), HasSubstr("HTTP/1.1 408"));
  EXPECT_THAT(read_all(queued, 3s), HasSubstr("HTTP/1.1 408"));
  for (int fd : {busy, queued, refused}) ::close(fd);
  const int fresh = connect_to(s.port());
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fresh, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  EXPECT_THAT(read_all(fresh, 3s), HasSubstr("HTTP/1.1 200"));
  ::close(fresh);
}

}  // namespace
}  // namespace isitup
