// http_check against real servers on loopback, started by the test: nginx (plain HTTP, TLS
// with a generated CA, an expired and a wrong-host certificate), misbehaving servers, and a
// UDP DNS responder. The plugin source is compiled in and driven through the SDK's fake host.
// Every run asserts status, error kind, and that it ended within its timeout + 1 s.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "fake_host.hpp"
#include "http_config.hpp"
#include "http_engine.hpp"
#include "testing/test_servers.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::http {
namespace {

using namespace std::chrono_literals;
using sdk::testing::check_under_test;
using sdk::testing::fake_host;
using sdk::testing::list_value;
using sdk::testing::map_value;
using sdk::testing::option_map;
using testing::bad_server;
using testing::dns_server;
using testing::nginx_server;

// A copy of a result record (its strings die with the completion).
struct observed {
  bool done = false, up = false;
  std::string kind, message, version, ip;
  int32_t code = ISITUP_ABSENT_INT, regex_match = ISITUP_ABSENT_INT, redirects = ISITUP_ABSENT_INT,
          days_left = ISITUP_ABSENT_DAYS;
  int64_t bytes = ISITUP_ABSENT_INT, not_after = ISITUP_ABSENT_TIME;
  double dns = ISITUP_ABSENT_MS, connect = ISITUP_ABSENT_MS, tls = ISITUP_ABSENT_MS,
         ttfb = ISITUP_ABSENT_MS, total = ISITUP_ABSENT_MS;
  std::chrono::milliseconds elapsed{0};
};

std::ostream& operator<<(std::ostream& o, const observed& r) {
  return o << (r.up ? "up" : "down") << " kind=" << r.kind << " message=" << r.message
           << " code=" << r.code << " elapsed=" << r.elapsed.count() << "ms";
}

// nginx is started once per test process, when a test first needs it.
nginx_server& nginx() {
  static nginx_server server;
  return server;
}

// Every case runs on both engines: "auto" (plain http:// on the lean HTTP/1.1 engine, the
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
    const auto outcome = plugin_->run(c, [&](const isitup_record_v1& v) {
      r.up = v.status == ISITUP_UP;
      r.kind = v.error_kind ? v.error_kind : "";
      r.message = v.error_message ? v.error_message : "";
      r.version = v.http_version ? v.http_version : "";
      r.ip = v.ip ? v.ip : "";
      r.code = v.http_code;
      r.regex_match = v.regex_match;
      r.redirects = v.redirects;
      r.days_left = v.tls_days_left;
      r.bytes = v.http_bytes;
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
    EXPECT_EQ(r.kind, kind) << r;
    EXPECT_FALSE(r.message.empty());
  }
  static void expect_sensible_timings(const observed& r) {
    EXPECT_GE(r.connect, 0.0) << r;
    EXPECT_GE(r.ttfb, 0.0) << r;
    EXPECT_GE(r.total, 0.0) << r;
    const double dns = r.dns < 0 ? 0 : r.dns, tls = r.tls < 0 ? 0 : r.tls;
    EXPECT_LE(dns + r.connect + tls, r.ttfb + 0.01) << r;
    EXPECT_LE(r.ttfb, r.total + 0.01) << r;
    EXPECT_LE(r.total, static_cast<double>(r.elapsed.count()) + 1.0) << r;
  }

  fake_host host_;
  std::unique_ptr<check_under_test> plugin_;
};

// ---------------------------------------------------------------- plain HTTP

TEST_P(http_check_test, ok_200_is_up_with_fields) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/"));
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.version, "1.1");
  EXPECT_EQ(r.bytes, 13);  // "hello isitup\n"
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_EQ(r.redirects, 0);
  EXPECT_EQ(r.regex_match, ISITUP_ABSENT_INT);
  EXPECT_EQ(r.tls, ISITUP_ABSENT_MS);
  EXPECT_EQ(r.days_left, ISITUP_ABSENT_DAYS);
  EXPECT_EQ(r.dns, ISITUP_ABSENT_MS);  // an address: nothing to resolve
  expect_sensible_timings(r);
}

