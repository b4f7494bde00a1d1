// webhook_sink through its C table and the SDK's fake host, against a real HTTP receiver on
// 127.0.0.1 (tests/webhook_receiver): what is POSTed, signatures, retries, order, permanent
// failures, shutdown, and that no secret reaches a log line.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "listener.hpp"
#include "under_test.hpp"
#include "webhook_receiver.hpp"
#include "webhook_schema.hpp"
#include "webhook_test_util.hpp"

namespace isitup::test {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;
using sdk::testing::option_map;
using answer = webhook_receiver::answer;
using request = webhook_receiver::request;

// Fast retries so the tests take a few seconds.
option_map fast(option_map o) {
  o.emplace("retry_backoff", "20ms");
  o.emplace("retry_backoff_max", "100ms");
  return o;
}

// Answers the first `n` requests with `status` (and headers), the rest with 200.
webhook_receiver::responder fail_first(
    size_t n, int status, const std::vector<std::pair<std::string, std::string>>& h = {}) {
  return [=](const request&, size_t i) { return i < n ? answer{status, h} : answer{}; };
}

std::string hex(const unsigned char* p, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

TEST(webhook_sink, is_a_notifier_that_takes_events) {
  const isitup_sink_ops_v1* ops = isitup_plugin_entry()->sink;
  ASSERT_NE(ops, nullptr);
  EXPECT_TRUE(ops->sink_flags & ISITUP_SINK_NOTIFIER);
  EXPECT_NE(ops->write_events, nullptr);
}

TEST(webhook_sink, json_body_is_the_event_and_headers_carry_its_id) {
  fake_host host;
  webhook_receiver rx;
  notifier sink(host, {{"url", rx.url("/hooks/isitup?team=ops")}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const webhook::event e = make_event("shop", "incident_opened", 1);
  auto p = sink.send({e});
  ASSERT_TRUE(p->wait());
  EXPECT_EQ(p->status(), ISITUP_OK) << p->message();
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/hooks/isitup?team=ops");
  EXPECT_EQ(reqs[0].body, e.json);
  EXPECT_EQ(schema_errors(reqs[0].body), "");
  EXPECT_EQ(reqs[0].header("content-type"), "application/json");
  EXPECT_EQ(reqs[0].header("idempotency-key"), e.event_id);
  EXPECT_EQ(reqs[0].header("x-isitup-event-id"), e.event_id);
  EXPECT_EQ(reqs[0].header("x-isitup-signature"), "");  // no secret, no signature
  EXPECT_EQ(reqs[0].header("user-agent"), "isitup/0.1 (webhook_sink)");
  EXPECT_EQ(host.counter("delivered"), 1);
  EXPECT_TRUE(host.problems().empty());
}

// The SDK's own driver (strict about completions: a second call is a problem) agrees.
TEST(webhook_sink, completes_once_through_the_sdk_driver) {
  fake_host host;
  webhook_receiver rx(0, fail_first(1, 500));
  sdk::testing::sink_under_test sink(host, isitup_plugin_entry(),
                                     fast({{"url", rx.url()}, {"format", "discord"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const webhook::event e = make_event("shop", "incident_opened", 1);
  const abi_event view(e);
  const auto outcome = sink.write_events({&view.v});
  EXPECT_TRUE(outcome.done);
  EXPECT_EQ(outcome.status, ISITUP_OK) << outcome.message;
  EXPECT_EQ(rx.requests().size(), 2u);
  EXPECT_EQ(sink.flush(), static_cast<uint32_t>(ISITUP_OK));
  EXPECT_TRUE(host.problems().empty());
}

TEST(webhook_sink, slack_and_discord_bodies_reach_the_receiver) {
  fake_host host;
  webhook_receiver rx;
  notifier slack(host, {{"url", rx.url("/slack")}, {"format", "slack"}});
  notifier discord(host, {{"url", rx.url("/discord")}, {"format", "discord"}});
  ASSERT_TRUE(slack.ok() && discord.ok()) << slack.error() << discord.error();
  const webhook::event e = make_event("shop", "incident_opened", 1);
  ASSERT_TRUE(slack.send({e})->wait());
  ASSERT_TRUE(discord.send({e})->wait());
  ASSERT_TRUE(rx.wait_for(2, 5s));
  for (const request& r : rx.requests()) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    ASSERT_FALSE(d.HasParseError()) << r.body;
    if (r.target == "/slack") {
      EXPECT_TRUE(d["text"].IsString());
      EXPECT_TRUE(d["blocks"].IsArray());
    } else {
      EXPECT_TRUE(d["content"].IsString());
      EXPECT_TRUE(d["embeds"].IsArray());
    }
    EXPECT_EQ(r.header("idempotency-key"), e.event_id);
  }
}

TEST(webhook_sink, custom_headers_are_sent) {
  fake_host host;
  webhook_receiver rx;
  notifier sink(host, {{"url", rx.url()},
                       {"headers", sdk::testing::map_value{{"Authorization", "Bearer abc123"},
                                                           {"Content-Type", "application/x-test"},
                                                           {"X-Empty", ""}}}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  ASSERT_TRUE(sink.send({make_event("shop", "incident_opened", 1)})->wait());
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer abc123");
  EXPECT_EQ(reqs[0].header("content-type"), "application/x-test");
  const auto& h = reqs[0].headers;
  EXPECT_EQ(std::count_if(h.begin(), h.end(), [](auto& kv) { return kv.first == "content-type"; }),
            1);
  EXPECT_TRUE(std::any_of(h.begin(), h.end(), [](auto& kv) { return kv.first == "x-empty"; }));
}

TEST(webhook_sink, url_userinfo_is_sent_as_basic_auth) {
  fake_host host;
  webhook_receiver rx;
  notifier sink(host,
                {{"url", "http://alice:pw%3Ax@127.0.0.1:" + std::to_string(rx.port()) + "/hook"}});
  ASSERT_TRUE(sink.send({make_event("shop", "incident_opened", 1)})->wait());
  ASSERT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ(rx.requests()[0].header("authorization"), "Basic YWxpY2U6cHc6eA==");  // alice:pw:x
}

// With max_concurrent 1 and one check's queue long, another check is not kept waiting for all
// of it: requests alternate between checks.
TEST(webhook_sink, checks_take_turns_for_the_request_slots) {
  fake_host host;
  webhook_receiver rx;
  notifier sink(host, {{"url", rx.url()}, {"max_concurrent", "1"}});
  std::vector<webhook::event> batch;
  for (unsigned i = 0; i < 4; ++i) batch.push_back(make_event("a", "incident_reminder", i));
  for (unsigned i = 0; i < 4; ++i) batch.push_back(make_event("b", "incident_reminder", 10 + i));
  auto p = sink.send(batch);
  ASSERT_TRUE(p->wait());
  EXPECT_EQ(p->status(), ISITUP_OK);
  std::string order;
  for (const request& r : rx.requests()) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    order += d["check"].GetString();
  }
  EXPECT_EQ(order.size(), 8u);
  EXPECT_EQ(order.find("bb"), std::string::npos) << order;
  EXPECT_EQ(order.find("aa"), std::string::npos) << order;
}

TEST(webhook_sink, signature_verifies_with_an_independent_hmac) {
  fake_host host;
  webhook_receiver rx;
  const std::string secret = "whsec-Ki9t2";
  notifier sink(host, {{"url", rx.url()}, {"secret", secret}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const int64_t before = std::time(nullptr);
  ASSERT_TRUE(sink.send({make_event("shop", "incident_opened", 1)})->wait());
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const std::string sig = reqs[0].header("x-isitup-signature");
  // t=<unix seconds>,sha256=<64 hex>
  const size_t comma = sig.find(",sha256=");
  ASSERT_EQ(sig.rfind("t=", 0), 0u) << sig;
  ASSERT_NE(comma, std::string::npos) << sig;
  const std::string t = sig.substr(2, comma - 2);
  EXPECT_GE(std::stoll(t), before);
  EXPECT_LE(std::stoll(t), std::time(nullptr));
  const std::string signed_text = t + "." + reqs[0].body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &len);
  EXPECT_EQ(sig.substr(comma + 8), hex(mac, len));
  // Another key does not verify.
  HMAC(EVP_sha256(), "other", 5, reinterpret_cast<const unsigned char*>(signed_text.data()),
       signed_text.size(), mac, &len);
  EXPECT_NE(sig.substr(comma + 8), hex(mac, len));
}

TEST(webhook_sink, retries_after_500s_keep_the_event_id) {
  fake_host host;
  webhook_receiver rx(0, fail_first(2, 500));
  notifier sink(host, fast({{"url", rx.url()}, {"secret", "k3y-for-test"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const webhook::event e = make_event("shop", "incident_opened", 1);
  auto p = sink.send({e});
  ASSERT_TRUE(p->wait());
  EXPECT_EQ(p->status(), ISITUP_OK) << p->message();
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const request& r : reqs) {
    EXPECT_EQ(r.header("idempotency-key"), e.event_id);
    EXPECT_EQ(r.header("x-isitup-event-id"), e.event_id);
    EXPECT_EQ(r.body, e.json);
  }
  EXPECT_EQ(host.counter("retries"), 2);
  EXPECT_EQ(host.counter("delivered"), 1);
  EXPECT_EQ(p->calls(), 1);
}

TEST(webhook_sink, timeouts_408_and_429_are_retried) {
  for (const int status : {408, 429, 503}) {
    fake_host host;
    webhook_receiver rx(0, fail_first(1, status));
    notifier sink(host, fast({{"url", rx.url()}}));
    auto p = sink.send({make_event("shop", "incident_opened", 1)});
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_OK) << status;
    EXPECT_EQ(rx.requests().size(), 2u) << status;
  }
}

TEST(webhook_sink, retry_after_is_honoured_up_to_its_bound) {
  {
    fake_host host;
    webhook_receiver rx(0, fail_first(1, 429, {{"Retry-After", "1"}}));
    notifier sink(host, fast({{"url", rx.url()}}));
    ASSERT_TRUE(sink.send({make_event("shop", "incident_opened", 1)})->wait());
    const auto reqs = rx.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_GE(reqs[1].at - reqs[0].at, 900ms);  // not the 20 ms backoff
  }
  {
    fake_host host;
    webhook_receiver rx(0, fail_first(1, 503, {{"Retry-After", "3600"}}));
    notifier sink(host, fast({{"url", rx.url()}, {"retry_after_max", "200ms"}}));
    auto p = sink.send({make_event("shop", "incident_opened", 1)});
    ASSERT_TRUE(p->wait(5s));  // not an hour
    EXPECT_EQ(p->status(), ISITUP_OK);
    const auto reqs = rx.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_GE(reqs[1].at - reqs[0].at, 150ms);
  }
}

TEST(webhook_sink, a_4xx_is_permanent_and_the_check_goes_on) {
  fake_host host;
  webhook_receiver rx(0, fail_first(1, 404));
  notifier sink(host, fast({{"url", rx.url()}}));
  auto p = sink.send({make_event("shop", "incident_opened", 1)});
  ASSERT_TRUE(p->wait());
  EXPECT_EQ(p->status(), ISITUP_ERROR);
  EXPECT_NE(p->message().find("HTTP 404"), std::string::npos) << p->message();
  std::this_thread::sleep_for(300ms);  // time for retries that must not come
  EXPECT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ(host.counter("rejected"), 1);
  EXPECT_EQ(p->message().rfind("POST http://127.0.0.1:" + std::to_string(rx.port()) + ": ", 0), 0u)
      << p->message();
  EXPECT_FALSE(host.logged("HTTP 404"));  // the host logs the message; not twice
  // The next event of the same check is not held up.
  auto next = sink.send({make_event("shop", "incident_resolved", 2)});
  ASSERT_TRUE(next->wait());
  EXPECT_EQ(next->status(), ISITUP_OK);
}

// A completion carries one message: a second final failure in the same call is logged.
TEST(webhook_sink, every_final_failure_is_told_once) {
  fake_host host;
  webhook_receiver rx(0, [](const request&, size_t) { return answer{410, {}}; });
  notifier sink(host, {{"url", rx.url()}});
  const webhook::event a = make_event("a", "incident_opened", 1);
  const webhook::event b = make_event("b", "incident_opened", 2);
  auto p = sink.send({a, b});
  ASSERT_TRUE(p->wait());
  EXPECT_EQ(p->status(), ISITUP_ERROR);
  const bool a_returned = p->message().find(a.event_id) != std::string::npos;
  const webhook::event& other = a_returned ? b : a;
  EXPECT_NE(p->message().find(a_returned ? a.event_id : b.event_id), std::string::npos);
  EXPECT_TRUE(host.logged(other.event_id + " (check " + other.check + ") not retried"));
  EXPECT_FALSE(host.logged((a_returned ? a : b).event_id));
  EXPECT_EQ(host.counter("rejected"), 2);
}

TEST(webhook_sink, receiver_down_then_up_gets_every_event_in_order_per_check) {
  fake_host host;
  const int port = unused_port();
  notifier sink(host, fast({{"url", "http://127.0.0.1:" + std::to_string(port) + "/hook"},
                            {"retry_for", "1m"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<std::vector<webhook::event>> batches = {
      {make_event("a", "incident_opened", 1), make_event("b", "incident_opened", 2)},
      {make_event("a", "incident_reminder", 3)},
      {make_event("b", "incident_resolved", 4), make_event("a", "incident_reminder", 5)},
      {make_event("c", "incident_opened", 6)},
      {make_event("a", "incident_resolved", 7)}};
  std::vector<std::shared_ptr<pending>> pend;
  pend.reserve(batches.size());
  for (const auto& b : batches) pend.push_back(sink.send(b));
  std::this_thread::sleep_for(800ms);  // every event has been refused a few times
  for (const auto& p : pend) EXPECT_EQ(p->calls(), 0);
  EXPECT_GT(host.counter("retries"), 3);

  webhook_receiver rx(port);
  for (const auto& p : pend) {
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_OK) << p->message();
  }
  std::map<std::string, std::vector<std::string>> seen;  // check -> event ids, as received
  for (const request& r : rx.requests()) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    seen[d["check"].GetString()].push_back(r.header("x-isitup-event-id"));
  }
  std::map<std::string, std::vector<std::string>> sent;
  for (const auto& b : batches)
    for (const webhook::event& e : b) sent[e.check].push_back(e.event_id);
  EXPECT_EQ(seen, sent);  // each exactly once, in order per check
  EXPECT_TRUE(host.problems().empty());
}

TEST(webhook_sink, giving_up_hands_the_event_and_the_rest_of_its_check_back) {
  fake_host host;
  webhook_receiver rx(0, [](const request&, size_t) { return answer{503, {}}; });
  notifier sink(host, fast({{"url", rx.url()}, {"retry_for", "300ms"}}));
  const webhook::event a1 = make_event("a", "incident_opened", 1);
  const webhook::event a2 = make_event("a", "incident_resolved", 2);
  auto p1 = sink.send({a1});
  auto p2 = sink.send({a2});
  ASSERT_TRUE(p1->wait());
  ASSERT_TRUE(p2->wait());
  EXPECT_EQ(p1->status(), ISITUP_RETRY);
  EXPECT_EQ(p2->status(), ISITUP_RETRY);
  EXPECT_NE(p1->message().find("gave up on event " + a1.event_id), std::string::npos)
      << p1->message();
  EXPECT_EQ(host.counter("gave_up"), 1);
  for (const request& r : rx.requests()) EXPECT_EQ(r.header("x-isitup-event-id"), a1.event_id);

  // The host hands them back, in order, with the same ids; now they go through.
  rx.set_responder({});
  const size_t before = rx.requests().size();
  auto again = sink.send({a1, a2});
  ASSERT_TRUE(again->wait());
  EXPECT_EQ(again->status(), ISITUP_OK);
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), before + 2);
  EXPECT_EQ(reqs[before].header("x-isitup-event-id"), a1.event_id);
  EXPECT_EQ(reqs[before + 1].header("x-isitup-event-id"), a2.event_id);
}

TEST(webhook_sink, an_event_delivered_before_is_not_sent_again) {
  fake_host host;
  webhook_receiver rx;
  notifier sink(host, {{"url", rx.url()}});
  const webhook::event e = make_event("shop", "incident_opened", 1);
  ASSERT_TRUE(sink.send({e})->wait());
  auto p = sink.send({e});  // a replay after the host lost track of the first completion
  ASSERT_TRUE(p->wait());
  EXPECT_EQ(p->status(), ISITUP_OK);
  EXPECT_EQ(rx.requests().size(), 1u);
}

TEST(webhook_sink, results_complete_at_once_and_send_nothing) {
  fake_host host;
  webhook_receiver rx;
  notifier sink(host, {{"url", rx.url()}});
  isitup_record_v1 r;
  isitup_record_init(&r);
  const isitup_record_v1* records[] = {&r};
  const isitup_batch_v1 batch{sizeof batch, 1, records, 1, nullptr};
  auto p = std::make_shared<pending>();
  sink.ops()->write(sink.instance(), &batch, &pending::done, new std::shared_ptr<pending>(p));
  ASSERT_TRUE(p->wait(1s));
  EXPECT_EQ(p->status(), ISITUP_OK);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(rx.requests().empty());
}

TEST(webhook_sink, shutdown_completes_what_is_in_flight_with_retry) {
  fake_host host;
  tcp_listener silent;  // accepts into its backlog and never answers
  notifier sink(host, {{"url", "http://127.0.0.1:" + std::to_string(silent.port()) + "/"},
                       {"timeout", "30s"}});
  auto p = sink.send({make_event("shop", "incident_opened", 1)});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink.ops()->flush(sink.instance(), 100), static_cast<uint32_t>(ISITUP_RETRY));
  const auto start = std::chrono::steady_clock::now();
  sink.destroy();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_TRUE(p->wait(0s));
  EXPECT_EQ(p->status(), ISITUP_RETRY);
  EXPECT_EQ(p->calls(), 1);
}

TEST(webhook_sink, no_secret_reaches_a_log_line_or_a_completion) {
  fake_host host;
  const std::vector<std::string> secrets = {"hunter2pass",       "alice-user",
                                            "T0KEN-path-secret", "querysecret",
                                            "s3cr3t-hmac-key",   "header-secret-value"};
  const auto url_for = [](int port) {
    return "http://alice-user:hunter2pass@127.0.0.1:" + std::to_string(port) +
           "/services/T0KEN-path-secret?token=querysecret";
  };
  const auto options = [&](int port, const char* retry_for) {
    return fast({{"url", url_for(port)},
                 {"secret", "s3cr3t-hmac-key"},
                 {"retry_for", retry_for},
                 {"headers", sdk::testing::map_value{{"Authorization", "header-secret-value"}}}});
  };
  std::vector<std::string> messages;
  {
    // 500 (retried, logged), then 404 (permanent, logged).
    webhook_receiver rx(0, [](const request&, size_t i) { return answer{i == 0 ? 500 : 404, {}}; });
    notifier sink(host, options(rx.port(), "1m"));
    ASSERT_TRUE(sink.ok()) << sink.error();
    auto p = sink.send({make_event("shop", "incident_opened", 1)});
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_ERROR);
    messages.push_back(p->message());
  }
  {
    // Nothing listens: connection refused until the sink gives up; then shutdown.
    const int port = unused_port();
    notifier sink(host, options(port, "200ms"));
    auto p = sink.send({make_event("shop", "incident_opened", 2)});
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_RETRY);
    messages.push_back(p->message());
  }
  {
    // A refused config names the problem, not the value.
    notifier bad(host,
                 {{"url", url_for(1)},
                  {"headers", sdk::testing::map_value{{"X-Key", "header-secret-value\r\n"}}}});
    EXPECT_FALSE(bad.ok());
    messages.push_back(bad.error());
    notifier bad_url(host, {{"url", "ftp://alice-user:hunter2pass@127.0.0.1/T0KEN-path-secret"}});
    EXPECT_FALSE(bad_url.ok());
    messages.push_back(bad_url.error());
  }
  const auto logs = host.logs();
  ASSERT_GE(logs.size(), 2u);  // the first failed attempt of each event
  bool named_host = false;
  for (const auto& l : logs) {
    named_host = named_host || l.message.find("http://127.0.0.1:") != std::string::npos;
    for (const std::string& s : secrets)
      EXPECT_EQ(l.message.find(s), std::string::npos) << l.message;
  }
  EXPECT_TRUE(named_host);
  EXPECT_TRUE(host.problems().empty());
  for (const std::string& m : messages) {
    EXPECT_FALSE(m.empty());
    for (const std::string& s : secrets) EXPECT_EQ(m.find(s), std::string::npos) << m;
  }
}

TEST(webhook_sink, options_are_validated) {
  fake_host host;
  const std::pair<option_map, std::string> cases[] = {
      {{}, "missing required option 'url'"},
      {{{"url", "hooks.example/x"}}, "url: "},
      {{{"url", "ftp://hooks.example/x"}}, "url: expected an http:// or https:// URL, not ftp://"},
      {{{"url", "http://"}}, "url: "},
      {{{"url", "http://h.example/"}, {"format", "teams"}},
       "format: expected one of \"json\", \"slack\", \"discord\", got \"teams\""},
      {{{"url", "http://h.example/"}, {"headers", sdk::testing::map_value{{"Bad Name", "x"}}}},
       "headers: \"Bad Name\" is not a valid header name"},
      {{{"url", "http://h.example/"}, {"headers", sdk::testing::map_value{{"X-A", "a\nb"}}}},
       "headers: the value of X-A contains control characters"},
      {{{"url", "http://h.example/"},
        {"headers", sdk::testing::map_value{{"Idempotency-Key", "x"}}}},
       "headers: Idempotency-Key is set by the plugin itself"},
      {{{"url", "http://h.example/"}, {"secret", ""}},
       "secret: must not be empty (leave it out for no signature)"},
      {{{"url", "http://h.example/"}, {"timeout", "0s"}}, "timeout: "},
      {{{"url", "http://h.example/"}, {"retry_backoff", "2s"}, {"retry_backoff_max", "1s"}},
       "retry_backoff_max: must not be below retry_backoff"},
      {{{"url", "http://h.example/"}, {"max_concurrent", "0"}},
       "max_concurrent: expected 1..256, got 0"},
  };
  for (const auto& [options, expected] : cases) {
    notifier sink(host, options);
    EXPECT_FALSE(sink.ok()) << expected;
    EXPECT_EQ(sink.error().rfind(expected, 0), 0u) << sink.error();
  }
  notifier fine(host, {{"url", "https://user:pw@hooks.example:8443/x?y=z"}});
  EXPECT_TRUE(fine.ok()) << fine.error();
}

}  // namespace
}  // namespace isitup::test
