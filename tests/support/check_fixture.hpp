// The fixture every check plugin's tests share: the plugin compiled into the test binary (its
// isitup_plugin_entry), driven through the SDK's fake host (sdk/testing: check_under_test), each
// run copied into an `observed` record. Header-only, for isitup_plugin_test() binaries (GTest).
//
//   class dns_check_test : public isitup::test::check_fixture<> {...};            // TEST_F
//   class http_check_test
//       : public isitup::test::check_fixture<::testing::TestWithParam<std::string>> {...};
//
// Every run asserts that its completion came and that it came within the check's timeout plus
// the driver's 5 s of slack: a plugin that ignores its timeout fails, a loaded machine does not.
// Options in every_prepare_ are added to each prepare() that does not give them (an engine
// choice), those in every_check_ to each check() (a test server's address). One test thread.
#pragma once

#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "fake_host.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::test {

// A copy of a result record (its strings die with the completion), and how the run went.
struct observed : sdk::record {
  bool done = false;
  std::chrono::milliseconds elapsed{0};
};

inline std::ostream& operator<<(std::ostream& o, const observed& r) {
  o << (r.up ? "up" : "down") << " kind=" << r.error_kind << " message=" << r.error_message;
  if (r.http_code != ISITUP_ABSENT_INT) o << " code=" << r.http_code;
  if (!r.ip.empty()) o << " ip=" << r.ip;
  if (!r.extra_json.empty()) o << " extra=" << r.extra_json;
  return o << " elapsed=" << r.elapsed.count() << "ms";
}

template <class Base = ::testing::Test>
class check_fixture : public Base {
 protected:
  using option_map = sdk::testing::option_map;
  // The driver waits this long past a run's timeout for its completion (check_under_test).
  static constexpr std::chrono::milliseconds slack{5000};

  void SetUp() override {
    plugin_ = std::make_unique<sdk::testing::check_under_test>(host_, isitup_plugin_entry());
    ASSERT_TRUE(plugin_->ok()) << plugin_->error();
  }
  void TearDown() override { EXPECT_TRUE(host_.problems().empty()) << host_.problems().size(); }

  // Prepares a check as a `checks:` entry would; null with `error` when refused.
  void* prepare(const std::string& name, const std::string& target, option_map options,
                std::string& error, std::chrono::milliseconds interval = std::chrono::seconds(60),
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    for (const auto& o : every_prepare_) options.insert(o);
    return plugin_->prepare(name, target, std::move(options), error, interval, timeout);
  }
  // Prepares (named after its target) and runs one check.
  observed check(const std::string& target, option_map options = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    for (const auto& o : every_check_) options.insert(o);
    std::string error;
    void* c = prepare(target, target, std::move(options), error, std::chrono::seconds(60), timeout);
    EXPECT_NE(c, nullptr) << error;
    if (!c) return {};
    return run(c, timeout);
  }
  // Runs a prepared check once (`timeout`: the one it was prepared with).
  observed run(void* c, std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    observed r;
    const auto t0 = std::chrono::steady_clock::now();
    const auto outcome = plugin_->run(
        c, [&](const isitup_record_v1& v) { static_cast<sdk::record&>(r) = sdk::record::from(v); });
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    r.done = outcome.done;
    EXPECT_TRUE(r.done) << "no completion";
    EXPECT_LE(r.elapsed, timeout + slack) << r;
    return r;
  }
  // The error of a check that is refused at prepare, or "" when it is accepted.
  std::string prepare_error(const std::string& target, option_map options = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string error;
    void* c = prepare(target, target, std::move(options), error, std::chrono::seconds(60), timeout);
    return c ? "" : error;
  }
  // A check of `target`, to which connecting hangs (test::hanging_port), ends as a timeout: at
  // its connect_timeout (300 ms, well before the check's 3 s) and, without one, at the check's
  // own timeout (800 ms). Returns the run with connect_timeout.
  observed expect_connect_timeouts_end_a_hanging_connect(const std::string& target) {
    using std::chrono::milliseconds;
    observed r = check(target, {{"connect_timeout", std::string("300ms")}}, milliseconds(3000));
    expect_down(r, "timeout");
    EXPECT_GE(r.elapsed, milliseconds(250)) << r;
    EXPECT_LT(r.elapsed, milliseconds(1500)) << r;  // the connect timeout, not the check's 3 s
    const observed whole = check(target, {}, milliseconds(800));
    expect_down(whole, "timeout");
    EXPECT_GE(whole.elapsed, milliseconds(700)) << whole;
    return r;
  }
  static void expect_down(const observed& r, const std::string& kind) {
    EXPECT_FALSE(r.up) << r;
    EXPECT_EQ(r.error_kind, kind) << r;
    EXPECT_FALSE(r.error_message.empty()) << r;
  }

  sdk::testing::fake_host host_;
  std::unique_ptr<sdk::testing::check_under_test> plugin_;
  option_map every_prepare_, every_check_;
};

}  // namespace isitup::test