TEST_P(http_check_test, host_name_is_resolved_by_our_resolver) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/", "localhost"));  // from /etc/hosts, via c-ares
  EXPECT_TRUE(r.up) << r;
  EXPECT_GE(r.dns, 0.0);
  EXPECT_EQ(r.ip, "127.0.0.1");
  expect_sensible_timings(r);
}

TEST_P(http_check_test, status_404_and_500_are_down) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  for (const char* path : {"/404", "/500"}) {
    const observed r = check(http(path));
    expect_down(r, "http_status");
    EXPECT_EQ(r.code, std::atoi(path + 1));
  }
}

TEST_P(http_check_test, expected_status_overrides_the_default) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  EXPECT_TRUE(check(http("/404"), {{"expect_status", list_value{"404"}}}).up);
  EXPECT_TRUE(check(http("/created"), {{"expect_status", list_value{"200-201", "404"}}}).up);
  expect_down(check(http("/created"), {{"expect_status", list_value{"200"}}}), "http_status");
  expect_down(check(http("/redirect"), {{"expect_status", list_value{"200"}}}), "http_status");
}

TEST_P(http_check_test, regex_must_match) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed ok = check(http("/"), {{"regex", "hello \\w+"}});
  EXPECT_TRUE(ok.up) << ok;
  EXPECT_EQ(ok.regex_match, 1);
  const observed bad = check(http("/"), {{"regex", "goodbye"}});
  expect_down(bad, "body_mismatch");
  EXPECT_EQ(bad.regex_match, 0);
  EXPECT_EQ(bad.code, 200);
}

TEST_P(http_check_test, regex_absent_must_not_match) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed ok = check(http("/"), {{"regex_absent", "(?i)error"}});
  EXPECT_TRUE(ok.up) << ok;
  EXPECT_EQ(ok.regex_match, 1);
  const observed bad = check(http("/"), {{"regex_absent", "isitup"}});
  expect_down(bad, "body_mismatch");
  EXPECT_EQ(bad.regex_match, 0);
}

TEST_P(http_check_test, redirect_is_followed_only_when_asked) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed not_followed = check(http("/redirect"));
  EXPECT_TRUE(not_followed.up) << not_followed;  // 302 is in the default 200-399
  EXPECT_EQ(not_followed.code, 302);
  EXPECT_EQ(not_followed.redirects, 0);
  const observed followed =
      check(http("/redirect"), {{"follow_redirects", "true"}, {"regex", "hello"}});
  EXPECT_TRUE(followed.up) << followed;
  EXPECT_EQ(followed.code, 200);
  EXPECT_EQ(followed.redirects, 1);
  EXPECT_EQ(followed.regex_match, 1);
}

TEST_P(http_check_test, redirect_loop_is_stopped) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/loop"), {{"follow_redirects", "true"}, {"max_redirects", "3"}});
  expect_down(r, "protocol");
  EXPECT_EQ(r.redirects, 3);
  EXPECT_NE(r.message.find("redirects"), std::string::npos) << r;
}

TEST_P(http_check_test, redirect_to_file_url_is_refused) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/to-file"), {{"follow_redirects", "true"}});
  expect_down(r, "protocol");
  EXPECT_NE(r.message.find("http"), std::string::npos) << r;
}

TEST_P(http_check_test, redirect_from_http_to_https) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r =
      check(http("/to-https"), {{"follow_redirects", "true"}, {"ca_file", nginx().certs().ca}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.redirects, 1);
  EXPECT_GT(r.days_left, 300);
}

