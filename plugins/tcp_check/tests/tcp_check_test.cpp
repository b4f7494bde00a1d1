// tcp_check against real servers on 127.0.0.1 started by the test: a listener that accepts and
// never answers, a port nobody listens on, banner/echo servers, TLS and STARTTLS (SMTP, IMAP,
// POP3) servers with openssl-made certificates, and a UDP DNS responder. The plugin source is
// compiled in and driven through the SDK's fake host; every run must end
// (tests/support/check_fixture.hpp).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "conn_fixture.hpp"
#include "line_server.hpp"
#include "listener.hpp"
#include "process.hpp"
#include "test_servers.hpp"
#include "tls_certs.hpp"

namespace isitup::net::testing {
namespace {

using tcp_check = conn_fixture;

// Certificates are made once per test process (a few hundred ms).
const test::tls_certs& certs() {
  static test::temp_dir dir;
  static test::tls_certs made(dir.path());
  return made;
}

server_options banner(std::string text, bool close_after = false) {
  server_options o;
  o.banner = std::move(text);
  o.close_after_banner = close_after;
  return o;
}

server_options tls_server(const std::string& starttls = "") {
  server_options o;
  o.tls = true;
  o.starttls = starttls;
  o.cert = certs().server_cert;
  o.key = certs().server_key;
  return o;
}

TEST_F(tcp_check, accepting_port_is_up_with_connect_timing) {
  test::tcp_listener open;
  const observed r = check(local(open.port()));
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.ip, "127.0.0.1");
  EXPECT_EQ(r.dns_ms, ISITUP_ABSENT_MS);  // an address: nothing to resolve
  EXPECT_GE(r.connect_ms, 0.0);
  EXPECT_EQ(r.tls_ms, ISITUP_ABSENT_MS);
  EXPECT_EQ(r.regex_match, ISITUP_ABSENT_INT);
  EXPECT_GE(r.total_ms, r.connect_ms);
}

TEST_F(tcp_check, refused_port_is_down_with_kind_connect) {
  const observed r = check(local(test::unused_port()));
  expect_down(r, "connect");
  EXPECT_NE(r.error_message.find("refused"), std::string::npos) << r;
}

TEST_F(tcp_check, connect_timeout_gives_up_connecting) {
  const test::hanging_port hanging;
  const observed r = expect_connect_timeouts_end_a_hanging_connect(local(hanging.port()));
  EXPECT_NE(r.error_message.find("connecting"), std::string::npos) << r;
}

TEST_F(tcp_check, ipv6_loopback_when_the_sandbox_has_it) {
  if (!http::testing::ipv6_loopback_available()) GTEST_SKIP() << "no ::1 here";
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const observed r = check("[::1]:" + std::to_string(ntohs(a.sin6_port)));
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.ip, "::1");
  close(fd);
}

TEST_F(tcp_check, host_name_is_resolved_by_the_shared_resolver) {
  test::tcp_listener open;
  const observed r = check("localhost:" + std::to_string(open.port()));  // /etc/hosts, c-ares
  EXPECT_TRUE(r.up) << r;
  EXPECT_GE(r.dns_ms, 0.0);
  EXPECT_EQ(r.ip, "127.0.0.1");
}

TEST_F(tcp_check, unknown_name_is_down_with_kind_dns) {
  http::testing::dns_server dns;
  const observed r = check("nx.test:80", {{"dns_servers", list_value{dns.address()}}});
  expect_down(r, "dns");
  EXPECT_NE(r.error_message.find("NXDOMAIN"), std::string::npos) << r;
  EXPECT_NE(r.error_message.find("nx.test"), std::string::npos) << r;
  const observed v6 = check("ok.test:80", {{"dns_servers", list_value{dns.address()}},
                                           {"ip_protocol", std::string("ip6")},
                                           {"ip_fallback", std::string("false")}});
  expect_down(v6, "dns");
  EXPECT_NE(v6.error_message.find("IPv6"), std::string::npos) << v6;
}

TEST_F(tcp_check, unanswered_dns_times_out_within_the_timeout) {
  const observed r =
      check("name.test:80", {{"dns_servers", list_value{local(test::unused_port())}}}, 1s);
  EXPECT_FALSE(r.up) << r;
  EXPECT_TRUE(r.error_kind == "timeout" || r.error_kind == "dns") << r;
}

