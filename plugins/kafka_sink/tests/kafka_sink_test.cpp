// kafka_sink's producer and source against the SDK's fake host and a real development broker
// (isitup-kafka-dev as a child process): the plugin sources are compiled into this binary.
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <future>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "codec_host.hpp"
#include "fake_host.hpp"
#include "kafka_broker.hpp"
#include "kafka_producer.hpp"
#include "kafka_source.hpp"
#include "kafka_test_util.hpp"
#include "listener.hpp"
#include "record_codec.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup {
namespace {

using namespace std::chrono_literals;
using sdk::record;
using sdk::testing::fake_host;
using sdk::testing::fake_options;
using sdk::testing::option_map;

constexpr int64_t t0 = 1'795'802'400'000;  // 2026-11-27T18:00:00.000Z

record make_record(int i) {
  record r;
  r.agent = "probe-1";
  r.check = "check-" + std::to_string(i);
  r.plugin = "tcp_check";
  r.target = "127.0.0.1:80";
  r.scheduled_at_ms = t0 + i;
  r.started_at_ms = t0 + i + 1;
  r.up = i % 3 != 0;
  if (!r.up) {
    r.error_kind = "connect";
    r.error_message = "Connection refused";
  }
  r.total_ms = 1.5;
  return r;
}

// A port on 127.0.0.1 nothing listens on: one the kernel chose for a listener, closed again.
int free_port() { return isitup::test::tcp_listener(1).port(); }

// The checks of the records a source handed over, in order (the host's submit runs on the
// source's thread).
struct handed_over {
  std::mutex mu;
  std::vector<std::string> checks;
  void add(const isitup_record_v1* const* r, size_t n) {
    std::lock_guard lock(mu);
    for (size_t i = 0; i < n; ++i) checks.push_back(r[i]->check);
  }
  size_t size() {
    std::lock_guard lock(mu);
    return checks.size();
  }
};

// A batch written to a sink, with a future for its completion.
struct pending_batch {
  std::vector<record> records;
  std::vector<isitup_record_v1> views;
  std::vector<const isitup_record_v1*> pointers;
  isitup_batch_v1 c{};
  std::promise<std::pair<uint32_t, std::string>> done;
  std::future<std::pair<uint32_t, std::string>> result = done.get_future();

  static void on_done(void* ctx, uint32_t status, const char* message) {
    static_cast<pending_batch*>(ctx)->done.set_value({status, message ? message : ""});
  }
};

class kafka_sink_test : public ::testing::Test {
 protected:
  kafka_sink_test() { kafka_test::use_agent_codec(host_); }