TEST_P(http_check_test, method_body_headers_and_user_agent_are_sent) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  EXPECT_TRUE(check(http("/method"), {{"method", "POST"}, {"body", "a=1"}, {"regex", "^POST"}}).up);
  EXPECT_TRUE(check(http("/method"), {{"method", "DELETE"}, {"regex", "^DELETE"}}).up);
  const observed head = check(http("/"), {{"method", "HEAD"}});
  EXPECT_TRUE(head.up) << head;
  EXPECT_EQ(head.bytes, 0);
  const observed h = check(http("/header"), {{"headers", map_value{{"X-Isitup", "yes"}}},
                                             {"user_agent", "probe/9"},
                                             {"regex", "(?m)^x-isitup=yes ua=probe/9$"}});
  EXPECT_TRUE(h.up) << h;
  // A configured Host replaces the URL's (one Host header: nginx refuses two with 400).
  const observed host = check(http("/"), {{"headers", map_value{{"Host", "other.example"}}}});
  EXPECT_TRUE(host.up) << host;
}

// auto: plain http:// without proxy or reuse runs on the lean engine, https and the rest on
// curl; an http -> https redirect runs its first hop lean and the second on curl.
TEST_P(http_check_test, plain_http_runs_on_the_lean_engine_unless_curl_is_chosen) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const bool lean = GetParam() == "auto";
  auto lean_hops = [](const std::function<void()>& f) {
    const uint64_t before = engine::lean_transfers();
    f();
    return engine::lean_transfers() - before;
  };
  EXPECT_EQ(lean_hops([&] { EXPECT_TRUE(check(http("/")).up); }), lean ? 1u : 0u);
  EXPECT_EQ(lean_hops([&] {
              EXPECT_TRUE(check(http("/redirect"), {{"follow_redirects", "true"}}).up);
            }),
            lean ? 2u : 0u);
  EXPECT_EQ(lean_hops([&] {
              EXPECT_TRUE(check(http("/to-https"),
                                {{"follow_redirects", "true"}, {"ca_file", nginx().certs().ca}})
                              .up);
            }),
            lean ? 1u : 0u);
  EXPECT_EQ(
      lean_hops([&] {
        EXPECT_TRUE(check(https(nginx().https_port), {{"ca_file", nginx().certs().ca}}).up);
        EXPECT_TRUE(check(http("/?r"), {{"reuse_connections", "true"}}).up);
        // user:password@ becomes Basic auth on curl
        EXPECT_TRUE(check("http://u:p@127.0.0.1:" + std::to_string(nginx().http_port) + "/").up);
        EXPECT_TRUE(check("http://site.invalid/",
                          {{"proxy", "http://127.0.0.1:" + std::to_string(nginx().http_port)}})
                        .up);
      }),
      0u);
}

// Chunked and close-delimited bodies (the misbehaving servers cover content-length), and
// a 404 body read to its end: the same bytes on both engines.
TEST_P(http_check_test, chunked_and_close_delimited_bodies) {
  bad_server chunked(bad_server::mode::chunked);
  const observed c = check("http://127.0.0.1:" + std::to_string(chunked.port()) + "/",
                           {{"regex", "^hello chunked world$"}});
  EXPECT_TRUE(c.up) << c;
  EXPECT_EQ(c.bytes, 19);
  EXPECT_EQ(c.version, "1.1");
  bad_server closed(bad_server::mode::close_delimited);
  const observed d = check("http://127.0.0.1:" + std::to_string(closed.port()) + "/",
                           {{"regex", "^until close$"}});
  EXPECT_TRUE(d.up) << d;
  EXPECT_EQ(d.bytes, 11);
  EXPECT_EQ(d.version, "1.0");
}

// ---------------------------------------------------------------- misbehaving servers

TEST_P(http_check_test, connection_refused_is_connect) {
  const int port = testing::free_port();
  const observed r = check("http://127.0.0.1:" + std::to_string(port) + "/");
  expect_down(r, "connect");
  EXPECT_LT(r.elapsed, 1s);
}

