// dns_check against real servers on 127.0.0.1: dnsmasq (Debian's dnsmasq-base) for every record
// type, NXDOMAIN and NODATA, and a small responder for what dnsmasq will not do on demand
// (SERVFAIL, REFUSED, silence, a truncated UDP reply, a malformed one). The plugin is compiled
// in and driven through the SDK's fake host.
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check_fixture.hpp"
#include "dns_responder.hpp"
#include "dnsmasq.hpp"
#include "plugin_example.hpp"

namespace isitup::dns {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;
using sdk::testing::list_value;
using sdk::testing::option_map;
using testing::dns_responder;

// dnsmasq serving a local domain "test" (anything else under it: NXDOMAIN), TTL 60; NS and
// SOA of zone.test as raw records (--dns-rr), since its authoritative mode refuses the rest.
test::dnsmasq& server() {
  // SOA ns1.zone.test hostmaster.zone.test 1 3600 600 86400 60
  static const char* const soa =
      "--dns-rr=zone.test,6,03:6e:73:31:04:7a:6f:6e:65:04:74:65:73:74:00:0a:68:6f:73:74:6d:61:73:"
      "74:65:72:04:7a:6f:6e:65:04:74:65:73:74:00:00:00:00:01:00:00:0e:10:00:00:02:58:00:01:51:80:"
      "00:00:00:3c";
  static test::dnsmasq d(
      {"--host-record=host.test,127.0.0.8,::8", "--host-record=xn--bcher-kva.test,127.0.0.10",
       // NS ns1.zone.test; then the SOA
       "--dns-rr=zone.test,2,03:6e:73:31:04:7a:6f:6e:65:04:74:65:73:74:00", soa,
       "--cname=alias.test,host.test", "--mx-host=mail.test,mx1.mail.test,10",
       "--mx-host=mail.test,mx2.mail.test,20", "--txt-record=txt.test,v=spf1 -all",
       "--srv-host=_sip._tcp.test,sip.test,5060,10,20",
       "--caa-record=caa.test,0,issue,letsencrypt.org"});
  return d;
}

using isitup::test::observed;

class dns_check_test : public test::check_fixture<> {
 protected:
  // Checks ask dnsmasq unless their options name a server.
  void SetUp() override {
    ASSERT_TRUE(server().running()) << "dnsmasq did not start: " << server().log();
    every_check_.emplace("server", list_value{server().address()});
    check_fixture::SetUp();
  }
  static void expect_up_with(const observed& r, const std::string& answer) {
    EXPECT_TRUE(r.up) << r;
    EXPECT_NE(r.extra_json.find("\"rcode\":\"NOERROR\""), std::string::npos) << r;
    EXPECT_NE(r.extra_json.find(answer), std::string::npos) << r;
    EXPECT_GE(r.dns_ms, 0.0) << r;
    EXPECT_EQ(r.dns_ms, r.total_ms) << r;
  }
};

TEST_F(dns_check_test, asks_for_each_record_type) {
  expect_up_with(check("host.test"), R"({"type":"A","ttl":60,"data":"127.0.0.8"})");
  expect_up_with(check("host.test", {{"type", "AAAA"}}), R"("data":"::8")");
  expect_up_with(check("alias.test", {{"type", "CNAME"}}),
                 R"({"type":"CNAME","ttl":60,"data":"host.test"})");
  const observed mx = check("mail.test", {{"type", "MX"}});
  expect_up_with(mx, R"("data":"10 mx1.mail.test")");
  EXPECT_NE(mx.extra_json.find(R"("data":"20 mx2.mail.test")"), std::string::npos) << mx;
  expect_up_with(check("txt.test", {{"type", "TXT"}}), R"("data":"\"v=spf1 -all\"")");
  expect_up_with(check("zone.test", {{"type", "NS"}}), R"("data":"ns1.zone.test")");
  expect_up_with(
      check("zone.test", {{"type", "SOA"}}),
      R"({"type":"SOA","ttl":60,"data":"ns1.zone.test hostmaster.zone.test 1 3600 600 86400 60"})");
  expect_up_with(check("caa.test", {{"type", "CAA"}}), R"("data":"0 issue \"letsencrypt.org\"")");
  expect_up_with(check("_sip._tcp.test", {{"type", "SRV"}}), R"("data":"10 20 5060 sip.test")");
  // An IP address as the target of a PTR check asks for its reverse name.
  expect_up_with(check("127.0.0.8", {{"type", "PTR"}}),
                 R"({"type":"PTR","ttl":60,"data":"host.test"})");
  expect_up_with(check("8.0.0.127.in-addr.arpa", {{"type", "PTR"}}), R"("data":"host.test")");
}

// A name in Unicode is asked for as its A-label.
TEST_F(dns_check_test, asks_for_an_internationalized_name_as_its_a_label) {
  const observed r = check(
      "b\xC3\xBC"
      "cher.test");
  expect_up_with(r, R"("data":"127.0.0.10")");
  EXPECT_NE(prepare_error("a\xC3\xA9\xE2\x80\x8D.test", {}).find("internationalized"),
            std::string::npos);
}

TEST_F(dns_check_test, a_cname_chain_counts_only_answers_of_the_asked_type) {
  const observed r = check("alias.test");
  expect_up_with(r, R"({"type":"A","ttl":60,"data":"127.0.0.8"})");
  EXPECT_NE(r.extra_json.find(R"("answer_count":2,"matching_answers":1)"), std::string::npos) << r;
}

TEST_F(dns_check_test, nxdomain_is_down_unless_expected) {
  const observed r = check("nope.test");
  EXPECT_FALSE(r.up) << r;
  EXPECT_EQ(r.error_kind, "dns") << r;
  EXPECT_NE(r.error_message.find("NXDOMAIN"), std::string::npos) << r;
  EXPECT_NE(r.extra_json.find(R"("rcode":"NXDOMAIN")"), std::string::npos) << r;
  // Expecting NXDOMAIN (a name that must not exist) needs no answer by default.
  EXPECT_TRUE(check("nope.test", {{"expect_rcode", "NXDOMAIN"}}).up);
  EXPECT_EQ(check("host.test", {{"expect_rcode", "NXDOMAIN"}}).error_kind, "dns");
}

TEST_F(dns_check_test, nodata_needs_expect_min_answers_zero) {
  const observed r = check("host.test", {{"type", "MX"}});
  EXPECT_FALSE(r.up) << r;
  EXPECT_EQ(r.error_kind, "answer_mismatch") << r;
  EXPECT_NE(r.error_message.find("0 MX answers"), std::string::npos) << r;
  EXPECT_TRUE(check("host.test", {{"type", "MX"}, {"expect_min_answers", "0"}}).up);
}

TEST_F(dns_check_test, expect_min_answers_counts_the_records) {
  EXPECT_TRUE(check("mail.test", {{"type", "MX"}, {"expect_min_answers", "2"}}).up);
  const observed r = check("mail.test", {{"type", "MX"}, {"expect_min_answers", "3"}});
  EXPECT_EQ(r.error_kind, "answer_mismatch") << r;
  EXPECT_NE(r.error_message.find("2 MX answers for mail.test, expected at least 3"),
            std::string::npos)
      << r;
}

TEST_F(dns_check_test, every_expect_answers_pattern_must_match_some_answer) {
  EXPECT_TRUE(check("mail.test",
                    {{"type", "MX"}, {"expect_answers", list_value{"^10 mx1\\.", "mx2\\.mail"}}})
                  .up);
  const observed r =
      check("mail.test", {{"type", "MX"}, {"expect_answers", list_value{"mx1", "mx3"}}});
  EXPECT_FALSE(r.up) << r;
  EXPECT_EQ(r.error_kind, "answer_mismatch") << r;
  EXPECT_NE(r.error_message.find("\"mx3\""), std::string::npos) << r;
  EXPECT_TRUE(check("txt.test", {{"type", "TXT"}, {"expect_answers", list_value{"v=spf1"}}}).up);
}

TEST_F(dns_check_test, servfail_and_refused_are_dns_errors) {
  dns_responder responder;
  const option_map at{{"server", list_value{responder.address()}}};
  observed r = check("servfail.test", at);
  EXPECT_EQ(r.error_kind, "dns") << r;
  EXPECT_NE(r.error_message.find("SERVFAIL"), std::string::npos) << r;
  option_map expected = at;
  expected.emplace("expect_rcode", "SERVFAIL");
  EXPECT_TRUE(check("servfail.test", expected).up);
  r = check("refused.test", at);
  EXPECT_EQ(r.error_kind, "dns") << r;
  EXPECT_NE(r.extra_json.find(R"("rcode":"REFUSED")"), std::string::npos) << r;
}

TEST_F(dns_check_test, a_silent_server_times_out_on_udp_and_tcp) {
  dns_responder responder;
  // UDP: two attempts (1/3 and 2/3 of the timeout), then the run's timeout.
  observed r = check("silent.test", {{"server", list_value{responder.address()}}}, 1s);
  EXPECT_EQ(r.error_kind, "timeout") << r;
  EXPECT_GE(r.elapsed, 900ms) << r;
  EXPECT_EQ(responder.udp_queries(), 2);
  // TCP: c-ares gives a silent server one attempt on the connection, and says so.
  r = check("silent.test", {{"server", list_value{responder.address()}}, {"tcp", "true"}}, 1s);
  EXPECT_EQ(r.error_kind, "timeout") << r;
  EXPECT_NE(r.error_message.find("no reply for silent.test"), std::string::npos) << r;
  EXPECT_GE(responder.tcp_queries(), 1);
}

TEST_F(dns_check_test, a_truncated_udp_reply_is_asked_again_over_tcp) {
  dns_responder responder;
  const observed r =
      check("big.test", {{"server", list_value{responder.address()}}, {"type", "TXT"}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(responder.udp_queries(), 1);
  EXPECT_EQ(responder.tcp_queries(), 1);
  EXPECT_NE(r.extra_json.find(R"("answer_count":40)"), std::string::npos) << r;
  // The result keeps the first 20 answers.
  EXPECT_NE(r.extra_json.find("record 19 "), std::string::npos) << r;
  EXPECT_EQ(r.extra_json.find("record 20 "), std::string::npos) << r;
}

TEST_F(dns_check_test, tcp_true_asks_over_tcp_only) {
  dns_responder responder;
  const observed r = check(
      "big.test", {{"server", list_value{responder.address()}}, {"type", "TXT"}, {"tcp", "true"}});
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(responder.udp_queries(), 0);
  EXPECT_EQ(responder.tcp_queries(), 1);
  EXPECT_TRUE(check("host.test", {{"tcp", "true"}}).up);  // dnsmasq over TCP
}

TEST_F(dns_check_test, recursion_sets_the_rd_bit) {
  dns_responder responder;
  const list_value at{responder.address()};
  EXPECT_TRUE(
      check("rd.test", {{"server", at}, {"type", "TXT"}, {"expect_answers", list_value{"rd=1"}}})
          .up);
  const observed r = check("rd.test", {{"server", at},
                                       {"type", "TXT"},
                                       {"recursion", "false"},
                                       {"expect_answers", list_value{"rd=0"}}});
  EXPECT_TRUE(r.up) << r;
}

TEST_F(dns_check_test, attempts_sets_the_tries_at_a_silent_server) {
  dns_responder responder;
  const observed r = check(
      "silent.test", {{"server", list_value{responder.address()}}, {"attempts", "3"}}, 1400ms);
  EXPECT_EQ(r.error_kind, "timeout") << r;
  EXPECT_EQ(responder.udp_queries(), 3);  // at 0, 1/7 and 3/7 of the timeout
}

TEST_F(dns_check_test, a_malformed_reply_is_a_protocol_error) {
  dns_responder responder;
  const observed r = check("garbage.test", {{"server", list_value{responder.address()}}});
  EXPECT_EQ(r.error_kind, "protocol") << r;
  EXPECT_NE(r.error_message.find("malformed"), std::string::npos) << r;
}

TEST_F(dns_check_test, servers_are_tried_in_order) {
  const int closed = test::free_udp_tcp_port();  // nothing listens there: the query is refused
  const std::string dead = "127.0.0.1:" + std::to_string(closed);
  EXPECT_TRUE(check("host.test", {{"server", list_value{dead, server().address()}}}).up);
  const observed r = check("host.test", {{"server", list_value{dead}}, {"tcp", "true"}});
  EXPECT_FALSE(r.up) << r;
  EXPECT_EQ(r.error_kind, "dns") << r;
}

TEST_F(dns_check_test, many_concurrent_runs_complete_once_each) {
  std::string error;
  std::vector<void*> checks;
  for (int i = 0; i < 200; ++i) {
    checks.push_back(plugin_->prepare("c" + std::to_string(i), i % 2 ? "host.test" : "nope.test",
                                      {{"server", list_value{server().address()}}}, error));
    ASSERT_NE(checks.back(), nullptr) << error;
  }
  std::vector<std::thread> runners;
  runners.reserve(checks.size());
  std::atomic<int> up{0}, down{0};
  for (void* c : checks)
    runners.emplace_back([&, c] {
      plugin_->run(c, [&](const isitup_record_v1& v) { ++(v.status == ISITUP_UP ? up : down); });
    });
  for (std::thread& t : runners) t.join();
  EXPECT_EQ(up.load(), 100);
  EXPECT_EQ(down.load(), 100);
}

TEST_F(dns_check_test, bad_options_are_refused_naming_the_option) {
  EXPECT_NE(prepare_error("host.test", {{"type", "ANY"}}).find("type:"), std::string::npos);
  EXPECT_NE(prepare_error("host.test", {{"server", list_value{"dns.example"}}}).find("server:"),
            std::string::npos);
  EXPECT_NE(prepare_error("host.test", {{"server", list_value{"127.0.0.1:99999"}}}).find("port"),
            std::string::npos);
  EXPECT_NE(prepare_error("host.test", {{"expect_rcode", "OK"}}).find("expect_rcode:"),
            std::string::npos);
  EXPECT_NE(
      prepare_error("host.test", {{"expect_answers", list_value{"("}}}).find("expect_answers:"),
      std::string::npos);
  EXPECT_NE(prepare_error("host.test", {{"attempts", "0"}}).find("attempts:"), std::string::npos);
  EXPECT_NE(prepare_error("bad name.test", {}).find("target:"), std::string::npos);
  EXPECT_NE(prepare_error("a..test", {}).find("empty label"), std::string::npos);
  EXPECT_NE(prepare_error(std::string(64, 'a') + ".test", {}).find("63"), std::string::npos);
  EXPECT_EQ(prepare_error("host.test", {{"server", list_value{"[::1]:5353", "10.0.0.2"}}}), "");
}

// Destroying the plugin abandons its runs in flight without completing them, at once: a
// query waiting on c-ares (over UDP and over TCP) and one waiting for a free slot.
TEST_F(dns_check_test, destroy_abandons_runs_in_flight_without_completing_them) {
  dns_responder responder;
  const isitup_check_ops_v1* ops = isitup_plugin_entry()->check;
  fake_host host;
  void* instance = nullptr;
  char err[256] = "";
  ASSERT_EQ(ops->create(host.table(), host.ctx(), &instance, err, sizeof err), ISITUP_OK) << err;
  std::vector<std::unique_ptr<sdk::testing::fake_options>> options;
  std::vector<void*> checks;
  for (const char* tcp : {"false", "true"}) {
    options.push_back(std::make_unique<sdk::testing::fake_options>(
        ops->options, ops->option_count,
        option_map{{"server", list_value{responder.address()}}, {"tcp", tcp}}));
    const isitup_check_spec_v1 spec{sizeof spec, tcp,   "silent.test",
                                    60000,       30000, options.back()->raw()};
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
}

// example.yml is a config the agent loads, and its checks show every declared option.
TEST(dns_check_example, loads_and_shows_every_option) {
  const test::declared_options declared =
      test::declared_by("dns_check", *isitup_plugin_entry()->check);
  const test::example_config example = test::read_example_file(
      std::string(ISITUP_SOURCE_DIR) + "/plugins/dns_check/example.yml", declared);
  EXPECT_GE(test::sections_of(example.checks, "dns_check").size(), 2u);
  for (const std::string& name : test::options_not_shown(example.checks, declared))
    ADD_FAILURE() << name << " is not shown in example.yml";
}

}  // namespace
}  // namespace isitup::dns
