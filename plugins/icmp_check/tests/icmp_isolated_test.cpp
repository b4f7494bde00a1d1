// icmp_check in child processes that change what the kernel allows them, so the test process
// and the host stay as they are: without CAP_NET_RAW (the refusal naming the sysctl and the
// capability), and in a network namespace of their own (nothing there leaves the machine:
// its only interface is its loopback), where ping_group_range can admit every group (the
// unprivileged datagram socket) and a route into loopback swallows requests (packet loss).
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include <isitup/util/error_text.hpp>

#include "fake_host.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::icmp {
namespace {

using namespace std::chrono_literals;
using sdk::testing::check_under_test;
using sdk::testing::fake_host;
using sdk::testing::option_map;

// Runs `body` in a forked child and returns what it returned (its last words: a child that
// cannot go on returns early with its reason).
std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(fds[0]);
    const std::string out = body();
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string got;
  char buf[1024];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got;
}

bool drop_cap_net_raw() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  data[0].effective &= ~(1u << CAP_NET_RAW);
  data[0].permitted &= ~(1u << CAP_NET_RAW);
  return syscall(SYS_capset, &hdr, data) == 0;
}

// A network namespace of this process's own with its loopback up; "" or why not.
std::string private_network() {
  if (unshare(CLONE_NEWNET) != 0)
    return std::string("unshare(CLONE_NEWNET): ") + sdk::error_text(errno);
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  const bool up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
                  (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
  close(fd);
  return up ? "" : "cannot bring lo up in a new network namespace";
}

// Runs one check in the child and describes its result: "up|down kind extra".
std::string run_one(const std::string& target, option_map options,
                    std::chrono::milliseconds timeout) {
  fake_host host;
  check_under_test plugin(host, isitup_plugin_entry());
  std::string error, out;
  void* c = plugin.prepare(target, target, std::move(options), error, 60s, timeout);
  if (!c) return "refused: " + error;
  const auto t0 = std::chrono::steady_clock::now();
  plugin.run(c, [&](const isitup_record_v1& v) {
    out = std::string(v.status == ISITUP_UP ? "up " : "down ") +
          (v.error_kind ? v.error_kind : "-") + " " + (v.extra_json ? v.extra_json : "") + " " +
          (v.error_message ? v.error_message : "");
  });
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return out + " elapsed_ms=" + std::to_string(ms.count());
}

// Without CAP_NET_RAW and with ping_group_range excluding the group: prepare refuses, naming
// both. Where the sysctl allows the group, the datagram socket is used instead.
TEST(icmp_check_privileges, without_cap_net_raw_prepare_names_the_sysctl_and_the_capability) {
  const std::string got = in_child([] {
    if (!drop_cap_net_raw()) return std::string("capset failed");
    return run_one("127.0.0.1", {{"count", "1"}}, 2s);
  });
  std::ifstream range("/proc/sys/net/ipv4/ping_group_range");
  long lo = 1, hi = 0;
  range >> lo >> hi;
  const long gid = static_cast<long>(getgid());
  if (lo <= gid && gid <= hi) {
    EXPECT_EQ(got.rfind("up ", 0), 0u) << got;
  } else {
    EXPECT_EQ(got.rfind("refused: ", 0), 0u) << got;
    EXPECT_NE(got.find("net.ipv4.ping_group_range"), std::string::npos) << got;
    EXPECT_NE(got.find("CAP_NET_RAW"), std::string::npos) << got;
  }
}

// The unprivileged path: ping_group_range admits every group, CAP_NET_RAW is gone, and
// 127.0.0.1 and ::1 are pinged over datagram sockets.
TEST(icmp_check_privileges, pings_over_an_unprivileged_datagram_socket_when_the_sysctl_allows) {
  const std::string got = in_child([] {
    if (std::string why = private_network(); !why.empty()) return "skip: " + why;
    std::ofstream("/proc/sys/net/ipv4/ping_group_range") << "0 2147483647";
    if (!drop_cap_net_raw()) return std::string("capset failed");
    return run_one("127.0.0.1", {{"count", "2"}, {"interval", "10ms"}}, 2s) + "\n" +
           run_one("::1", {{"count", "2"}, {"interval", "10ms"}}, 2s);
  });
  if (got.rfind("skip: ", 0) == 0) GTEST_SKIP() << got;
  const size_t nl = got.find('\n');
  ASSERT_NE(nl, std::string::npos) << got;
  for (const std::string& line : {got.substr(0, nl), got.substr(nl + 1)}) {
    EXPECT_EQ(line.rfind("up ", 0), 0u) << line;
    EXPECT_NE(line.find("\"packets_received\":2"), std::string::npos) << line;
    EXPECT_NE(line.find("\"socket\":\"datagram\""), std::string::npos) << line;
  }
}

// Packet loss: a route sends 10.9.9.9 into the namespace's loopback, which is not that
// address, so every request is swallowed. The run ends at its timeout, down (packet_loss)
// with 100 % loss, unless max_loss_percent allows it.
TEST(icmp_check_loss, requests_without_replies_are_lost_at_the_timeout) {
  const std::string got = in_child([] {
    if (std::string why = private_network(); !why.empty()) return "skip: " + why;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): in the forked child, which has one thread
    if (std::system("/usr/sbin/ip route add 10.9.9.9/32 dev lo") != 0)
      return std::string("skip: ip route add failed");
    return run_one("10.9.9.9", {{"count", "3"}, {"interval", "50ms"}}, 600ms) + "\n" +
           run_one("10.9.9.9", {{"count", "2"}, {"interval", "10ms"}, {"max_loss_percent", "100"}},
                   300ms);
  });
  if (got.rfind("skip: ", 0) == 0) GTEST_SKIP() << got;
  const size_t nl = got.find('\n');
  ASSERT_NE(nl, std::string::npos) << got;
  const std::string lost = got.substr(0, nl), allowed = got.substr(nl + 1);
  EXPECT_EQ(lost.rfind("down packet_loss ", 0), 0u) << lost;
  EXPECT_NE(lost.find("\"packets_sent\":3,\"packets_received\":0,\"loss_percent\":100"),
            std::string::npos)
      << lost;
  EXPECT_NE(lost.find("\"rtt_avg_ms\":null"), std::string::npos) << lost;
  EXPECT_NE(lost.find("3 of 3 echo requests to 10.9.9.9 got no reply (100% loss; at most 50% "
                      "allowed)"),
            std::string::npos)
      << lost;
  const long ms = std::atol(lost.c_str() + lost.find("elapsed_ms=") + 11);
  EXPECT_GE(ms, 590) << lost;  // waited for replies until the timeout
  EXPECT_LE(ms, 1600) << lost;
  EXPECT_EQ(allowed.rfind("up ", 0), 0u) << allowed;
}

}  // namespace
}  // namespace isitup::icmp