// A listener with a backlog of 0 that never accepts: once one connection fills the backlog,
// the kernel drops further SYNs, so connecting hangs (no routable address is needed).
TEST_P(http_check_test, connect_timeout_gives_up_connecting) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(filler, reinterpret_cast<sockaddr*>(&a), len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  const observed r = check(url, {{"connect_timeout", "300ms"}}, 3s);
  expect_down(r, "timeout");
  EXPECT_GE(r.elapsed, 250ms) << r;
  EXPECT_LT(r.elapsed, 1500ms) << r;  // the connect timeout, not the check's 3 s
  // Without connect_timeout the check's own timeout ends it.
  const observed whole = check(url, {}, 800ms);
  expect_down(whole, "timeout");
  EXPECT_GE(whole.elapsed, 700ms) << whole;
  close(filler);
  close(listener);
}

TEST_P(http_check_test, server_that_never_answers_is_timeout) {
  bad_server server(bad_server::mode::silent);
  const observed r = check("http://127.0.0.1:" + std::to_string(server.port()) + "/", {}, 1s);
  expect_down(r, "timeout");
  EXPECT_GE(r.elapsed, 900ms);
}

TEST_P(http_check_test, trickling_server_is_timeout) {
  bad_server server(bad_server::mode::trickle);
  const observed r = check("http://127.0.0.1:" + std::to_string(server.port()) + "/", {}, 1500ms);
  expect_down(r, "timeout");
  EXPECT_EQ(r.code, 200);  // the head arrived
}

TEST_P(http_check_test, endless_body_is_too_large) {
  bad_server server(bad_server::mode::endless);
  const observed r = check("http://127.0.0.1:" + std::to_string(server.port()) + "/",
                           {{"max_body_bytes", "65536"}});
  expect_down(r, "too_large");
  EXPECT_LE(r.bytes, 65536);
}

TEST_P(http_check_test, garbage_instead_of_http_is_protocol) {
  bad_server server(bad_server::mode::garbage);
  const observed r = check("http://127.0.0.1:" + std::to_string(server.port()) + "/");
  expect_down(r, "protocol");
}

TEST_P(http_check_test, reset_mid_body_is_connect) {
  bad_server server(bad_server::mode::reset);
  const observed r = check("http://127.0.0.1:" + std::to_string(server.port()) + "/");
  expect_down(r, "connect");
  EXPECT_EQ(r.code, 200);
}

// ---------------------------------------------------------------- TLS

TEST_P(http_check_test, tls_unknown_ca_is_down_and_trusted_with_ca_file) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  expect_down(check(https(nginx().https_port)), "tls");
  const observed r = check(https(nginx().https_port), {{"ca_file", nginx().certs().ca}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.code, 200);
  EXPECT_GE(r.days_left, 363);
  EXPECT_LE(r.days_left, 365);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_GT(r.not_after, now_ms + 363LL * 86'400'000);
  EXPECT_GE(r.tls, 0.0);
  expect_sensible_timings(r);
  // The certificate has more than 364 days left, not more than 400.
  expect_down(check(https(nginx().https_port),
                    {{"ca_file", nginx().certs().ca}, {"min_tls_days_left", "400"}}),
              "tls");
}

TEST_P(http_check_test, expired_certificate) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(https(nginx().expired_port), {{"ca_file", nginx().certs().ca}});
  expect_down(r, "tls");
  EXPECT_NE(r.message.find("expired"), std::string::npos) << r;
  // Without verification the check is up and reports the negative days left.
  const observed unverified = check(https(nginx().expired_port), {{"tls_verify", "false"}});
  EXPECT_TRUE(unverified.up) << unverified;
  EXPECT_LT(unverified.days_left, -365);
  expect_down(
      check(https(nginx().expired_port), {{"tls_verify", "false"}, {"min_tls_days_left", "1"}}),
      "tls");
}

TEST_P(http_check_test, wrong_host_certificate) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(https(nginx().wrong_host_port), {{"ca_file", nginx().certs().ca}});
  expect_down(r, "tls");
  EXPECT_TRUE(check(https(nginx().wrong_host_port), {{"tls_verify", "false"}}).up);
}

