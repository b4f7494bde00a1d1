// The fixture of http_check's tests: the shared check fixture (tests/support/check_fixture.hpp)
// on both engines ("auto" and "curl"), against servers on loopback (test_servers.hpp).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "check_fixture.hpp"
#include "test_servers.hpp"

namespace isitup::http::testing {

using namespace std::chrono_literals;
using isitup::test::observed;
using sdk::testing::check_under_test;
using sdk::testing::fake_host;
using sdk::testing::list_value;
using sdk::testing::map_value;
using sdk::testing::option_map;

// nginx is started once per test process, when a test first needs it.
inline nginx_server& nginx() {
  static nginx_server server;
  return server;
}

// Every case runs on both engines: "auto" (http(s):// on the lean HTTP/1.1 engine, the
// rest on curl) and "curl" (everything on libcurl); the records must be the same.
class http_check_test : public test::check_fixture<::testing::TestWithParam<std::string>> {
 protected:
  void SetUp() override {
    every_prepare_.emplace("engine", GetParam());
    check_fixture::SetUp();
  }

  static std::string http(const std::string& path, const char* host = "127.0.0.1") {
    return std::string("http://") + host + ":" + std::to_string(nginx().http_port) + path;
  }
  static std::string https(int port, const std::string& path = "/") {
    return "https://localhost:" + std::to_string(port) + path;
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
};

}  // namespace isitup::http::testing
