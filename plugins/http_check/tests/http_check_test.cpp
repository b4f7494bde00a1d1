// http_check against real servers on loopback, started by the test: nginx (plain HTTP, TLS
// with a generated CA, an expired and a wrong-host certificate), misbehaving servers, and a
// UDP DNS responder. The plugin source is compiled in and driven through the SDK's fake host.
// Every run asserts status, error kind, and that it ended (tests/support/check_fixture.hpp).
// The async contract (many runs, max_in_flight, destroy mid-run) and the agent case are in
// http_check_contract_test.cpp.

#include <isitup/util/clock.hpp>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "http_config.hpp"
#include "http_engine.hpp"
#include "http_fixture.hpp"
#include "listener.hpp"

namespace isitup::http {
namespace {

using namespace testing;  // the fixture's names (http_fixture.hpp)

// ---------------------------------------------------------------- plain HTTP

TEST_P(http_check_test, ok_200_is_up_with_fields) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/"));
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.http_code, 200);
  EXPECT_EQ(r.http_version, "1.1");
  EXPECT_EQ(r.http_bytes, 13);  // "hello isitup\n"
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_EQ(r.redirects, 0);
  EXPECT_EQ(r.regex_match, ISITUP_ABSENT_INT);
  EXPECT_EQ(r.tls_ms, ISITUP_ABSENT_MS);
  EXPECT_EQ(r.tls_days_left, ISITUP_ABSENT_DAYS);
  EXPECT_EQ(r.dns_ms, ISITUP_ABSENT_MS);  // an address: nothing to resolve
  expect_sensible_timings(r);
}

TEST_P(http_check_test, host_name_is_resolved_by_our_resolver) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/", "localhost"));  // from /etc/hosts, via c-ares
  EXPECT_TRUE(r.up) << r;
  EXPECT_GE(r.dns_ms, 0.0);
  EXPECT_EQ(r.ip, "127.0.0.1");
  expect_sensible_timings(r);
}

TEST_P(http_check_test, status_404_and_500_are_down) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  for (const char* path : {"/404", "/500"}) {
    const observed r = check(http(path));
    expect_down(r, "http_status");
    EXPECT_EQ(r.http_code, std::atoi(path + 1));
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
  EXPECT_EQ(bad.http_code, 200);
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
  EXPECT_EQ(not_followed.http_code, 302);
  EXPECT_EQ(not_followed.redirects, 0);
  const observed followed =
      check(http("/redirect"), {{"follow_redirects", "true"}, {"regex", "hello"}});
  EXPECT_TRUE(followed.up) << followed;
  EXPECT_EQ(followed.http_code, 200);
  EXPECT_EQ(followed.redirects, 1);
  EXPECT_EQ(followed.regex_match, 1);
}

TEST_P(http_check_test, redirect_loop_is_stopped) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/loop"), {{"follow_redirects", "true"}, {"max_redirects", "3"}});
  expect_down(r, "protocol");
  EXPECT_EQ(r.redirects, 3);
  EXPECT_NE(r.error_message.find("redirects"), std::string::npos) << r;
}

TEST_P(http_check_test, redirect_to_file_url_is_refused) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r = check(http("/to-file"), {{"follow_redirects", "true"}});
  expect_down(r, "protocol");
  EXPECT_NE(r.error_message.find("http"), std::string::npos) << r;
}

TEST_P(http_check_test, redirect_from_http_to_https) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const observed r =
      check(http("/to-https"), {{"follow_redirects", "true"}, {"ca_file", nginx().certs().ca}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.redirects, 1);
  EXPECT_GT(r.tls_days_left, 300);
}

TEST_P(http_check_test, method_body_headers_and_user_agent_are_sent) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  EXPECT_TRUE(check(http("/method"), {{"method", "POST"}, {"body", "a=1"}, {"regex", "^POST"}}).up);
  EXPECT_TRUE(check(http("/method"), {{"method", "DELETE"}, {"regex", "^DELETE"}}).up);
  const observed head = check(http("/"), {{"method", "HEAD"}});
  EXPECT_TRUE(head.up) << head;
  EXPECT_EQ(head.http_bytes, 0);
  const observed h = check(http("/header"), {{"headers", map_value{{"X-Isitup", "yes"}}},
                                             {"user_agent", "probe/9"},
                                             {"regex", "(?m)^x-isitup=yes ua=probe/9$"}});
  EXPECT_TRUE(h.up) << h;
  // A configured Host replaces the URL's (one Host header: nginx refuses two with 400).
  const observed host = check(http("/"), {{"headers", map_value{{"Host", "other.example"}}}});
  EXPECT_TRUE(host.up) << host;
}