TEST_P(http_check_test, client_certificate) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const auto& certs = nginx().certs();
  // Without one nginx answers 400 "No required SSL certificate was sent".
  const observed without = check(https(nginx().mtls_port), {{"ca_file", certs.ca}});
  expect_down(without, "http_status");
  EXPECT_EQ(without.code, 400);
  const observed with = check(https(nginx().mtls_port), {{"ca_file", certs.ca},
                                                         {"client_cert", certs.client_cert},
                                                         {"client_key", certs.client_key}});
  EXPECT_TRUE(with.up) << with;
  expect_down(check(https(nginx().mtls_port),
                    {{"ca_file", certs.ca}, {"client_cert", "/nonexistent/client.pem"}}),
              "tls");
}

// ---------------------------------------------------------------- connections and proxies

TEST_P(http_check_test, fresh_connection_per_run_unless_reuse_is_set) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  std::string error;
  void* fresh = prepare("fresh", http("/"), {}, error);
  ASSERT_NE(fresh, nullptr) << error;
  run(fresh);
  const observed again = run(fresh);
  EXPECT_TRUE(again.up);
  EXPECT_GE(again.connect, 0.0) << "a fresh run connects";
  void* reuse = prepare("reuse", http("/?reuse"), {{"reuse_connections", "true"}}, error);
  ASSERT_NE(reuse, nullptr) << error;
  run(reuse);
  const observed reused = run(reuse);
  EXPECT_TRUE(reused.up);
  EXPECT_EQ(reused.connect, ISITUP_ABSENT_MS) << "the second run reuses the connection";
}

TEST_P(http_check_test, proxy_resolves_the_target) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  // nginx serves absolute-form requests: it stands in for a forward proxy.
  const observed r = check(
      "http://site.invalid/",
      {{"proxy", "http://127.0.0.1:" + std::to_string(nginx().http_port)}, {"regex", "hello"}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.dns, ISITUP_ABSENT_MS);  // not resolved by us
}

// ---------------------------------------------------------------- DNS

TEST_P(http_check_test, nxdomain_and_servfail_are_dns) {
  dns_server dns;
  const list_value servers{dns.address()};
  const observed nx = check("http://nx.test/", {{"dns_servers", servers}});
  expect_down(nx, "dns");
  EXPECT_NE(nx.message.find("NXDOMAIN"), std::string::npos) << nx;
  const observed sf = check("http://servfail.test/", {{"dns_servers", servers}});
  expect_down(sf, "dns");
  EXPECT_NE(sf.message.find("SERVFAIL"), std::string::npos) << sf;
  EXPECT_GE(dns.queries(), 2);
}

// RFC 2308: the NXDOMAIN is kept for the SOA's minimum (1 s from the test server).
TEST_P(http_check_test, nxdomain_is_cached_for_the_soa_minimum) {
  dns_server dns;
  std::string error;
  void* c = prepare("nx", "http://gone.test/", {{"dns_servers", list_value{dns.address()}}}, error);
  ASSERT_NE(c, nullptr) << error;
  expect_down(run(c), "dns");
  std::this_thread::sleep_for(200ms);  // the SOA is asked for after the answer
  const int queries = dns.queries();
  const observed cached = run(c);
  expect_down(cached, "dns");
  EXPECT_NE(cached.message.find("NXDOMAIN"), std::string::npos) << cached;
  EXPECT_EQ(dns.queries(), queries);  // not asked again
  std::this_thread::sleep_for(1100ms);
  expect_down(run(c), "dns");
  EXPECT_GT(dns.queries(), queries);  // expired: asked again
}

