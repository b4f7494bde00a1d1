// The built isitup-agent with webhook_sink as a notifier, end to end: a site on 127.0.0.1
// that answers 503 for a while and then 200 again makes the receiver get incident_opened and
// then incident_resolved of one incident, signed, valid against event.schema.json, and the
// agent's output never shows the URL's credentials or the secret.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "listener.hpp"
#include "process.hpp"
#include "webhook_receiver.hpp"
#include "webhook_schema.hpp"

namespace isitup::test {
namespace {

using namespace std::chrono_literals;
using answer = webhook_receiver::answer;
using request = webhook_receiver::request;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";

std::string hmac_hex(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

// The events the receiver got, as parsed bodies, in arrival order.
std::vector<rapidjson::Document> events_of(const webhook_receiver& rx) {
  std::vector<rapidjson::Document> out;
  for (const request& r : rx.requests()) {
    out.emplace_back();
    out.back().Parse(r.body.c_str());
  }
  return out;
}

bool has_type(const webhook_receiver& rx, const std::string& type) {
  for (const auto& d : events_of(rx))
    if (d.IsObject() && d.HasMember("type") && type == d["type"].GetString()) return true;
  return false;
}

bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

TEST(webhook_agent, a_site_going_down_and_up_opens_and_resolves_one_incident) {
  std::atomic<bool> site_down{false};
  webhook_receiver site(0, [&](const request&, size_t) {
    return answer{site_down ? 503 : 200, {}};
  });
  webhook_receiver hook;
  const std::string secret = "agent-test-s3cret";
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(agent:
  id: webhook-test
  location: lab
defaults:
  interval: 200ms
  timeout: 1s
  alert: {failure_threshold: 2, success_threshold: 2, notify: [hook]}
checks:
  - {name: site, target: ")" + site.url("/health") + R"("}
sinks:
  - {plugin: stdout_sink, options: {format: text}}
  - name: hook
    plugin: webhook_sink
    options:
      url: "http://alice:pa55word-x@127.0.0.1:)" + std::to_string(hook.port()) +
                                                     R"(/hook/T0KEN-in-path"
      secret: ")" + secret + R"("
      retry_backoff: 50ms
      retry_backoff_max: 200ms
)");
  child_process agent({agent_bin, "--config", cfg, "--plugins-dir", ISITUP_PLUGIN_DIR});

  std::this_thread::sleep_for(1s);  // a few up results: nothing to tell
  EXPECT_TRUE(hook.requests().empty());
  site_down = true;
  ASSERT_TRUE(wait_until([&] { return has_type(hook, "incident_opened"); }, 15s)) << agent.err();
  site_down = false;
  ASSERT_TRUE(wait_until([&] { return has_type(hook, "incident_resolved"); }, 15s)) << agent.err();
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(20s), 0) << agent.err();

  const auto reqs = hook.requests();
  const auto events = events_of(hook);
  ASSERT_GE(events.size(), 2u);
  // Opened first, then resolved, one incident; every request valid and signed.
  EXPECT_EQ(std::string(events.front()["type"].GetString()), "incident_opened");
  EXPECT_EQ(std::string(events.back()["type"].GetString()), "incident_resolved");
  EXPECT_EQ(std::string(events.front()["incident_id"].GetString()),
            events.back()["incident_id"].GetString());
  EXPECT_NE(std::string(events.front()["event_id"].GetString()),
            events.back()["event_id"].GetString());
  EXPECT_EQ(std::string(events.front()["check"].GetString()), "site");
  EXPECT_EQ(std::string(events.front()["state"].GetString()), "down");
  EXPECT_EQ(std::string(events.back()["state"].GetString()), "up");
  for (const request& r : reqs) {
    EXPECT_EQ(schema_errors(r.body), "");
    EXPECT_EQ(r.target, "/hook/T0KEN-in-path");
    const std::string sig = r.header("x-isitup-signature");
    const size_t comma = sig.find(",sha256=");
    ASSERT_NE(comma, std::string::npos) << sig;
    EXPECT_EQ(sig.substr(comma + 8), hmac_hex(secret, sig.substr(2, comma - 2) + "." + r.body));
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    EXPECT_EQ(r.header("idempotency-key"), d["event_id"].GetString());
  }
  for (const std::string& text : {agent.out(), agent.err()}) {
    for (const char* s : {"pa55word-x", "T0KEN-in-path", "agent-test-s3cret"})
      EXPECT_EQ(text.find(s), std::string::npos) << s << " in agent output:\n" << text;
  }
}

// The receiver is down for 30 s while two checks go down and up (one of them twice): once it is
// up it gets every transition, in order per check; a transition sent more than once always
// carries the same event id and body. With retry_for 10s the sink gives up twice meanwhile and
// the agent hands the events back (both retry paths are taken).
TEST(webhook_agent, a_receiver_down_for_30s_then_up_gets_every_transition_in_order) {
  std::atomic<bool> a_down{false}, b_down{false};
  webhook_receiver site(0, [&](const request& r, size_t) {
    const bool down = r.target == "/a" ? a_down.load() : b_down.load();
    return answer{down ? 503 : 200, {}};
  });
  const int hook_port = unused_port();
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(agent:
  id: webhook-test
  location: lab
defaults:
  interval: 200ms
  timeout: 1s
  alert: {failure_threshold: 2, success_threshold: 2, notify: [hook]}
checks:
  - {name: a, target: ")" + site.url("/a") + R"("}
  - {name: b, target: ")" + site.url("/b") + R"("}
sinks:
  - name: hook
    plugin: webhook_sink
    options:
      url: "http://127.0.0.1:)" + std::to_string(hook_port) +
                                                     R"(/hook"
      retry_for: 10s
      retry_backoff: 200ms
      retry_backoff_max: 1s
)");
  const auto start = std::chrono::steady_clock::now();
  child_process agent({agent_bin, "--config", cfg, "--plugins-dir", ISITUP_PLUGIN_DIR});
  const auto at = [&](std::chrono::milliseconds t) { std::this_thread::sleep_until(start + t); };
  at(1s);
  a_down = b_down = true;
  at(3s);
  a_down = b_down = false;
  at(5s);
  a_down = true;
  at(30s);
  webhook_receiver hook(hook_port);
  const auto types_of = [&](const std::string& check) {
    std::vector<std::string> ids, types;
    for (const request& r : hook.requests()) {
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      if (d.HasParseError() || check != d["check"].GetString()) continue;
      const std::string id = d["event_id"].GetString();
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      ids.push_back(id);
      types.push_back(d["type"].GetString());
    }
    return types;
  };
  const std::vector<std::string> a_expected = {"incident_opened", "incident_resolved",
                                               "incident_opened"};
  const std::vector<std::string> b_expected = {"incident_opened", "incident_resolved"};
  EXPECT_TRUE(
      wait_until([&] { return types_of("a") == a_expected && types_of("b") == b_expected; }, 20s))
      << agent.err();
  EXPECT_EQ(types_of("a"), a_expected);
  EXPECT_EQ(types_of("b"), b_expected);
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(20s), 0) << agent.err();

  // Nothing arrived before the receiver was up; duplicates are the same event, byte for byte.
  std::map<std::string, std::string> body_of;
  for (const request& r : hook.requests()) {
    EXPECT_GE(r.at, start + 30s);
    const std::string id = r.header("x-isitup-event-id");
    const auto [it, fresh] = body_of.emplace(id, r.body);
    if (!fresh) {
      EXPECT_EQ(it->second, r.body) << id;
    }
    EXPECT_EQ(schema_errors(r.body), "");
  }
  EXPECT_NE(agent.err().find("will retry"), std::string::npos) << agent.err();
}

}  // namespace
}  // namespace isitup::test