// auto: http:// and https:// without proxy, reuse or user:password@ run on the lean engine,
// the rest on curl; an http -> https redirect runs both hops lean.
TEST_P(http_check_test, http_and_https_run_on_the_lean_engine_unless_curl_is_chosen) {
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
            lean ? 2u : 0u);
  EXPECT_EQ(lean_hops([&] {
              EXPECT_TRUE(check(https(nginx().https_port), {{"ca_file", nginx().certs().ca}}).up);
            }),
            lean ? 1u : 0u);
  EXPECT_EQ(
      lean_hops([&] {
        EXPECT_TRUE(check(http("/?r"), {{"reuse_connections", "true"}}).up);
        EXPECT_TRUE(check(https(nginx().https_port) + "?r",
                          {{"ca_file", nginx().certs().ca}, {"reuse_connections", "true"}})
                        .up);
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
  EXPECT_EQ(c.http_bytes, 19);
  EXPECT_EQ(c.http_version, "1.1");
  bad_server closed(bad_server::mode::close_delimited);
  const observed d = check("http://127.0.0.1:" + std::to_string(closed.port()) + "/",
                           {{"regex", "^until close$"}});
  EXPECT_TRUE(d.up) << d;
  EXPECT_EQ(d.http_bytes, 11);
  EXPECT_EQ(d.http_version, "1.0");
}

// ---------------------------------------------------------------- misbehaving servers

TEST_P(http_check_test, connection_refused_is_connect) {
  const int port = testing::free_port();
  const observed r = check("http://127.0.0.1:" + std::to_string(port) + "/");
  expect_down(r, "connect");
  EXPECT_LT(r.elapsed, 1s);
}

TEST_P(http_check_test, connect_timeout_gives_up_connecting) {
  const test::hanging_port hanging;
  expect_connect_timeouts_end_a_hanging_connect(
      "http://127.0.0.1:" + std::to_string(hanging.port()) + "/");
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
  EXPECT_EQ(r.http_code, 200);  // the head arrived
}

TEST_P(http_check_test, endless_body_is_too_large) {
  bad_server server(bad_server::mode::endless);
  const observed r = check("http://127.0.0.1:" + std::to_string(server.port()) + "/",
                           {{"max_body_bytes", "65536"}});
  expect_down(r, "too_large");
  EXPECT_LE(r.http_bytes, 65536);
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
  EXPECT_EQ(r.http_code, 200);
}

// ---------------------------------------------------------------- TLS

TEST_P(http_check_test, tls_unknown_ca_is_down_and_trusted_with_ca_file) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  expect_down(check(https(nginx().https_port)), "tls");
  const observed r = check(https(nginx().https_port), {{"ca_file", nginx().certs().ca}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.http_code, 200);
  EXPECT_GE(r.tls_days_left, 363);
  EXPECT_LE(r.tls_days_left, 365);
  EXPECT_GT(r.tls_not_after_ms, sdk::wall_ms() + 363LL * 86'400'000);
  EXPECT_GE(r.tls_ms, 0.0);
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
  EXPECT_NE(r.error_message.find("expired"), std::string::npos) << r;
  // Without verification the check is up and reports the negative days left.
  const observed unverified = check(https(nginx().expired_port), {{"tls_verify", "false"}});
  EXPECT_TRUE(unverified.up) << unverified;
  EXPECT_LT(unverified.tls_days_left, -365);
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
  EXPECT_EQ(without.http_code, 400);
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
  EXPECT_GE(again.connect_ms, 0.0) << "a fresh run connects";
  void* reuse = prepare("reuse", http("/?reuse"), {{"reuse_connections", "true"}}, error);
  ASSERT_NE(reuse, nullptr) << error;
  run(reuse);
  const observed reused = run(reuse);
  EXPECT_TRUE(reused.up);
  EXPECT_EQ(reused.connect_ms, ISITUP_ABSENT_MS) << "the second run reuses the connection";
}

TEST_P(http_check_test, proxy_resolves_the_target) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  // nginx serves absolute-form requests: it stands in for a forward proxy.
  const observed r = check(
      "http://site.invalid/",
      {{"proxy", "http://127.0.0.1:" + std::to_string(nginx().http_port)}, {"regex", "hello"}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.dns_ms, ISITUP_ABSENT_MS);  // not resolved by us
}

// ---------------------------------------------------------------- DNS

TEST_P(http_check_test, nxdomain_and_servfail_are_dns) {
  dns_server dns;
  const list_value servers{dns.address()};
  const observed nx = check("http://nx.test/", {{"dns_servers", servers}});
  expect_down(nx, "dns");
  EXPECT_NE(nx.error_message.find("NXDOMAIN"), std::string::npos) << nx;
  const observed sf = check("http://servfail.test/", {{"dns_servers", servers}});
  expect_down(sf, "dns");
  EXPECT_NE(sf.error_message.find("SERVFAIL"), std::string::npos) << sf;
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
  EXPECT_NE(cached.error_message.find("NXDOMAIN"), std::string::npos) << cached;
  EXPECT_EQ(dns.queries(), queries);  // not asked again
  std::this_thread::sleep_for(1100ms);
  expect_down(run(c), "dns");
  EXPECT_GT(dns.queries(), queries);  // expired: asked again
}

// The parts a run needs, read from the URL curl normalized: the request target is its path
// and query (never the fragment), userinfo is noticed (curl then sends it).
TEST(parse_url, request_target_userinfo_and_port_of_the_normalized_url) {
  const url_parts plain = parse_url("http://example.test");
  EXPECT_EQ(plain.request_path(), "/");
  EXPECT_EQ(plain.port, 80);
  EXPECT_FALSE(plain.has_userinfo);
  const url_parts full = parse_url("https://u:p@[::1]:8443/a/b?q=1&r=2#frag");
  EXPECT_EQ(full.scheme, "https");
  EXPECT_EQ(full.host, "::1");
  EXPECT_TRUE(full.host_is_ip);
  EXPECT_EQ(full.port, 8443);
  EXPECT_EQ(full.request_path(), "/a/b?q=1&r=2");
  EXPECT_TRUE(full.has_userinfo);
  const url_parts token = parse_url("http://token@example.test/x");
  EXPECT_TRUE(token.has_userinfo);
  EXPECT_EQ(token.request_path(), "/x");
  const url_parts at_in_path = parse_url("http://example.test/mail@x?to=a@b");
  EXPECT_FALSE(at_in_path.has_userinfo);
  EXPECT_EQ(at_in_path.request_path(), "/mail@x?to=a@b");
  EXPECT_EQ(parse_url("http://example.test/a/../b").request_path(), "/b");  // as curl sends it
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
  const auto first_started = std::chrono::steady_clock::now();
  EXPECT_TRUE(run(c).up);
  const int queries = dns.queries();
  EXPECT_TRUE(run(c).up);
  // The answer was cached when it arrived, after first_started: if both runs took less than
  // its 1 s TTL the second must have used it. On a loaded machine they may take longer, and
  // then a second query is right (caching itself: names_resolve_..._are_cached, TTL 60 s).
  if (std::chrono::steady_clock::now() - first_started < 900ms) {
    EXPECT_EQ(dns.queries(), queries);  // cached
  }
  const int before_expiry = dns.queries();
  std::this_thread::sleep_for(1100ms);  // TTL 1 s
  EXPECT_TRUE(run(c).up);
  EXPECT_GT(dns.queries(), before_expiry);  // asked again
}

TEST_P(http_check_test, ip_protocol_and_fallback) {
  dns_server dns;
  const list_value servers{dns.address()};
  // v6only.test has only an AAAA record.
  const observed strict =
      check("http://v6only.test:1/", {{"dns_servers", servers}, {"ip_fallback", "false"}});
  expect_down(strict, "dns");
  EXPECT_NE(strict.error_message.find("IPv4"), std::string::npos) << strict;
  // With fallback it connects to ::1 (nothing listens on port 1).
  const observed fallback = check("http://v6only.test:1/", {{"dns_servers", servers}});
  expect_down(fallback, "connect");
  EXPECT_EQ(fallback.dns_ms >= 0, true);
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
  EXPECT_EQ(prepare_error("https://example.com/", {{"ip_protocol", "ip5"}}),
            "ip_protocol: expected one of \"ip4\", \"ip6\", got \"ip5\"");
  EXPECT_NE(prepare_error("https://example.com/", {{"dns_servers", list_value{"dns.google"}}}), "");
  EXPECT_NE(prepare_error("https://example.com/", {{"method", "get me"}}), "");
  EXPECT_EQ(prepare_error("https://example.com/", {{"max_in_flight", "0"}}),
            "max_in_flight: expected 1..1048576, got 0");
  EXPECT_EQ(prepare_error("https://example.com/", {{"loops", "65"}}),
            "loops: expected 0..64, got 65");
  EXPECT_EQ(prepare_error("https://example.com/", {{"loops", "-1"}}),
            "loops: expected 0..64, got -1");
  EXPECT_EQ(prepare_error("https://example.com/", {{"loops", "0"}}), "");
  EXPECT_EQ(prepare_error("https://example.com/", {{"engine", "fast"}}),
            "engine: expected one of \"auto\", \"curl\", got \"fast\"");
}

// Each range is the option's declaration (--describe-plugin shows it); its ends are accepted.
TEST_P(http_check_test, numbers_outside_their_declared_range_are_config_errors) {
  const std::string site = "https://example.com/";
  EXPECT_EQ(prepare_error(site, {{"max_redirects", "101"}}),
            "max_redirects: expected 0..100, got 101");
  EXPECT_EQ(prepare_error(site, {{"max_redirects", "-1"}}),
            "max_redirects: expected 0..100, got -1");
  EXPECT_EQ(prepare_error(site, {{"max_redirects", "0"}}), "");
  EXPECT_EQ(prepare_error(site, {{"max_redirects", "100"}}), "");
  EXPECT_EQ(prepare_error(site, {{"connect_timeout", "25h"}}),
            "connect_timeout: expected 0ms..1d, got 25h");
  EXPECT_EQ(prepare_error(site, {{"connect_timeout", "24h"}}), "");
  EXPECT_EQ(prepare_error(site, {{"max_body_bytes", "-1"}}),
            "max_body_bytes: expected 0..1073741824, got -1");
  EXPECT_EQ(prepare_error(site, {{"max_body_bytes", "1073741825"}}),
            "max_body_bytes: expected 0..1073741824, got 1073741825");
  EXPECT_EQ(prepare_error(site, {{"max_body_bytes", "0"}}), "");
  EXPECT_EQ(prepare_error(site, {{"min_tls_days_left", "-1"}}),
            "min_tls_days_left: expected 0..36500, got -1");
  EXPECT_EQ(prepare_error(site, {{"min_tls_days_left", "36501"}}),
            "min_tls_days_left: expected 0..36500, got 36501");
  EXPECT_EQ(prepare_error(site, {{"max_in_flight", "1048577"}}),
            "max_in_flight: expected 1..1048576, got 1048577");
  EXPECT_EQ(prepare_error(site, {{"max_in_flight", "1048576"}}), "");
  EXPECT_EQ(prepare_error(site, {{"loops", "64"}}), "");
  EXPECT_EQ(prepare_error(site, {{"client_key", "/k.pem"}}), "client_key: needs client_cert");
}

// max_in_flight and loops are the plugin's, the smallest a check gives wins: a check that
// leaves them out must not count as asking for their declared defaults (4096, 1).
TEST(http_config, only_a_check_that_names_a_plugin_wide_limit_sets_it) {
  fake_host host;
  const std::vector<isitup_option_v1> declared = sdk::detail::to_c(declared_options());
  const auto config = [&](const option_map& given) {
    sdk::testing::fake_options options(declared.data(), declared.size(), given);
    EXPECT_EQ(options.error(), "");
    return make_config(sdk::options_view(host.table(), options.raw()));
  };
  const auto none = config({});
  EXPECT_FALSE(none->max_in_flight.has_value());
  EXPECT_FALSE(none->loops.has_value());
  const auto named = config({{"max_in_flight", "4096"}, {"loops", "1"}});  // the defaults' values
  EXPECT_EQ(named->max_in_flight, std::optional<int64_t>(4096));
  EXPECT_EQ(named->loops, std::optional<int64_t>(1));
  const auto adaptive = config({{"loops", "0"}});
  EXPECT_EQ(adaptive->loops, std::optional<int64_t>(0));
  EXPECT_FALSE(adaptive->max_in_flight.has_value());
}

TEST_P(http_check_test, control_characters_in_any_header_value_are_config_errors) {
  const std::string site = "https://example.com/";
  EXPECT_EQ(prepare_error(site, {{"user_agent", "probe/1\r\nX-Injected: 1"}}),
            "user_agent: contains the control character \\x0d at offset 7; header values may not");
  EXPECT_NE(prepare_error(site, {{"user_agent", "probe/1\nX-Injected: 1"}}).find("\\x0a"),
            std::string::npos);
  EXPECT_NE(prepare_error(site, {{"user_agent", "a\x1b[31m"}}).find("\\x1b"), std::string::npos);
  EXPECT_EQ(
      prepare_error(site, {{"headers", map_value{{"X-A", "1\x7f"}}}}),
      "headers: X-A: contains the control character \\x7f at offset 1; header values may not");
  EXPECT_NE(prepare_error(site, {{"headers", map_value{{"X A", "1"}}}}).find("bad header name"),
            std::string::npos);
  EXPECT_EQ(prepare_error(site, {{"user_agent", "probe/1\t(tab is fine)"}}), "");
  EXPECT_EQ(prepare_error(site, {{"headers", map_value{{"X-A", "a\tb"}}}}), "");
}

INSTANTIATE_TEST_SUITE_P(engines, http_check_test, ::testing::Values("auto", "curl"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace isitup::http
