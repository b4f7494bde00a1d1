// icmp_check pinging 127.0.0.1 and ::1, host names through dnsmasq on 127.0.0.1. The plugin is
// compiled in and driven through the SDK's fake host. Where the kernel refuses both ICMP
// socket kinds these tests are skipped with the plugin's reason (the sysctl and the
// capability); the refusal, the unprivileged socket and packet loss are tested in child
// processes (icmp_isolated_test.cpp).
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check_fixture.hpp"
#include "dnsmasq.hpp"
#include "plugin_example.hpp"

namespace isitup::icmp {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;
using sdk::testing::list_value;
using sdk::testing::option_map;

test::dnsmasq& dns() {
  static test::dnsmasq d(
      {"--host-record=host.test,127.0.0.8,::1", "--host-record=v4only.test,127.0.0.9"});
  return d;
}

bool ipv6_loopback() {
  const int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

using isitup::test::observed;

// A number field of a flat JSON object ("key":1.5), or -1.
double field(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

class icmp_check_test : public test::check_fixture<> {
 protected:
  // Skipped where the kernel refuses both ICMP socket kinds, with the plugin's reason.
  void SetUp() override {
    every_check_.emplace("interval", "20ms");
    check_fixture::SetUp();
    if (HasFatalFailure()) return;
    const std::string refused = prepare_error("127.0.0.1", {});
    if (refused.find("ping_group_range") != std::string::npos) GTEST_SKIP() << refused;
    ASSERT_EQ(refused, "");
  }
  static void expect_all_answered(const observed& r, int count) {
    EXPECT_TRUE(r.up) << r;
    EXPECT_EQ(field(r.extra_json, "packets_sent"), count) << r;
    EXPECT_EQ(field(r.extra_json, "packets_received"), count) << r;
    EXPECT_EQ(field(r.extra_json, "loss_percent"), 0) << r;
    const double lo = field(r.extra_json, "rtt_min_ms"), avg = field(r.extra_json, "rtt_avg_ms"),
                 hi = field(r.extra_json, "rtt_max_ms");
    EXPECT_GE(lo, 0) << r;
    EXPECT_LE(lo, avg + 0.001) << r;
    EXPECT_LE(avg, hi + 0.001) << r;
    EXPECT_GE(field(r.extra_json, "rtt_stddev_ms"), 0) << r;
    EXPECT_NEAR(r.total_ms, avg, 0.001) << r;
  }
};

TEST_F(icmp_check_test, pings_loopback) {
  const observed r = check("127.0.0.1", {{"count", "3"}});
  expect_all_answered(r, 3);
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_LT(r.dns_ms, 0) << "an IP address is not looked up";
  EXPECT_GE(r.elapsed, 40ms) << "three requests 20 ms apart";
  EXPECT_NE(r.extra_json.find("\"packet_size\":56"), std::string::npos) << r;
}

TEST_F(icmp_check_test, pings_ipv6_loopback) {
  if (!ipv6_loopback()) GTEST_SKIP() << "::1 cannot be bound on this host";
  const observed r = check("::1", {{"count", "2"}});
  expect_all_answered(r, 2);
  EXPECT_EQ(r.ip, "::1");
}

TEST_F(icmp_check_test, sends_the_packet_size_asked_for) {
  const observed r = check("127.0.0.1", {{"count", "2"}, {"packet_size", "4000"}});
  expect_all_answered(r, 2);
  EXPECT_NE(r.extra_json.find("\"packet_size\":4000"), std::string::npos) << r;
}

TEST_F(icmp_check_test, looks_host_names_up_with_the_shared_resolver) {
  ASSERT_TRUE(dns().running()) << dns().log();
  const list_value servers{dns().address()};
  observed r = check("host.test", {{"count", "1"}, {"dns_servers", servers}});
  expect_all_answered(r, 1);
  EXPECT_EQ(r.ip, "127.0.0.8");
  EXPECT_GE(r.dns_ms, 0) << r;
  if (ipv6_loopback()) {
    r = check("host.test", {{"count", "1"}, {"dns_servers", servers}, {"ip_protocol", "ip6"}});
    expect_all_answered(r, 1);
    EXPECT_EQ(r.ip, "::1");
  }
  // No IPv6 address: the other family, unless ip_fallback is off.
  r = check("v4only.test", {{"count", "1"}, {"dns_servers", servers}, {"ip_protocol", "ip6"}});
  EXPECT_EQ(r.ip, "127.0.0.9") << r;
  r = check(
      "v4only.test",
      {{"count", "1"}, {"dns_servers", servers}, {"ip_protocol", "ip6"}, {"ip_fallback", "false"}});
  EXPECT_EQ(r.error_kind, "dns") << r;
  r = check("nope.test", {{"count", "1"}, {"dns_servers", servers}});
  EXPECT_EQ(r.error_kind, "dns") << r;
  EXPECT_NE(r.error_message.find("nope.test"), std::string::npos) << r;
}

// The kernel refuses to send to a broadcast address (no SO_BROADCAST): every request fails
// to go out, and the run ends at once with kind connect and the reason.
TEST_F(icmp_check_test, requests_the_kernel_refuses_to_send_are_a_connect_error) {
  const observed r = check("127.255.255.255", {{"count", "3"}});
  EXPECT_FALSE(r.up) << r;
  EXPECT_EQ(r.error_kind, "connect") << r;
  EXPECT_NE(r.error_message.find("cannot send to 127.255.255.255"), std::string::npos) << r;
  EXPECT_NE(r.extra_json.find("\"packets_received\":0"), std::string::npos) << r;
  EXPECT_EQ(field(r.extra_json, "loss_percent"), 100) << r;
}

TEST_F(icmp_check_test, many_concurrent_runs_complete_once_each) {
  std::string error;
  std::vector<void*> checks;
  for (int i = 0; i < 100; ++i) {
    checks.push_back(plugin_->prepare("c" + std::to_string(i), "127.0.0.1",
                                      {{"count", "3"}, {"interval", "10ms"}}, error));
    ASSERT_NE(checks.back(), nullptr) << error;
  }
  std::vector<std::thread> runners;
  runners.reserve(checks.size());
  std::atomic<int> up{0}, received{0};
  for (void* c : checks)
    runners.emplace_back([&, c] {
      plugin_->run(c, [&](const isitup_record_v1& v) {
        up += v.status == ISITUP_UP;
        received += static_cast<int>(field(v.extra_json ? v.extra_json : "", "packets_received"));
      });
    });
  for (std::thread& t : runners) t.join();
  EXPECT_EQ(up.load(), 100);
  EXPECT_EQ(received.load(), 300);  // each reply matched to its own run, none twice
}

// Destroying the plugin abandons its runs in flight without completing them, at once: one
// between two requests, one waiting for a DNS server that never answers.
TEST_F(icmp_check_test, destroy_abandons_runs_in_flight_without_completing_them) {
  const int quiet_dns = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // nobody reads it
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(quiet_dns, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(getsockname(quiet_dns, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string quiet = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  const isitup_check_ops_v1* ops = isitup_plugin_entry()->check;
  fake_host host;
  void* instance = nullptr;
  char err[512] = "";
  ASSERT_EQ(ops->create(host.table(), host.ctx(), &instance, err, sizeof err), ISITUP_OK) << err;
  std::vector<std::unique_ptr<sdk::testing::fake_options>> options;
  std::vector<void*> checks;
  for (const char* target : {"127.0.0.1", "nx.test"}) {
    options.push_back(std::make_unique<sdk::testing::fake_options>(
        ops->options, ops->option_count,
        option_map{{"count", "5"}, {"dns_servers", list_value{quiet}}}));
    const isitup_check_spec_v1 spec{sizeof spec, target, target,
                                    60000,       30000,  options.back()->raw()};
    void* c = nullptr;
    ASSERT_EQ(ops->prepare(instance, &spec, &c, err, sizeof err), ISITUP_OK) << err;
    checks.push_back(c);
  }
  static std::atomic<int> completions{0};
  completions = 0;
  const auto count = [](void*, const isitup_record_v1*) { ++completions; };
  const isitup_run_v1 run{sizeof run, 0, 30000};
  for (void* c : checks) ops->start(instance, c, &run, count, nullptr);
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  for (void* c : checks) ops->release(instance, c);
  ops->destroy(instance);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(completions.load(), 0);
  close(quiet_dns);
}

TEST_F(icmp_check_test, bad_options_are_refused_naming_the_option) {
  EXPECT_NE(prepare_error("127.0.0.1", {{"count", "0"}}).find("count:"), std::string::npos);
  EXPECT_NE(prepare_error("127.0.0.1", {{"interval", "5ms"}}).find("interval:"), std::string::npos);
  EXPECT_NE(prepare_error("127.0.0.1", {{"packet_size", "8"}}).find("packet_size:"),
            std::string::npos);
  EXPECT_NE(prepare_error("127.0.0.1", {{"max_loss_percent", "150"}}).find("max_loss_percent:"),
            std::string::npos);
  EXPECT_NE(prepare_error("127.0.0.1", {{"ip_protocol", "ipx"}}).find("ip_protocol:"),
            std::string::npos);
  EXPECT_NE(
      prepare_error("127.0.0.1", {{"dns_servers", list_value{"dns.example"}}}).find("dns_servers:"),
      std::string::npos);
  EXPECT_NE(prepare_error("bad host!", {}).find("target:"), std::string::npos);
  // 5 requests 1 s apart need more than the 3 s timeout.
  EXPECT_NE(prepare_error("127.0.0.1", {{"count", "5"}}, 3s).find("timeout"), std::string::npos);
  EXPECT_EQ(prepare_error("[::1]", {}), "");
}

// example.yml is a config the agent loads, and its checks show every declared option.
TEST(icmp_check_example, loads_and_shows_every_option) {
  const test::declared_options declared =
      test::declared_by("icmp_check", *isitup_plugin_entry()->check);
  const test::example_config example = test::read_example_file(
      std::string(ISITUP_SOURCE_DIR) + "/plugins/icmp_check/example.yml", declared);
  EXPECT_GE(test::sections_of(example.checks, "icmp_check").size(), 2u);
  for (const std::string& name : test::options_not_shown(example.checks, declared))
    ADD_FAILURE() << name << " is not shown in example.yml";
}

}  // namespace
}  // namespace isitup::icmp