// bücher.test is looked up, connected to and sent as its A-label xn--bcher-kva.test.
TEST_P(http_check_test, internationalized_host_name_becomes_its_a_label) {
  EXPECT_EQ(parse_url("http://b\xc3\xbc"
                      "cher.test/x")
                .host,
            "xn--bcher-kva.test");
  EXPECT_EQ(parse_url("http://B\xc3\x9c"
                      "CHER.test:81/x?y")
                .url,
            "http://xn--bcher-kva.test:81/x?y");
  EXPECT_NE(prepare_error("http://a\xe2\x80\x8f\xd7\x90.test/"), "");  // bidi rule broken
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  dns_server dns;
  const std::string url =
      "http://b\xc3\xbc"
      "cher.test:" +
      std::to_string(nginx().http_port) + "/";
  const observed r = check(url, {{"dns_servers", list_value{dns.address()}}, {"regex", "hello"}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_GE(dns.queries(), 1);
}

TEST_P(http_check_test, names_resolve_through_dns_servers_and_are_cached) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  dns_server dns;
  const std::string url = "http://ok.test:" + std::to_string(nginx().http_port) + "/";
  std::string error;
  void* c = prepare("ok", url, {{"dns_servers", list_value{dns.address()}}}, error);
  ASSERT_NE(c, nullptr) << error;
  const observed first = run(c);
  EXPECT_TRUE(first.up) << first;
  EXPECT_EQ(first.ip, "127.0.0.1");
  expect_sensible_timings(first);
  const int queries = dns.queries();
  EXPECT_GE(queries, 1);
  const observed second = run(c);
  EXPECT_TRUE(second.up) << second;
  EXPECT_EQ(dns.queries(), queries);  // the answer's 60 s TTL has not passed
}

TEST_P(http_check_test, cached_answers_expire_with_their_ttl) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  dns_server dns;
  const std::string url = "http://short.test:" + std::to_string(nginx().http_port) + "/";
  std::string error;
  void* c = prepare("short", url, {{"dns_servers", list_value{dns.address()}}}, error);
  ASSERT_NE(c, nullptr) << error;
  EXPECT_TRUE(run(c).up);
  const int queries = dns.queries();
  EXPECT_TRUE(run(c).up);
  EXPECT_EQ(dns.queries(), queries);    // cached
  std::this_thread::sleep_for(1100ms);  // TTL 1 s
  EXPECT_TRUE(run(c).up);
  EXPECT_GT(dns.queries(), queries);  // asked again
}

TEST_P(http_check_test, ip_protocol_and_fallback) {
  dns_server dns;
  const list_value servers{dns.address()};
  // v6only.test has only an AAAA record.
  const observed strict =
      check("http://v6only.test:1/", {{"dns_servers", servers}, {"ip_fallback", "false"}});
  expect_down(strict, "dns");
  EXPECT_NE(strict.message.find("IPv4"), std::string::npos) << strict;
  // With fallback it connects to ::1 (nothing listens on port 1).
  const observed fallback = check("http://v6only.test:1/", {{"dns_servers", servers}});
  expect_down(fallback, "connect");
  EXPECT_EQ(fallback.dns >= 0, true);
}

TEST_P(http_check_test, ipv6_target) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  if (!testing::ipv6_loopback_available()) {
    // No ::1 here: the check must still end, as a connect failure.
    expect_down(check("http://[::1]:80/"), "connect");
    return;
  }
  const observed r = check("http://[::1]:" + std::to_string(nginx().http6_port) + "/");
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.ip, "::1");
}

// ---------------------------------------------------------------- config errors

TEST_P(http_check_test, bad_targets_and_options_are_config_errors) {
  EXPECT_NE(prepare_error("ftp://example.com/").find("http"), std::string::npos);
  EXPECT_NE(prepare_error("file:///etc/passwd"), "");
  EXPECT_NE(prepare_error("not a url"), "");
  EXPECT_NE(prepare_error("http://"), "");
  EXPECT_EQ(prepare_error("https://example.com/"), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"expect_status", list_value{"abc"}}})
                .find("expect_status"),
            std::string::npos);
  EXPECT_NE(prepare_error("https://example.com/", {{"expect_status", list_value{"399-200"}}}), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"regex", "(unclosed"}}).find("regex"),
            std::string::npos);
  EXPECT_NE(prepare_error("https://example.com/", {{"ip_protocol", "ip5"}}), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"dns_servers", list_value{"dns.google"}}}), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"method", "get me"}}), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"max_in_flight", "0"}}), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"engine", "fast"}}).find("engine"),
            std::string::npos);
}

