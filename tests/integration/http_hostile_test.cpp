// Hostile clients against the agent's listener: thousands of slow connections, a 1 MB request
// line, path traversal, unknown methods. The agent keeps running its checks on time, its memory
// stays bounded, and the listener answers again once the attack stops.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "http_support.hpp"
#include "listener.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string token = "hostile-test-token";

// A non-blocking TCP connection to 127.0.0.1:port, or -1.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` (blocking, at most 10 s) and returns what comes back until the peer closes.
std::string send_request(int port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return "(no connection)";
  const auto until = std::chrono::steady_clock::now() + 10s;
  std::size_t sent = 0;
  std::string got;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    if ((p.revents & POLLOUT) && sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN) break;  // the server closed on us
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return got;
}

double metric(const std::string& text, const std::string& name) {
  const std::regex re("\n" + name + " ([0-9.e+]+)\n");
  std::smatch m;
  return std::regex_search(text, m, re) ? std::stod(m[1]) : -1;
}

TEST(http_hostile, slow_huge_and_odd_requests_do_not_stall_checks_or_the_listener) {
  isitup::test::tcp_listener open;
  isitup::test::http_agent agent(
      "agent: {id: h1, http: {listen: \"127.0.0.1:0\", auth: {token: " + token +
      "}}}\n"
      "defaults: {interval: 100ms, timeout: 1s}\n"
      "checks: [{name: c, plugin: tcp_check, target: \"127.0.0.1:" +
      std::to_string(open.port()) + "\"}]\n");
  const int port = agent.port();
  ASSERT_TRUE(isitup::test::eventually([&] { return agent.get("/healthz").status == 200; }));
  const std::string before = agent.get("/metrics", token).body;
  const double started_before =
      metric(before, "isitup_runs_started_total\\{plugin=\"tcp_check\"\\}");

  // 10,000 connections that send half a request head and then nothing.
  const auto attack_start = std::chrono::steady_clock::now();
  std::vector<int> slow;
  for (int i = 0; i < 10000; ++i) {
    const int fd = connect_to(port);
    if (fd >= 0) slow.push_back(fd);
  }
  ASSERT_GE(slow.size(), 9000u);
  for (int fd : slow) {
    static const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    [[maybe_unused]] const ssize_t n = ::send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL);
  }
  // A 1 MB request line, while they hang: refused (431) or cut off, never read whole.
  const std::string huge =
      send_request(port, "GET /" + std::string(1 << 20, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_THAT(huge, Not(HasSubstr("200 OK")));
  // The listener drops the ones it took after its head timeout (3 s) and answers again while
  // the attacker still holds every connection open.
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(isitup::test::eventually([&] { return agent.get("/healthz").status == 200; }, 10s));
  for (int fd : slow) ::close(fd);
  const auto attack = std::chrono::steady_clock::now() - attack_start;
  // Closing 10,000 connections at once leaves the listener a backlog of them to take and drop
  // (seen once under CI load: the first request right after got no answer): it answers again
  // within a bounded wait.
  std::string after;
  EXPECT_TRUE(isitup::test::eventually(
      [&] {
        after = agent.get("/metrics", token).body;
        return after.find("isitup_runs_started_total") != std::string::npos;
      },
      10s));
  ASSERT_THAT(after, HasSubstr("isitup_runs_started_total"));

  // Checks ran on time throughout: every 100 ms, started within 0.5 s of their time. A stalled
  // scheduler would skip every run of the stall as late (30 for a 3 s stall); a loaded machine
  // may make one or two of the ~60 late (1 seen at load 15).
  const double started = metric(after, "isitup_runs_started_total\\{plugin=\"tcp_check\"\\}");
  const double expected =
      std::chrono::duration_cast<std::chrono::milliseconds>(attack).count() / 100.0;
  EXPECT_GE(started - started_before, 0.8 * expected) << after;
  const double late = metric(after, "isitup_runs_skipped_total\\{reason=\"late\"\\}");
  EXPECT_GE(late, 0) << after;  // -1: not in the text
  EXPECT_LE(late, 0.05 * expected) << after;
  const double runs = metric(after, "isitup_scheduler_lateness_seconds_count");
  EXPECT_EQ(metric(after, "isitup_scheduler_lateness_seconds_bucket\\{le=\"0.5\"\\}"), runs)
      << after;
  // The listener counted what it refused: at once, those it accepted beyond its queue (the
  // kernel's small accept backlog drops many of the 10,000 before), and after its head
  // timeout, the ones it had taken.
  EXPECT_GT(metric(after, "isitup_http_connections_refused_total\\{reason=\"busy\"\\}"), 500)
      << after;
  EXPECT_GT(metric(after, "isitup_http_connections_refused_total\\{reason=\"head_timeout\"\\}"), 0)
      << after;
  // Memory stays bounded (the agent alone is about 20 MB).
  EXPECT_LT(metric(after, "process_resident_memory_bytes"), 200e6) << after;

  // Odd requests get a clean refusal, nothing from the file system.
  for (const char* path : {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                           "/api/v1/checks/../../../etc/passwd", "//etc/passwd"}) {
    const std::string got = send_request(
        port, std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  token + "\r\n\r\n");
    EXPECT_THAT(got, Not(HasSubstr("root:"))) << path;
    EXPECT_THAT(got, testing::AnyOf(HasSubstr("HTTP/1.1 404"), HasSubstr("HTTP/1.1 400")))
        << path << ": " << got;
  }
  EXPECT_THAT(send_request(port, "BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 4"));
  EXPECT_THAT(send_request(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                     token + "\r\n\r\n"),
              HasSubstr("HTTP/1.1 405"));
  EXPECT_THAT(
      send_request(port, "GET /healthz HTTP/1.1\r\n" + std::string(20000, 'x') + "\r\n\r\n"),
      HasSubstr("HTTP/1.1 431"));
  const std::string huge_alone =
      send_request(port, "GET /" + std::string(1 << 20, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_THAT(huge_alone, Not(HasSubstr("200 OK")));
  EXPECT_EQ(agent.get("/healthz").status, 200);
  EXPECT_EQ(agent.stop(), 0);
}

}  // namespace
