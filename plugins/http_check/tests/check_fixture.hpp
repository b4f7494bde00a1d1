// The fixture of http_check's tests: the plugin compiled in, driven through the SDK's fake
// host, on both engines ("auto" and "curl"), against servers on loopback (test_servers.hpp).
#pragma once

#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

#include "fake_host.hpp"
#include "test_servers.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::http::testing {

using namespace std::chrono_literals;
using sdk::testing::check_under_test;
using sdk::testing::fake_host;
using sdk::testing::option_map;

// A copy of a result record (its strings die with the completion), and how the run went.
struct observed : sdk::record {
  bool done = false;
  std::chrono::milliseconds elapsed{0};
};

inline std::ostream& operator<<(std::ostream& o, const observed& r) {
  return o << (r.up ? "up" : "down") << " kind=" << r.error_kind << " message=" << r.error_message
           << " code=" << r.http_code << " elapsed=" << r.elapsed.count() << "ms";
}

// nginx is started once per test process, when a test first needs it.
inline nginx_server& nginx() {
  static nginx_server server;
  return server;
}

// Every case runs on both engines: "auto" (http(s):// on the lean HTTP/1.1 engine, the
// rest on curl) and "curl" (everything on libcurl); the records must be the same.
class http_check_test : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    plugin_ = std::make_unique<check_under_test>(host_, isitup_plugin_entry());
    ASSERT_TRUE(plugin_->ok()) << plugin_->error();
  }
  void TearDown() override { EXPECT_TRUE(host_.problems().empty()); }

  // Prepares a check with this run's engine (unless the options choose one).
  void* prepare(const std::string& name, const std::string& target, option_map options,
                std::string& error, std::chrono::milliseconds interval = 60s,
                std::chrono::milliseconds timeout = 5s) {
    options.emplace("engine", GetParam());
    return plugin_->prepare(name, target, std::move(options), error, interval, timeout);
  }

  // Prepares and runs one check; asserts it ended within timeout + 1 s.
  observed check(const std::string& target, option_map options = {},
                 std::chrono::milliseconds timeout = 2s) {
    std::string error;
    void* c = prepare(target, target, std::move(options), error, 60s, timeout);
    EXPECT_NE(c, nullptr) << error;
    observed r;
    if (!c) return r;
    return run(c, timeout);
  }
  observed run(void* c, std::chrono::milliseconds timeout = 2s) {
    observed r;
    const auto t0 = std::chrono::steady_clock::now();
    const auto outcome = plugin_->run(
        c, [&](const isitup_record_v1& v) { static_cast<sdk::record&>(r) = sdk::record::from(v); });
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    r.done = outcome.done;
    EXPECT_TRUE(r.done) << "no completion";
    EXPECT_LE(r.elapsed, timeout + 1s) << r;
    return r;
  }
  std::string prepare_error(const std::string& target, option_map options = {}) {
    std::string error;
    void* c = prepare(target, target, std::move(options), error);
    return c ? "" : error;
  }

  static std::string http(const std::string& path, const char* host = "127.0.0.1") {
    return std::string("http://") + host + ":" + std::to_string(nginx().http_port) + path;
  }
  static std::string https(int port, const std::string& path = "/") {
    return "https://localhost:" + std::to_string(port) + path;
  }
  static void expect_down(const observed& r, const std::string& kind) {
    EXPECT_FALSE(r.up) << r;
    EXPECT_EQ(r.error_kind, kind) << r;
    EXPECT_FALSE(r.error_message.empty());
  }
  static void expect_sensible_timings(const observed& r) {
    EXPECT_GE(r.connect_ms, 0.0) << r;
    EXPECT_GE(r.ttfb_ms, 0.0) << r;
    EXPECT_GE(r.total_ms, 0.0) << r;
    const double dns = r.dns_ms < 0 ? 0 : r.dns_ms, tls = r.tls_ms < 0 ? 0 : r.tls_ms;
    EXPECT_LE(dns + r.connect_ms + tls, r.ttfb_ms + 0.01) << r;
    EXPECT_LE(r.ttfb_ms, r.total_ms + 0.01) << r;
    EXPECT_LE(r.total_ms, static_cast<double>(r.elapsed.count()) + 1.0) << r;
  }

  fake_host host_;
  std::unique_ptr<check_under_test> plugin_;
};

}  // namespace isitup::http::testing