// ---------------------------------------------------------------- the async contract

struct run_counter {
  std::atomic<int> calls{0}, up{0}, slot_timeouts{0};
  static void done(void* ctx, const isitup_record_v1* r) {
    auto* c = static_cast<run_counter*>(ctx);
    if (r->status == ISITUP_UP) ++c->up;
    if (r->error_message && std::strstr(r->error_message, "max_in_flight")) ++c->slot_timeouts;
    ++c->calls;
  }
};

// Raw ABI access for what check_under_test does not do: many runs at once, destroy mid-run.
struct raw_plugin {
  raw_plugin(fake_host& h, std::string engine_name)
      : ops(isitup_plugin_entry()->check), engine(std::move(engine_name)) {
    char err[256] = "";
    EXPECT_EQ(ops->create(h.table(), h.ctx(), &instance, err, sizeof err), ISITUP_OK) << err;
  }
  void* prepare(const std::string& target, option_map given, std::chrono::milliseconds timeout) {
    given.emplace("engine", engine);
    options.push_back(std::make_unique<sdk::testing::fake_options>(ops->options, ops->option_count,
                                                                   std::move(given)));
    const isitup_check_spec_v1 spec{sizeof spec, target.c_str(),  target.c_str(),
                                    60000,       timeout.count(), options.back()->raw()};
    char err[256] = "";
    void* c = nullptr;
    EXPECT_EQ(ops->prepare(instance, &spec, &c, err, sizeof err), ISITUP_OK) << err;
    checks.push_back(c);
    return c;
  }
  void start(void* c, std::chrono::milliseconds timeout, run_counter& counter) {
    const isitup_run_v1 run{sizeof run, 0, timeout.count()};
    ops->start(instance, c, &run, &run_counter::done, &counter);
  }
  void destroy() {
    for (void* c : checks) ops->release(instance, c);
    ops->destroy(instance);
  }
  const isitup_check_ops_v1* ops;
  std::string engine;
  void* instance = nullptr;
  std::vector<std::unique_ptr<sdk::testing::fake_options>> options;
  std::vector<void*> checks;
};

TEST_P(http_check_test, many_runs_in_flight_each_complete_once) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  raw_plugin p(host_, GetParam());
  run_counter counter;
  constexpr int n = 300;
  std::vector<void*> checks;
  for (int i = 0; i < n; ++i)
    checks.push_back(
        p.prepare(http("/?n=" + std::to_string(i), i % 2 ? "localhost" : "127.0.0.1"), {}, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  for (void* c : checks) p.start(c, 5s, counter);
  while (counter.calls < n && std::chrono::steady_clock::now() - t0 < 6s)
    std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(100ms);  // a second completion would show up here
  EXPECT_EQ(counter.calls.load(), n);
  EXPECT_EQ(counter.up.load(), n);
  p.destroy();
}

// Thousands of runs behind a small max_in_flight: the wait queue is consumed, compacted and
// expired from; each run still completes exactly once.
TEST_P(http_check_test, long_wait_queue_completes_every_run_once) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  raw_plugin p(host_, GetParam());
  run_counter counter;
  constexpr int n = 5000;
  std::vector<void*> checks;
  for (int i = 0; i < n; ++i)
    checks.push_back(p.prepare(http("/?q=" + std::to_string(i)), {{"max_in_flight", "50"}}, 2s));
  const auto t0 = std::chrono::steady_clock::now();
  for (void* c : checks) p.start(c, 2s, counter);
  while (counter.calls < n && std::chrono::steady_clock::now() - t0 < 4s)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(counter.calls.load(), n);
  EXPECT_EQ(counter.up.load() + counter.slot_timeouts.load(), n);
  EXPECT_GT(counter.up.load(), 0);
  p.destroy();
}

