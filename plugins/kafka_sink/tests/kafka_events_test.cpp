// kafka_sink's events topic, the plugin compiled in and driven through the SDK's fake host
// against the development broker: events_topic set -> each event produced (key = check, value =
// the event JSON), done ok only after delivery, retry while Kafka is down; unset -> the sink
// takes no events. Also: example.yml shows every option of the sink.
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.hpp"
#include "kafka_broker.hpp"
#include "kafka_test_util.hpp"
#include "plugin_example.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;
using sdk::testing::sink_under_test;

// An event as the host hands it: the strings it points to live in the struct (so it must stay
// where it was built).
struct owned_event {
  std::string event_id, type, incident_id, check, json;
  isitup_event_v1 view{};

  owned_event(const std::string& check_name, int n, const std::string& ev_type) {
    event_id = std::string(30, 'a') + std::to_string(10 + n);
    incident_id = std::string(32, 'b');
    check = check_name;
    type = ev_type;
    json = R"({"v":1,"event_id":")" + event_id + R"(","type":")" + type + R"(","check":")" + check +
           R"("})";
    view.struct_size = sizeof(isitup_event_v1);
    view.event_id = event_id.c_str();
    view.type = type.c_str();
    view.incident_id = incident_id.c_str();
    view.check = check.c_str();
    view.plugin = "http_check";
    view.target = "http://127.0.0.1/";
    view.resolved_at_ms = ISITUP_ABSENT_TIME;
    view.error_kind = "";
    view.error_message = "";
    view.locations_json = "[]";
    view.json = json.c_str();
  }
};

std::vector<const isitup_event_v1*> pointers(const std::vector<owned_event>& evs) {
  std::vector<const isitup_event_v1*> out;
  out.reserve(evs.size());
  for (const auto& e : evs) out.push_back(&e.view);
  return out;
}

std::vector<owned_event> some_events(int first) {
  std::vector<owned_event> evs;
  evs.reserve(6);  // the views point into the elements: they must not move
  for (int i = first; i < first + 6; ++i)
    evs.emplace_back(i % 2 ? "shop" : "blog", i,
                     i % 4 < 2 ? "incident_opened" : "incident_resolved");
  return evs;
}

// The event ids per key, in topic order (one partition per key keeps each check in order).
std::map<std::string, std::vector<std::string>> ids_by_key(
    const std::vector<kafka_test::message>& msgs) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& m : msgs) {
    rapidjson::Document d;
    d.Parse(m.value.c_str());
    EXPECT_TRUE(d.IsObject() && d.HasMember("event_id")) << m.value;
    if (!d.IsObject() || !d.HasMember("event_id")) continue;
    EXPECT_EQ(m.key, d["check"].GetString());
    out[m.key].push_back(d["event_id"].GetString());
  }
  return out;
}

std::map<std::string, std::vector<std::string>> expected_ids(const std::vector<owned_event>& evs) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& e : evs) out[e.check].push_back(e.event_id);
  return out;
}

class kafka_events : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& p : host_.problems()) ADD_FAILURE() << "host misuse: " << p;
  }
  fake_host host_;
};

TEST_F(kafka_events, each_event_goes_to_the_events_topic_keyed_by_check_done_after_delivery) {
  test::kafka_broker broker({.brokers = 1, .topics = {"events:4", "results:4"}, .port = 0});
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"brokers", broker.bootstrap()},
                        {"topic", "results"},
                        {"events_topic", "events"},
                        {"linger", "1ms"}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const std::vector<owned_event> evs = some_events(0);
  const auto done = sink.write_events(pointers(evs), 30s);
  ASSERT_TRUE(done.done);
  EXPECT_EQ(done.status, ISITUP_OK) << done.message;
  // Done ok means every event is on the topic already.
  const auto msgs = kafka_test::read_topic(broker.bootstrap(), "events", evs.size(), 10s);
  EXPECT_EQ(ids_by_key(msgs), expected_ids(evs));
  for (const auto& m : msgs) {
    bool found = false;
    for (const auto& e : evs) found |= m.value == e.json;
    EXPECT_TRUE(found) << "produced as handed over: " << m.value;
  }
  // Nothing went to the results topic.
  EXPECT_TRUE(kafka_test::read_topic(broker.bootstrap(), "results", 0, 3s, 4, 1s).empty());
}

TEST_F(kafka_events, without_events_topic_the_sink_takes_no_events) {
  test::kafka_broker broker({.brokers = 1, .topics = {"results:4"}, .port = 0});
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"brokers", broker.bootstrap()}, {"topic", "results"}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const std::vector<owned_event> evs = some_events(0);
  const auto start = std::chrono::steady_clock::now();
  const auto done = sink.write_events(pointers(evs), 30s);
  ASSERT_TRUE(done.done);
  EXPECT_EQ(done.status, ISITUP_OK);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // at once, nothing waited for
  EXPECT_TRUE(kafka_test::read_topic(broker.bootstrap(), "results", 0, 3s, 4, 1s).empty());
}