  std::unique_ptr<kafka::producer_sink> make_sink(option_map given) {
    sink_decl_ = sdk::detail::to_c(kafka::producer_options());
    sink_opts_.push_back(
        std::make_unique<fake_options>(sink_decl_.data(), sink_decl_.size(), std::move(given)));
    EXPECT_EQ(sink_opts_.back()->error(), "");
    return std::make_unique<kafka::producer_sink>(
        sdk::host(host_.table(), host_.ctx()),
        sdk::options_view(host_.table(), sink_opts_.back()->raw()));
  }
  std::unique_ptr<kafka::consumer_source> make_source(option_map given) {
    source_decl_ = sdk::detail::to_c(kafka::source_options());
    sink_opts_.push_back(
        std::make_unique<fake_options>(source_decl_.data(), source_decl_.size(), std::move(given)));
    EXPECT_EQ(sink_opts_.back()->error(), "");
    return std::make_unique<kafka::consumer_source>(
        sdk::host(host_.table(), host_.ctx()),
        sdk::options_view(host_.table(), sink_opts_.back()->raw()));
  }
  std::string refusal(option_map given) {
    try {
      make_sink(std::move(given));
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

  std::unique_ptr<pending_batch> write(kafka::producer_sink& sink, int first, int count) {
    auto b = std::make_unique<pending_batch>();
    for (int i = first; i < first + count; ++i) b->records.push_back(make_record(i));
    for (const record& r : b->records) b->views.push_back(r.view());
    for (const auto& v : b->views) b->pointers.push_back(&v);
    b->c = {sizeof(isitup_batch_v1), b->pointers.size(), b->pointers.data(), seq_++, nullptr};
    sink.write(sdk::batch_view(&b->c), sdk::batch_done(&pending_batch::on_done, b.get()));
    return b;
  }

  void TearDown() override {
    for (const std::string& p : host_.problems()) ADD_FAILURE() << "host misuse: " << p;
  }

  fake_host host_;
  std::vector<isitup_option_v1> sink_decl_, source_decl_;
  std::vector<std::unique_ptr<fake_options>> sink_opts_;
  uint64_t seq_ = 1;
};

TEST_F(kafka_sink_test, declares_sink_source_and_catalog) {
  const isitup_plugin_v1* p = isitup_plugin_entry();
  EXPECT_STREQ(p->name, "kafka_sink");
  EXPECT_EQ(p->kinds,
            static_cast<uint32_t>(ISITUP_KIND_SINK | ISITUP_KIND_SOURCE | ISITUP_KIND_CATALOG));
  ASSERT_NE(p->sink, nullptr);
  ASSERT_NE(p->source, nullptr);
  ASSERT_NE(p->catalog, nullptr);
  EXPECT_GE(p->sink->max_in_flight, 100u);
  EXPECT_STREQ(p->sink->options[0].name, "brokers");
  EXPECT_EQ(p->sink->options[0].required, 1u);
  EXPECT_STREQ(p->source->options[0].name, "brokers");
}

TEST_F(kafka_sink_test, an_empty_broker_list_topic_or_group_is_refused_naming_the_option) {
  EXPECT_EQ(refusal({{"brokers", ""}}), "brokers: must not be empty");
  EXPECT_EQ(refusal({{"brokers", "127.0.0.1:1"}, {"topic", ""}}), "topic: must not be empty");
  const auto source_refusal = [&](option_map given) {
    try {
      make_source(std::move(given));
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(source_refusal({{"brokers", "127.0.0.1:1"}, {"group", ""}}),
            "group: must not be empty");
  EXPECT_EQ(source_refusal({{"brokers", "127.0.0.1:1"}, {"topic", ""}}),
            "topic: must not be empty");
}

TEST_F(kafka_sink_test, refuses_properties_that_load_code_or_break_guarantees) {
  for (const char* bad : {"plugin.library.paths", "ssl.engine.location", "ssl.engine.id",
                          "ssl.providers", "sasl.kerberos.kinit.cmd", "interceptors"}) {
    const std::string e = refusal(
        {{"brokers", "127.0.0.1:1"}, {"properties", sdk::testing::map_value{{bad, "/tmp/x.so"}}}});
    EXPECT_NE(e.find(bad), std::string::npos) << e;
    EXPECT_NE(e.find("load code or run a command"), std::string::npos) << e;
  }
  const std::string reserved =
      refusal({{"brokers", "127.0.0.1:1"},
               {"properties", sdk::testing::map_value{{"enable.idempotence", "false"}}}});
  EXPECT_NE(reserved.find("cannot be overridden"), std::string::npos) << reserved;
  const std::string unknown = refusal(
      {{"brokers", "127.0.0.1:1"}, {"properties", sdk::testing::map_value{{"foo.bar", "1"}}}});
  EXPECT_NE(unknown.find("allowlist"), std::string::npos) << unknown;
  EXPECT_NE(refusal({{"brokers", "127.0.0.1:1"}, {"compression", "brotli"}}), "");
  // Only reached librdkafka's kinit command line; the kinit refresh is the plugin's to fix.
  const auto property = [&](const char* name, const std::string& value) {
    return refusal(
        {{"brokers", "127.0.0.1:1"}, {"properties", sdk::testing::map_value{{name, value}}}});
  };
  EXPECT_NE(property("sasl.kerberos.keytab", "/etc/krb5.keytab").find("KRB5_CLIENT_KTNAME"),
            std::string::npos);
  EXPECT_NE(property("sasl.kerberos.min.time.before.relogin", "60000").find("cannot be overridden"),
            std::string::npos);
  // Properties under ssl.* and sasl.* pass only when listed (no prefix match).
  EXPECT_NE(property("ssl.certificate.verify_cb", "x").find("allowlist"), std::string::npos);
  EXPECT_NE(property("ssl.ca.certificate.stores", "Root").find("allowlist"), std::string::npos);
  for (const char* name : {"sasl.kerberos.principal", "sasl.kerberos.service.name"}) {
    for (const std::string& bad :
         {std::string("a b"), std::string("x;id"), std::string("$(id)"), std::string("`id`"),
          std::string("x\"id"), std::string("-x"), std::string(""), std::string(256, 'a')})
      EXPECT_NE(property(name, bad).find("expected a Kerberos name"), std::string::npos)
          << name << " = " << bad;
    EXPECT_EQ(property(name, "kafka-client/host-1.example.com@EXAMPLE.COM"), "");
  }
  EXPECT_NE(property("sasl.oauthbearer.token.endpoint.url", "file:///etc/passwd"), "");
  EXPECT_NE(property("sasl.oauthbearer.token.endpoint.url", "https://a b"), "");
  // TLS and SASL settings pass through (librdkafka checks the values).
  EXPECT_EQ(refusal({{"brokers", "127.0.0.1:1"},
                     {"properties",
                      sdk::testing::map_value{{"security.protocol", "plaintext"},
                                              {"sasl.username", "u"},
                                              {"ssl.endpoint.identification.algorithm", "none"}}}}),
            "");
}

TEST(kafka_config, every_handle_has_the_kerberos_refresh_off) {
  const kafka::conf_ptr conf =
      kafka::make_conf({{"bootstrap.servers", "127.0.0.1:1"}},
                       {{"security.protocol", "sasl_plaintext"},
                        {"sasl.mechanism", "GSSAPI"},
                        {"sasl.kerberos.principal", "isitup/probe-1@EXAMPLE.COM"}});
  const auto get = [&](const char* name) {
    char value[512];
    size_t size = sizeof value;
    EXPECT_EQ(rd_kafka_conf_get(conf.get(), name, value, &size), RD_KAFKA_CONF_OK) << name;
    return std::string(value);
  };
  EXPECT_EQ(get("sasl.kerberos.min.time.before.relogin"), "0");
  EXPECT_EQ(get("sasl.kerberos.kinit.cmd"), "/bin/false");
  EXPECT_EQ(get("sasl.kerberos.principal"), "isitup/probe-1@EXAMPLE.COM");
}

TEST_F(kafka_sink_test, batch_is_done_only_on_delivery_and_records_arrive_intact) {
  test::kafka_broker broker;
  auto sink = make_sink({{"brokers", broker.bootstrap()}, {"topic", "unit"}});
  auto a = write(*sink, 0, 50);
  auto b = write(*sink, 50, 50);
  ASSERT_EQ(a->result.wait_for(15s), std::future_status::ready);
  ASSERT_EQ(b->result.wait_for(15s), std::future_status::ready);
  EXPECT_EQ(a->result.get().first, static_cast<uint32_t>(ISITUP_OK));
  EXPECT_EQ(b->result.get().first, static_cast<uint32_t>(ISITUP_OK));
  EXPECT_EQ(host_.counter("delivered"), 100);
  const auto got = kafka_test::read_topic(broker.bootstrap(), "unit", 100, 20s);
  ASSERT_EQ(got.size(), 100u);
  std::set<std::string> keys;
  for (const auto& m : got) {
    record r;
    std::string error;
    ASSERT_TRUE(test::decode_record(m.value, r, error)) << error;
    EXPECT_EQ(m.key, r.check);
    const int i = std::stoi(r.check.substr(6));
    EXPECT_EQ(r, make_record(i));
    keys.insert(m.key);
  }
  EXPECT_EQ(keys.size(), 100u);
  EXPECT_TRUE(host_.logged("connected to Kafka")) << "connection state not logged";
}

TEST_F(kafka_sink_test, starts_without_a_broker_and_delivers_once_it_appears) {
  const int port = free_port();
  auto sink =
      make_sink({{"brokers", "127.0.0.1:" + std::to_string(port)},
                 {"topic", "late"},
                 {"properties", sdk::testing::map_value{{"reconnect.backoff.max.ms", "300"}}}});
  auto a = write(*sink, 0, 10);
  EXPECT_EQ(a->result.wait_for(2s), std::future_status::timeout) << "done before any broker";
  test::kafka_broker broker({.brokers = 1, .topics = {}, .port = port});
  ASSERT_EQ(a->result.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(a->result.get().first, static_cast<uint32_t>(ISITUP_OK));
  EXPECT_EQ(kafka_test::read_topic(broker.bootstrap(), "late", 10, 20s).size(), 10u);
  EXPECT_TRUE(host_.logged("Kafka unreachable")) << "the outage was not logged";
}

TEST_F(kafka_sink_test, full_buffer_refuses_with_retry_and_flush_fails_what_is_left) {
  test::kafka_broker broker;
  ASSERT_EQ(broker.command("down all"), "ok");
  auto sink =
      make_sink({{"brokers", broker.bootstrap()},
                 {"buffer_messages", "10"},
                 {"properties", sdk::testing::map_value{{"reconnect.backoff.max.ms", "300"}}}});
  auto a = write(*sink, 0, 8);
  auto b = write(*sink, 8, 5);  // 13 > 10: refused at once
  ASSERT_EQ(b->result.wait_for(2s), std::future_status::ready);
  const auto rb = b->result.get();
  EXPECT_EQ(rb.first, static_cast<uint32_t>(ISITUP_RETRY));
  EXPECT_NE(rb.second.find("buffer full"), std::string::npos) << rb.second;
  EXPECT_EQ(host_.counter("buffer_full"), 1);
  EXPECT_EQ(sink->flush(500ms), sdk::status::error);
  ASSERT_EQ(a->result.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(a->result.get().first, static_cast<uint32_t>(ISITUP_ERROR));
}

TEST_F(kafka_sink_test, recreates_the_producer_after_a_fatal_error_and_resends) {
  test::kafka_broker broker;
  auto sink =
      make_sink({{"brokers", broker.bootstrap()},
                 {"topic", "fatal"},
                 {"properties", sdk::testing::map_value{{"reconnect.backoff.max.ms", "300"}}}});
  auto first = write(*sink, 0, 5);
  ASSERT_EQ(first->result.wait_for(15s), std::future_status::ready);
  ASSERT_EQ(broker.command("down all"), "ok");
  auto stuck = write(*sink, 5, 20);
  std::this_thread::sleep_for(500ms);
  sink->inject_fatal_error("test: injected fatal idempotence error");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(sink->recreations(), 1);
  ASSERT_EQ(broker.command("up all"), "ok");
  ASSERT_EQ(stuck->result.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(stuck->result.get().first, static_cast<uint32_t>(ISITUP_OK));
  auto after = write(*sink, 25, 5);
  ASSERT_EQ(after->result.wait_for(15s), std::future_status::ready);
  EXPECT_EQ(after->result.get().first, static_cast<uint32_t>(ISITUP_OK));
  std::set<std::string> keys;
  for (const auto& m : kafka_test::read_topic(broker.bootstrap(), "fatal", 30, 20s))
    keys.insert(m.key);
  EXPECT_EQ(keys.size(), 30u) << "every record arrives (duplicates allowed after a fatal error)";
  EXPECT_EQ(host_.counter("producer_recreated"), 1);
  EXPECT_TRUE(host_.logged("recreated the producer"));
}

TEST_F(kafka_sink_test, messages_past_the_delivery_timeout_are_produced_again) {
  test::kafka_broker broker;
  ASSERT_EQ(broker.command("down all"), "ok");
  auto sink =
      make_sink({{"brokers", broker.bootstrap()},
                 {"topic", "timeouts"},
                 {"delivery_timeout", "1s"},
                 {"properties", sdk::testing::map_value{{"reconnect.backoff.max.ms", "300"}}}});
  auto a = write(*sink, 0, 10);
  std::this_thread::sleep_for(2500ms);  // every message timed out at least once
  EXPECT_EQ(a->result.wait_for(0s), std::future_status::timeout) << "done while Kafka is down";
  EXPECT_GE(host_.counter("redeliveries"), 10);
  ASSERT_EQ(broker.command("up all"), "ok");
  ASSERT_EQ(a->result.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(a->result.get().first, static_cast<uint32_t>(ISITUP_OK));
  std::set<std::string> keys;
  for (const auto& m : kafka_test::read_topic(broker.bootstrap(), "timeouts", 10, 20s))
    keys.insert(m.key);
  EXPECT_EQ(keys.size(), 10u);
}

// The source: poison is counted, logged with its offset, dead-lettered and skipped; a full
// pipeline pauses and everything arrives once, in order per partition; offsets are committed
// only after the ack.
TEST_F(kafka_sink_test, source_skips_poison_pauses_when_full_and_commits_after_ack) {
  test::kafka_broker broker({.brokers = 1, .topics = {"in:1"}, .port = 0});
  std::vector<std::string> values;
  for (int i = 0; i < 30; ++i) {
    std::string json = test::encode_record(make_record(i));
    values.push_back(json);
    if (i % 10 == 5) values.push_back(i == 5 ? "not json {" : R"({"v":1,"agent":"x"})");
  }
  kafka_test::produce(broker.bootstrap(), "in", values);
  // The mock broker lets a new member in only after the old one's session timed out.
  const sdk::testing::map_value fast_group{{"session.timeout.ms", "6000"},
                                           {"heartbeat.interval.ms", "500"}};

  std::mutex mu;
  std::vector<std::string> got;
  std::vector<uint64_t> tokens;
  int refusals = 3;
  host_.submit = [&](const isitup_record_v1* const* r, size_t n, uint64_t token) -> uint32_t {
    std::lock_guard lock(mu);
    if (refusals > 0) {
      --refusals;
      return ISITUP_RETRY;
    }
    for (size_t i = 0; i < n; ++i) got.push_back(r[i]->check);
    tokens.push_back(token);
    return ISITUP_OK;
  };
  auto source = make_source({{"brokers", broker.bootstrap()},
                             {"topic", "in"},
                             {"group", "g1"},
                             {"batch_size", "7"},
                             {"batch_delay", "50ms"},
                             {"dead_letter_topic", "dlq"},
                             {"properties", fast_group}});
  source->start();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (got.size() >= 30) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(got.size(), 30u);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(got[i], "check-" + std::to_string(i));
  }
  EXPECT_EQ(host_.counter("invalid_messages"), 3);
  EXPECT_GE(host_.counter("paused"), 1);
  EXPECT_TRUE(host_.logged("in[0] offset 6")) << "poison not logged with partition/offset";
  const auto dlq = kafka_test::read_topic(broker.bootstrap(), "dlq", 3, 15s);
  EXPECT_EQ(dlq.size(), 3u);

  // Nothing acknowledged yet: a second consumer in the group would start from the beginning.
  // Ack every batch but the last; destroying the source commits up to the first unacked one.
  std::vector<uint64_t> acked;
  {
    std::lock_guard lock(mu);
    acked.assign(tokens.begin(), tokens.end() - 1);
  }
  for (uint64_t t : acked) source->ack(t, sdk::status::ok);
  std::this_thread::sleep_for(300ms);
  source->stop();
  source.reset();

  got.clear();
  refusals = 0;
  auto again = make_source({{"brokers", broker.bootstrap()},
                            {"topic", "in"},
                            {"group", "g1"},
                            {"properties", fast_group}});
  again->start();
  const auto deadline2 = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline2) {
    {
      std::lock_guard lock(mu);
      if (!got.empty() && got.back() == "check-29") break;
    }
    std::this_thread::sleep_for(50ms);
  }
  again->stop();
  again.reset();
  std::lock_guard lock(mu);
  ASSERT_FALSE(got.empty()) << [&] {
    std::string all;
    for (const auto& l : host_.logs()) all += l.message + "\n";
    return all;
  }();
  EXPECT_LT(got.size(), 30u) << "acknowledged batches were not committed";
  EXPECT_EQ(got.back(), "check-29") << "the unacknowledged batch was not read again";
}

// A pipeline full for moments (every first offer of a batch refused) costs the source only its
// short retry: it stops reading and keeps librdkafka's pre-fetched messages. Pausing the
// partitions instead threw them away and, in librdkafka 2.0, fetched again only up to a second
// after the resume: 20 refusals took 10 s or more.
TEST_F(kafka_sink_test, source_reads_on_quickly_through_a_pipeline_full_for_moments) {
  test::kafka_broker broker({.brokers = 1, .topics = {"burst:1"}, .port = 0});
  std::vector<std::string> values;
  for (int i = 0; i < 2000; ++i) {
    std::string json = test::encode_record(make_record(i));
    values.push_back(json);
  }
  kafka_test::produce(broker.bootstrap(), "burst", values);
  handed_over got;
  int offers = 0;  // read once the source's thread is joined
  host_.submit = [&](const isitup_record_v1* const* r, size_t n, uint64_t) -> uint32_t {
    if (++offers % 2 == 1) return ISITUP_RETRY;
    got.add(r, n);
    return ISITUP_OK;
  };
  auto source = make_source({{"brokers", broker.bootstrap()},
                             {"topic", "burst"},
                             {"group", "g"},
                             {"batch_size", "100"},
                             {"batch_delay", "20ms"}});
  source->start();
  for (const auto until = std::chrono::steady_clock::now() + 20s;
       got.size() == 0 && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(5ms);
  const auto first = std::chrono::steady_clock::now();
  while (got.size() < values.size() && std::chrono::steady_clock::now() < first + 20s)
    std::this_thread::sleep_for(5ms);
  const auto took = std::chrono::steady_clock::now() - first;
  source->stop();
  source.reset();
  ASSERT_EQ(got.checks.size(), values.size());
  for (size_t i = 0; i < got.checks.size(); ++i)
    ASSERT_EQ(got.checks[i], "check-" + std::to_string(i));
  EXPECT_GE(offers / 2, 20);  // every batch refused once
  EXPECT_GE(host_.counter("paused"), 1);
  EXPECT_LT(took, 5s) << std::chrono::duration<double>(took).count() << " s for " << offers / 2
                      << " refusals";
}

// A batch waits for more records only while they come: the last records of a burst are handed
// over once nothing came for 10 ms, not after batch_delay (here 30 s, so a source that waited
// for it fails).
TEST_F(kafka_sink_test, source_hands_over_an_open_batch_once_no_message_comes) {
  test::kafka_broker broker({.brokers = 1, .topics = {"quiet:1"}, .port = 0});
  kafka_test::produce(broker.bootstrap(), "quiet",
                      {test::encode_record(make_record(0)), test::encode_record(make_record(1)),
                       test::encode_record(make_record(2))});
  handed_over got;
  host_.submit = [&](const isitup_record_v1* const* r, size_t n, uint64_t) -> uint32_t {
    got.add(r, n);
    return ISITUP_OK;
  };
  auto source = make_source({{"brokers", broker.bootstrap()},
                             {"topic", "quiet"},
                             {"group", "g"},
                             {"batch_size", "500"},
                             {"batch_delay", "30s"}});
  source->start();
  // Timed from the assignment: the group join takes about 3 s with the development broker.
  for (const auto until = std::chrono::steady_clock::now() + 30s;
       !host_.logged("assigned partitions") && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(5ms);
  const auto assigned = std::chrono::steady_clock::now();
  while (got.size() < 3 && std::chrono::steady_clock::now() < assigned + 40s)
    std::this_thread::sleep_for(5ms);
  const auto took = std::chrono::steady_clock::now() - assigned;
  source->stop();
  source.reset();
  ASSERT_EQ(got.checks, (std::vector<std::string>{"check-0", "check-1", "check-2"}));
  EXPECT_LT(took, 5s) << std::chrono::duration<double>(took).count() << " s after the assignment";
}

// A writer catching up a backlog reads on without a pause: librdkafka 2.0 stops pre-fetching at
// queued.min.messages (its default: 100,000) and looks at its queue again only once a second,
// so a source reading faster than that waited out the rest of the second every 100,000
// messages. The source sets it higher; 64 MiB (queued.max.messages.kbytes) stays the bound.
TEST_F(kafka_sink_test, source_reads_a_backlog_of_over_100000_messages_without_a_pause) {
  constexpr int n = 120'000;
  test::kafka_broker broker({.brokers = 1, .topics = {"backlog:4"}, .port = 0});
  {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"bootstrap.servers", broker.bootstrap()},
             {"compression.type", "lz4"},
             {"linger.ms", "20"},
             {"queue.buffering.max.messages", "200000"}})
      ASSERT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err), RD_KAFKA_CONF_OK)
          << err;
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(rk, nullptr) << err;
    for (int i = 0; i < n; ++i) {
      const std::string v = test::encode_record(make_record(i));
      const std::string key = std::to_string(i % 64);
      rd_kafka_resp_err_t e;
      while ((e = rd_kafka_producev(
                  rk, RD_KAFKA_V_TOPIC("backlog"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                  RD_KAFKA_V_KEY(key.data(), key.size()),
                  RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_END)) ==
             RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 10);
      ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    }
    const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 30'000);
    int64_t kept = 0, dropped = 0;  // the broker drops a partition's oldest beyond ~5 MB
    for (int p = 0; p < 4 && !flushed; ++p) {
      int64_t low = 0, high = 0;
      if (rd_kafka_query_watermark_offsets(rk, "backlog", p, &low, &high, 10'000) == 0) {
        kept += high - low;
        dropped += low;
      }
    }
    rd_kafka_destroy(rk);
    ASSERT_EQ(flushed, RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(dropped, 0);
    ASSERT_EQ(kept, n);
  }
  std::mutex mu;
  size_t got = 0;
  std::chrono::steady_clock::time_point last{};
  std::chrono::steady_clock::duration longest{};
  host_.submit = [&](const isitup_record_v1* const*, size_t k, uint64_t) -> uint32_t {
    std::lock_guard lock(mu);
    const auto now = std::chrono::steady_clock::now();
    if (got > 0) longest = std::max(longest, now - last);
    last = now;
    got += k;
    // A writer's pace (~250,000 records/s): slower than the pre-fetch, so its queue fills.
    std::this_thread::sleep_for(std::chrono::microseconds(k * 4));
    return ISITUP_OK;
  };
  auto source =
      make_source({{"brokers", broker.bootstrap()}, {"topic", "backlog"}, {"group", "g"}});
  source->start();
  const auto received = [&] {
    std::lock_guard lock(mu);
    return got;
  };
  for (const auto until = std::chrono::steady_clock::now() + 60s;
       received() < n && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  source->stop();
  source.reset();
  std::lock_guard lock(mu);
  ASSERT_EQ(got, static_cast<size_t>(n));
  // With librdkafka's default the longest pause was ~375 ms here; with the source's 13-16 ms
  // (alone, and beside two busy loops).
  EXPECT_LT(longest, 200ms) << std::chrono::duration<double, std::milli>(longest).count()
                            << " ms between two batches";
}

// A group without committed offsets starts where start_from says (the source sets the start
// of every partition it did not claim itself): with `latest`, records produced before the
// assignment are never read, records produced after it are.
TEST_F(kafka_sink_test, source_of_a_new_group_starts_at_the_end_with_start_from_latest) {
  test::kafka_broker broker({.brokers = 1, .topics = {"late:2"}, .port = 0});
  std::vector<std::string> before;
  for (int i = 0; i < 20; ++i) {
    record r = make_record(i);
    r.check = "before-" + std::to_string(i);
    before.push_back(test::encode_record(r));
  }
  kafka_test::produce(broker.bootstrap(), "late", before);
  std::mutex mu;
  std::vector<std::string> got;
  host_.submit = [&](const isitup_record_v1* const* r, size_t n, uint64_t) -> uint32_t {
    std::lock_guard lock(mu);
    for (size_t i = 0; i < n; ++i) got.push_back(r[i]->check);
    return ISITUP_OK;
  };
  auto source = make_source({{"brokers", broker.bootstrap()},
                             {"topic", "late"},
                             {"group", "new"},
                             {"start_from", "latest"},
                             {"batch_delay", "20ms"}});
  source->start();
  // Produced until one arrives: when the source reached the end is not visible from here.
  std::size_t received = 0;
  int produced_after = 0;
  for (int i = 0; received == 0 && i < 100; ++i, ++produced_after) {
    record r = make_record(i);
    r.check = "after-" + std::to_string(i);
    std::string json = test::encode_record(r);
    kafka_test::produce(broker.bootstrap(), "late", {json});
    for (const auto until = std::chrono::steady_clock::now() + 300ms;
         received == 0 && std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(10ms)) {
      std::lock_guard lock(mu);
      received = got.size();
    }
  }
  source->stop();
  source.reset();
  std::lock_guard lock(mu);
  ASSERT_FALSE(got.empty()) << "nothing produced after the start was read";
  for (const std::string& check : got) EXPECT_EQ(check.rfind("after-", 0), 0u) << check;
  // The start was resolved to offsets before the assignment (not left to librdkafka, which
  // waits 500 ms when the partition's leader is not known yet): the ends of the two partitions
  // hold the 20 records produced before, and at most the ones produced while it started.
  std::string line;
  for (const auto& l : host_.logs())
    if (l.message.find("no committed offsets: reading from the end") != std::string::npos)
      line = l.message;
  ASSERT_FALSE(line.empty()) << "the resolved start offsets were not logged";
  static const std::regex at(R"(([0-9]+)@([0-9]+))");
  int64_t sum = 0;
  int partitions = 0;
  for (std::sregex_iterator it(line.begin(), line.end(), at), end; it != end; ++it, ++partitions)
    sum += std::stoll((*it)[2]);
  EXPECT_EQ(partitions, 2) << line;
  EXPECT_GE(sum, 20) << line;
  EXPECT_LE(sum, 20 + produced_after) << line;
}

// With start_from earliest, a new group's partitions start at offset 0, resolved before the
// assignment, and every record produced before is read.
TEST_F(kafka_sink_test, source_of_a_new_group_resolves_start_from_earliest_to_offsets) {
  test::kafka_broker broker({.brokers = 1, .topics = {"early:2"}, .port = 0});
  std::vector<std::string> before;
  before.reserve(20);
  for (int i = 0; i < 20; ++i) before.push_back(test::encode_record(make_record(i)));
  kafka_test::produce(broker.bootstrap(), "early", before);
  std::mutex mu;
  std::size_t got = 0;
  host_.submit = [&](const isitup_record_v1* const*, size_t n, uint64_t) -> uint32_t {
    std::lock_guard lock(mu);
    got += n;
    return ISITUP_OK;
  };
  auto source = make_source({{"brokers", broker.bootstrap()},
                             {"topic", "early"},
                             {"group", "new-early"},
                             {"start_from", "earliest"},
                             {"batch_delay", "20ms"}});
  source->start();
  for (const auto until = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
    std::lock_guard lock(mu);
    if (got >= before.size()) break;
  }
  source->stop();
  source.reset();
  EXPECT_EQ(got, before.size());
  EXPECT_TRUE(host_.logged("no committed offsets: reading from the start (start_from): 0@0, 1@0"))
      << "the start offsets were not resolved before the assignment";
}

}  // namespace
}  // namespace isitup