TEST_P(http_check_test, max_in_flight_caps_concurrent_requests) {
  bad_server server(bad_server::mode::silent);
  raw_plugin p(host_, GetParam());
  run_counter counter;
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  std::vector<void*> checks;
  for (int i = 0; i < 4; ++i) checks.push_back(p.prepare(url, {{"max_in_flight", "2"}}, 1s));
  // The two that get the slots hold them for 2 s; the two queued behind them give up at 1 s,
  // well before a slot frees, whatever the machine's load.
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < checks.size(); ++i) p.start(checks[i], i < 2 ? 2s : 1s, counter);
  while (counter.calls < 4 && std::chrono::steady_clock::now() - t0 < 5s)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(counter.calls.load(), 4);
  EXPECT_EQ(counter.up.load(), 0);
  EXPECT_EQ(counter.slot_timeouts.load(), 2);  // two ran, two waited for a slot until timeout
  EXPECT_LE(std::chrono::steady_clock::now() - t0, 3s + 500ms);
  p.destroy();
}

TEST_P(http_check_test, destroy_abandons_runs_in_flight_without_completing_them) {
  bad_server server(bad_server::mode::silent);
  // A UDP socket nobody reads: a DNS server that never answers.
  const int quiet_dns = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(quiet_dns, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(getsockname(quiet_dns, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string quiet = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  raw_plugin p(host_, GetParam());
  run_counter counter;
  void* slow = p.prepare("http://127.0.0.1:" + std::to_string(server.port()) + "/", {}, 30s);
  void* resolving = p.prepare("http://nx.test/", {{"dns_servers", list_value{quiet}}}, 30s);
  p.start(slow, 30s, counter);
  p.start(resolving, 30s, counter);
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  p.destroy();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(counter.calls.load(), 0);
  close(quiet_dns);
}

INSTANTIATE_TEST_SUITE_P(engines, http_check_test, ::testing::Values("auto", "curl"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace isitup::http

namespace isitup::http {
namespace {

// The real agent loads the built plugin: `domains:` entries and an explicit check with YAML
// options (a status list mixing numbers and ranges) run against nginx.
TEST(http_check_agent, domains_and_checks_run_through_the_agent) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const std::string base = "http://127.0.0.1:" + std::to_string(nginx().http_port);
  test::temp_dir dir;
  const std::string cfg = dir.write("agent.yml",
                                    "agent: {id: t}\ndefaults: {timeout: 2s}\n"
                                    "domains:\n  - " +
                                        base + "/\n  - " + base +
                                        "/500\n"
                                        "checks:\n  - name: gone\n    target: " +
                                        base +
                                        "/404\n    options: {expect_status: [200, "
                                        "\"400-404\"], regex: \"Not Found\"}\n");
  const auto r = test::run({std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent", "--config", cfg,
                            "--plugins-dir", ISITUP_PLUGIN_DIR, "--once"},
                           20s);
  EXPECT_EQ(r.code, 1) << r.err;  // /500 is down
  std::map<std::string, std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("\"check\":\"");
    if (at == std::string::npos) continue;
    const auto start = at + 9;
    lines[line.substr(start, line.find('"', start) - start)] = line;
  }
  ASSERT_EQ(lines.size(), 3u) << r.out << r.err;
  EXPECT_NE(lines[base + "/"].find("\"status\":\"up\""), std::string::npos) << lines[base + "/"];
  EXPECT_NE(lines[base + "/"].find("\"code\":200"), std::string::npos);
  EXPECT_NE(lines[base + "/500"].find("\"kind\":\"http_status\""), std::string::npos);
  EXPECT_NE(lines["gone"].find("\"status\":\"up\""), std::string::npos) << lines["gone"];
  EXPECT_NE(lines["gone"].find("\"regex_match\":true"), std::string::npos) << lines["gone"];
}

}  // namespace
}  // namespace isitup::http