TEST_F(tcp_check, banner_matching_expect_is_up) {
  line_server ssh(banner("SSH-2.0-OpenSSH_9.2\r\n"));
  ASSERT_TRUE(ssh.error().empty()) << ssh.error();
  const observed r = check(local(ssh.port()), {{"expect", std::string("^SSH-2\\.0-")}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.regex_match, 1);
  EXPECT_GE(r.ttfb_ms, r.connect_ms);
  EXPECT_GE(r.total_ms, r.ttfb_ms);
}

TEST_F(tcp_check, banner_not_matching_expect_is_body_mismatch) {
  line_server ssh(banner("SSH-2.0-OpenSSH_9.2\r\n", true));
  const observed r = check(local(ssh.port()), {{"expect", std::string("^220 ")}});
  expect_down(r, "body_mismatch");
  EXPECT_EQ(r.regex_match, 0);
  EXPECT_NE(r.error_message.find("SSH-2.0"), std::string::npos) << r;  // what was read, shown
}

TEST_F(tcp_check, expect_reads_no_more_than_read_limit) {
  line_server big(banner(std::string(5000, 'a')));
  const observed r =
      check(local(big.port()), {{"expect", std::string("b")}, {"read_limit", std::string("100")}});
  expect_down(r, "body_mismatch");
  EXPECT_NE(r.error_message.find("read_limit"), std::string::npos) << r;
}

TEST_F(tcp_check, send_with_escapes_then_expect_the_echo) {
  server_options echoing;
  echoing.echo = true;
  line_server echo(echoing);
  const observed r = check(local(echo.port()), {{"send", std::string("PING 1\\r\\n")},
                                                {"expect", std::string("^PING 1\\r\\n$")}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.regex_match, 1);
}

TEST_F(tcp_check, silent_server_times_out_waiting_for_expect) {
  test::tcp_listener silent;  // the kernel accepts; nobody ever writes
  const observed r = check(local(silent.port()), {{"expect", std::string("hello")}}, 1s);
  expect_down(r, "timeout");
  EXPECT_NE(r.error_message.find("expect"), std::string::npos) << r;
  EXPECT_GE(r.elapsed, 900ms);
}

TEST_F(tcp_check, tls_with_the_test_ca_is_up_and_reports_the_expiry) {
  line_server tls(tls_server());
  ASSERT_TRUE(tls.error().empty()) << tls.error();
  const observed r = check("localhost:" + std::to_string(tls.port()),
                           {{"tls", std::string("true")}, {"ca_file", certs().ca}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_GE(r.tls_ms, 0.0);
  EXPECT_GT(r.tls_days_left, 300);
  EXPECT_GT(r.tls_not_after_ms, 0);
}

TEST_F(tcp_check, tls_verification_failures_are_kind_tls) {
  line_server tls(tls_server());
  const std::string target = "localhost:" + std::to_string(tls.port());
  const observed unknown_ca = check(target, {{"tls", std::string("true")}});
  expect_down(unknown_ca, "tls");
  EXPECT_NE(unknown_ca.error_message.find("certificate verify failed"), std::string::npos)
      << unknown_ca;
  const observed wrong_name = check(target, {{"tls", std::string("true")},
                                             {"ca_file", certs().ca},
                                             {"server_name", std::string("wrong.example")}});
  expect_down(wrong_name, "tls");
  EXPECT_NE(wrong_name.error_message.find("mismatch"), std::string::npos) << wrong_name;
  EXPECT_TRUE(
      check(target, {{"tls", std::string("true")}, {"tls_verify", std::string("false")}}).up);
}

TEST_F(tcp_check, tls_to_a_plain_server_is_kind_tls) {
  line_server plain(banner("220 not tls\r\n", true));
  expect_down(check(local(plain.port()), {{"tls", std::string("true")}}), "tls");
}

TEST_F(tcp_check, starttls_smtp_imap_pop3_then_expect_over_tls) {
  for (const char* proto : {"smtp", "imap", "pop3"}) {
    server_options o = tls_server(proto);
    o.banner = "hello over tls\r\n";
    line_server server(o);
    const observed r = check("localhost:" + std::to_string(server.port()),
                             {{"starttls", std::string(proto)},
                              {"ca_file", certs().ca},
                              {"expect", std::string("^hello over tls")}});
    EXPECT_TRUE(r.up) << proto << ": " << r;
    EXPECT_GE(r.tls_ms, 0.0) << proto;
    EXPECT_EQ(r.regex_match, 1) << proto;
  }
}

TEST_F(tcp_check, starttls_refusals_are_kind_protocol) {
  server_options not_offered = tls_server("smtp");
  not_offered.offer_starttls = false;
  line_server a(not_offered);
  const observed r = check(local(a.port()), {{"starttls", std::string("smtp")}});
  expect_down(r, "protocol");
  EXPECT_NE(r.error_message.find("does not offer STARTTLS"), std::string::npos) << r;

  // Plaintext after the yes would be read as if it came over TLS (CVE-2011-0411): refused.
  server_options injected = tls_server("smtp");
  injected.after_yes = "250 injected\r\n";
  line_server b(injected);
  expect_down(check(local(b.port()), {{"starttls", std::string("smtp")}}), "protocol");

  line_server not_smtp(banner("SSH-2.0-x\r\n"));
  expect_down(check(local(not_smtp.port()), {{"starttls", std::string("smtp")}}), "protocol");
}

TEST_F(tcp_check, bad_targets_and_options_are_refused_at_prepare) {
  EXPECT_NE(prepare_error("example.com").find("host:port"), std::string::npos);
  EXPECT_NE(prepare_error("example.com:99999").find("port"), std::string::npos);
  EXPECT_NE(prepare_error("::1:80").find("brackets"), std::string::npos);
  EXPECT_NE(prepare_error("a b:80"), "");
  EXPECT_NE(prepare_error("h:1", {{"starttls", std::string("ftp")}}).find("starttls"),
            std::string::npos);
  EXPECT_NE(prepare_error("h:1", {{"expect", std::string("(")}}).find("expect"), std::string::npos);
  EXPECT_NE(prepare_error("h:1", {{"send", std::string("\\q")}}).find("send"), std::string::npos);
  EXPECT_NE(prepare_error("h:1", {{"read_limit", std::string("0")}}).find("read_limit"),
            std::string::npos);
  EXPECT_NE(prepare_error("h:1", {{"ip_protocol", std::string("ip5")}}).find("ip_protocol"),
            std::string::npos);
  EXPECT_EQ(prepare_error("[::1]:22"), "");
}

TEST_F(tcp_check, many_concurrent_runs_share_one_loop) {
  test::tcp_listener open;
  std::string error;
  void* c = prepare(local(open.port()), {}, error);
  ASSERT_NE(c, nullptr) << error;
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::atomic<int> up{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 25; ++k)
        if (run(c).up) ++up;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(up.load(), 200);
}

}  // namespace
}  // namespace isitup::net::testing
