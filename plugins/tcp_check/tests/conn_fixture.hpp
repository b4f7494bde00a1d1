// The fixture of tcp_check's and tls_check's tests: the plugin compiled into the test binary
// (its isitup_plugin_entry), driven through the SDK's fake host against servers on loopback.
// Every run asserts that it completed, within its timeout + 1 s.
#pragma once

#include <gtest/gtest.h>
#include <isitup/plugin.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

#include "fake_host.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::net::testing {

using namespace std::chrono_literals;
using sdk::testing::check_under_test;
using sdk::testing::fake_host;
using sdk::testing::list_value;
using sdk::testing::option_map;

// A copy of a result record (its strings die with the completion).
struct observed {
  bool done = false, up = false;
  std::string kind, message, ip, extra;
  int32_t regex_match = ISITUP_ABSENT_INT, days_left = ISITUP_ABSENT_DAYS;
  int64_t not_after = ISITUP_ABSENT_TIME;
  double dns = ISITUP_ABSENT_MS, connect = ISITUP_ABSENT_MS, tls = ISITUP_ABSENT_MS,
         ttfb = ISITUP_ABSENT_MS, total = ISITUP_ABSENT_MS;
  std::chrono::milliseconds elapsed{0};
};

inline std::ostream& operator<<(std::ostream& o, const observed& r) {
  return o << (r.up ? "up" : "down") << " kind=" << r.kind << " message=" << r.message
           << " elapsed=" << r.elapsed.count() << "ms extra=" << r.extra;
}

class conn_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = std::make_unique<check_under_test>(host_, isitup_plugin_entry());
    ASSERT_TRUE(plugin_->ok()) << plugin_->error();
  }
  void TearDown() override { EXPECT_TRUE(host_.problems().empty()); }

  void* prepare(const std::string& target, option_map options, std::string& error,
                std::chrono::milliseconds timeout = 2s) {
    return plugin_->prepare(target, target, std::move(options), error, 60s, timeout);
  }
  // Prepares and runs one check; asserts it ended within timeout + 1 s.
  observed check(const std::string& target, option_map options = {},
                 std::chrono::milliseconds timeout = 2s) {
    std::string error;
    void* c = prepare(target, std::move(options), error, timeout);
    EXPECT_NE(c, nullptr) << error;
    if (!c) return {};
    return run(c, timeout);
  }
  observed run(void* c, std::chrono::milliseconds timeout = 2s) {
    observed r;
    const auto t0 = std::chrono::steady_clock::now();
    const auto outcome = plugin_->run(c, [&](const isitup_record_v1& v) {
      r.up = v.status == ISITUP_UP;
      r.kind = v.error_kind ? v.error_kind : "";
      r.message = v.error_message ? v.error_message : "";
      r.ip = v.ip ? v.ip : "";
      r.extra = v.extra_json ? v.extra_json : "";
      r.regex_match = v.regex_match;
      r.days_left = v.tls_days_left;
      r.not_after = v.tls_not_after_ms;
      r.dns = v.dns_ms, r.connect = v.connect_ms, r.tls = v.tls_ms, r.ttfb = v.ttfb_ms;
      r.total = v.total_ms;
    });
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    r.done = outcome.done;
    EXPECT_TRUE(r.done) << "no completion";
    EXPECT_LE(r.elapsed, timeout + 1s) << r;
    return r;
  }
  std::string prepare_error(const std::string& target, option_map options = {}) {
    std::string error;
    return prepare(target, std::move(options), error) ? "" : error;
  }
  static void expect_down(const observed& r, const std::string& kind) {
    EXPECT_FALSE(r.up) << r;
    EXPECT_EQ(r.kind, kind) << r;
    EXPECT_FALSE(r.message.empty());
  }
  static std::string local(int port) { return "127.0.0.1:" + std::to_string(port); }

  fake_host host_;
  std::unique_ptr<check_under_test> plugin_;
};

}  // namespace isitup::net::testing