TEST_F(kafka_events, kafka_down_gives_retry_and_the_same_events_arrive_once_it_is_back) {
  test::kafka_broker broker({.brokers = 1, .topics = {"events:4"}, .port = 0});
  sink_under_test sink(
      host_, isitup_plugin_entry(),
      {{"brokers", broker.bootstrap()},
       {"events_topic", "events"},
       {"delivery_timeout", "1s"},
       {"linger", "1ms"},
       {"properties", sdk::testing::map_value{{"reconnect.backoff.max.ms", "200"}}}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const std::vector<owned_event> evs = some_events(0);
  ASSERT_EQ(broker.command("down all"), "ok");
  const auto down = sink.write_events(pointers(evs), 15s);
  ASSERT_TRUE(down.done);
  EXPECT_EQ(down.status, ISITUP_RETRY) << down.message;
  EXPECT_NE(down.message.find("not delivered"), std::string::npos) << down.message;
  ASSERT_EQ(broker.command("up all"), "ok");
  // The host hands the same events again after a backoff, until one call is done ok.
  sdk::testing::outcome again{};
  for (int i = 0; i < 20; ++i) {
    again = sink.write_events(pointers(evs), 15s);
    if (again.done && again.status == ISITUP_OK) break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(again.done);
  EXPECT_EQ(again.status, ISITUP_OK) << again.message;
  // Each event at least once, per check in order of the last try; ids identify duplicates.
  auto got = ids_by_key(kafka_test::read_topic(broker.bootstrap(), "events", 0, 10s, 4, 2s));
  for (auto& [key, ids] : got) {
    const auto want = expected_ids(evs).at(key);
    ASSERT_GE(ids.size(), want.size()) << key;
    EXPECT_EQ(
        std::vector<std::string>(ids.end() - static_cast<std::ptrdiff_t>(want.size()), ids.end()),
        want)
        << key;
  }
  EXPECT_EQ(got.size(), 2u);
}

TEST_F(kafka_events, an_event_without_its_json_is_refused_not_retried) {
  test::kafka_broker broker({.brokers = 1, .topics = {"events:4"}, .port = 0});
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"brokers", broker.bootstrap()}, {"events_topic", "events"}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<owned_event> evs = some_events(0);
  evs[1].view.json = nullptr;
  const auto done = sink.write_events(pointers(evs), 30s);
  ASSERT_TRUE(done.done);
  EXPECT_EQ(done.status, ISITUP_ERROR) << done.message;
}

size_t threads_of_this_process() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_F(kafka_events, events_topic_must_differ_from_the_results_topic_and_not_be_empty) {
  // A refused sink leaves no librdkafka handle behind (its threads would call into the freed
  // sink).
  const size_t threads_before = threads_of_this_process();
  sink_under_test same(host_, isitup_plugin_entry(),
                       {{"brokers", "127.0.0.1:1"}, {"topic", "t"}, {"events_topic", "t"}});
  EXPECT_FALSE(same.ok());
  EXPECT_NE(same.error().find("events_topic: must differ from topic"), std::string::npos)
      << same.error();
  sink_under_test empty(host_, isitup_plugin_entry(),
                        {{"brokers", "127.0.0.1:1"}, {"events_topic", ""}});
  EXPECT_FALSE(empty.ok());
  EXPECT_NE(empty.error().find("events_topic: must not be empty (leave it out for no events)"),
            std::string::npos)
      << empty.error();
  for (int i = 0; i < 20 && threads_of_this_process() > threads_before; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(threads_of_this_process(), threads_before);
}

// ---------------------------------------------------------------- example.yml

// `file`'s kafka_sink section (a sink or a source) shows every declared option, with its
// default when it has one (maps aside). README rows: tests/integration/plugin_docs_test.cpp.
void expect_every_option_shown(const std::string& file, bool source) {
  const isitup_plugin_v1* p = isitup_plugin_entry();
  const test::declared_options declared = source ? test::declared_by("kafka_sink", *p->source)
                                                 : test::declared_by("kafka_sink", *p->sink);
  // ${KAFKA_BROKERS} filled in here: setenv() races with librdkafka threads of earlier tests.
  std::ifstream in(std::string(ISITUP_SOURCE_DIR) + "/plugins/kafka_sink/" + file);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  for (size_t at; (at = yaml.find("${KAFKA_BROKERS}")) != std::string::npos;)
    yaml.replace(at, 16, "127.0.0.1:9092");
  const test::example_config example = test::read_example_text(yaml, file, declared);
  const std::vector<const test::example_section*> sections =
      test::sections_of(source ? example.sources : example.sinks, "kafka_sink");
  ASSERT_FALSE(sections.empty()) << file;
  const std::vector<test::shown_option>& options = sections.back()->options;
  EXPECT_EQ(options.size(), declared.count) << file;
  for (const test::shown_option& o : options) {
    EXPECT_TRUE(o.is_set) << o.name << " is not shown in " << file;
    if (o.default_yaml && !o.is_map) {
      EXPECT_EQ(o.text, *o.default_yaml) << o.name << " is not shown with its default in " << file;
    }
  }
}

TEST(kafka_sink_example, example_yml_shows_every_sink_option) {
  expect_every_option_shown("example.yml", false);
}

}  // namespace
}  // namespace isitup
