// The fixture of tcp_check's and tls_check's tests: the shared check fixture
// (tests/support/check_fixture.hpp) against servers on loopback (line_server.hpp).
#pragma once

#include <chrono>
#include <string>

#include "check_fixture.hpp"

namespace isitup::net::testing {

using namespace std::chrono_literals;
using isitup::test::observed;
using sdk::testing::check_under_test;
using sdk::testing::fake_host;
using sdk::testing::list_value;
using sdk::testing::option_map;

class conn_fixture : public test::check_fixture<> {
 protected:
  // Prepares a check named after its target.
  void* prepare(const std::string& target, option_map options, std::string& error,
                std::chrono::milliseconds timeout = 2s) {
    return check_fixture::prepare(target, target, std::move(options), error, 60s, timeout);
  }
  static std::string local(int port) { return "127.0.0.1:" + std::to_string(port); }
};

}  // namespace isitup::net::testing
