// kafka_sink's `validate` option against a real development broker: with it on (the default)
// the bytes about to be produced are decoded by the host's v1 codec and a record the schema
// rejects is counted, logged and never produced; with it off the same record goes out, which
// shows that the check is what refuses it.
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "codec_host.hpp"
#include "fake_host.hpp"
#include "kafka_broker.hpp"
#include "kafka_producer.hpp"
#include "kafka_test_util.hpp"
#include "record_codec.hpp"

namespace isitup {
namespace {

using namespace std::chrono_literals;
using sdk::record;
using sdk::testing::fake_host;
using sdk::testing::fake_options;

record valid_record(int i) {
  record r;
  r.agent = "probe-1";
  r.check = "check-" + std::to_string(i);
  r.plugin = "tcp_check";
  r.target = "127.0.0.1:80";
  r.scheduled_at_ms = 1'795'802'400'000 + i;
  r.started_at_ms = r.scheduled_at_ms + 1;
  r.up = true;
  r.total_ms = 1.5;
  return r;
}

// One record per rule that only the encoded bytes can show broken, each naming its field.
struct invalid_case {
  const char* field;
  record r;
};
std::vector<invalid_case> invalid_records() {
  std::vector<invalid_case> out;
  auto add = [&](const char* field, auto change) {
    record r = valid_record(100 + static_cast<int>(out.size()));
    change(r);
    out.push_back({field, r});
  };
  add("http.code", [](record& r) { r.http_code = 1000; });
  add("timing_ms.total", [](record& r) { r.total_ms = -2.5; });
  add("error.kind", [](record& r) {
    r.up = false;
    r.error_kind = "Not A Kind";
  });
  add("invalid JSON", [](record& r) { r.target = "bad \xFF utf-8"; });
  add("started_at", [](record& r) { r.started_at_ms = 253'402'300'800'000; });
  add("scheduled_at", [](record& r) { r.scheduled_at_ms = -62'167'219'200'000; });  // 0000
  add("extra", [](record& r) { r.extra_json = "[1, 2]"; });
  return out;
}

class kafka_sink_validate_test : public ::testing::Test {
 protected:
  kafka_sink_validate_test() { kafka_test::use_agent_codec(host_); }
  void TearDown() override {
    for (const std::string& p : host_.problems()) ADD_FAILURE() << "host misuse: " << p;
  }

  std::unique_ptr<kafka::producer_sink> make_sink(const std::string& brokers,
                                                  const std::string& topic, bool validate) {
    decl_ = sdk::detail::to_c(kafka::producer_options());
    opts_ = std::make_unique<fake_options>(
        decl_.data(), decl_.size(),
        sdk::testing::option_map{
            {"brokers", brokers}, {"topic", topic}, {"validate", validate ? "true" : "false"}});
    EXPECT_EQ(opts_->error(), "");
    return std::make_unique<kafka::producer_sink>(sdk::host(host_.table(), host_.ctx()),
                                                  sdk::options_view(host_.table(), opts_->raw()));
  }

  // Writes `records` as one batch and waits for its completion.
  std::pair<uint32_t, std::string> write(kafka::producer_sink& sink,
                                         const std::vector<record>& records) {
    std::vector<isitup_record_v1> views;
    views.reserve(records.size());
    for (const record& r : records) views.push_back(r.view());
    std::vector<const isitup_record_v1*> pointers;
    pointers.reserve(views.size());
    for (const auto& v : views) pointers.push_back(&v);
    const isitup_batch_v1 batch{sizeof(isitup_batch_v1), pointers.size(), pointers.data(), 1,
                                nullptr};
    std::promise<std::pair<uint32_t, std::string>> done;
    auto result = done.get_future();
    sink.write(sdk::batch_view(&batch),
               sdk::batch_done(
                   [](void* ctx, uint32_t status, const char* message) {
                     static_cast<std::promise<std::pair<uint32_t, std::string>>*>(ctx)->set_value(
                         {status, message ? message : ""});
                   },
                   &done));
    EXPECT_EQ(result.wait_for(20s), std::future_status::ready);
    return result.get();
  }

  fake_host host_;
  std::vector<isitup_option_v1> decl_;
  std::unique_ptr<fake_options> opts_;
};

TEST_F(kafka_sink_validate_test, refuses_every_record_the_schema_rejects_and_sends_the_rest) {
  test::kafka_broker broker;
  auto sink = make_sink(broker.bootstrap(), "checked", true);
  const std::vector<invalid_case> bad = invalid_records();
  std::vector<record> batch;
  for (size_t i = 0; i < bad.size(); ++i) {
    batch.push_back(valid_record(static_cast<int>(i)));
    batch.push_back(bad[i].r);
  }
  const auto [status, message] = write(*sink, batch);
  EXPECT_EQ(status, static_cast<uint32_t>(ISITUP_OK)) << message;
  EXPECT_EQ(host_.counter("invalid_records"), static_cast<int64_t>(bad.size()));
  for (const invalid_case& c : bad) {
    EXPECT_TRUE(host_.logged("record of check '" + c.r.check + "' fails v1 validation")) << c.field;
    EXPECT_TRUE(host_.logged(c.field)) << "the refusal names " << c.field;
  }
  const auto got = kafka_test::read_topic(broker.bootstrap(), "checked", bad.size() + 1, 20s);
  ASSERT_EQ(got.size(), bad.size()) << "exactly the valid records are produced";
  for (const auto& m : got) {
    record r;
    std::string error;
    ASSERT_TRUE(test::decode_record(m.value, r, error)) << error;
    EXPECT_EQ(r, valid_record(std::stoi(r.check.substr(6))));
  }
}

TEST_F(kafka_sink_validate_test, a_batch_of_only_invalid_records_fails_without_producing) {
  test::kafka_broker broker;
  auto sink = make_sink(broker.bootstrap(), "none", true);
  const auto [status, message] = write(*sink, {invalid_records()[0].r});
  EXPECT_EQ(status, static_cast<uint32_t>(ISITUP_ERROR));
  EXPECT_EQ(message, "1 records failed v1 validation");
  EXPECT_EQ(host_.counter("delivered"), 0);
}

TEST_F(kafka_sink_validate_test, with_validate_off_the_same_record_is_produced) {
  test::kafka_broker broker;
  auto sink = make_sink(broker.bootstrap(), "unchecked", false);
  const invalid_case bad = invalid_records()[0];
  const auto [status, message] = write(*sink, {bad.r});
  EXPECT_EQ(status, static_cast<uint32_t>(ISITUP_OK)) << message;
  EXPECT_EQ(host_.counter("invalid_records"), 0);
  const auto got = kafka_test::read_topic(broker.bootstrap(), "unchecked", 1, 20s);
  ASSERT_EQ(got.size(), 1u);
  record r;
  std::string error;
  EXPECT_FALSE(test::decode_record(got[0].value, r, error));
  EXPECT_EQ(error.rfind("http.code: ", 0), 0u) << error;
}

}  // namespace
}  // namespace isitup
