// Quorum over locations through Kafka, with real processes: three probe agents (locations eu,
// us, ap) check one site on 127.0.0.1, each through its own path whose status the test flips,
// and produce their results to the development broker; one writer agent consumes them with the
// kafka source, tracks the check's state over the three locations at quorum 2 and notifies a
// webhook receiver (and prints to stdout_sink). One location down opens nothing; two open
// exactly one incident naming both; recovery resolves it. Each probe also tracks its own
// location and produces its events to kafka_sink's events_topic.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "eventually.hpp"
#include "kafka_broker.hpp"
#include "kafka_test_util.hpp"
#include "process.hpp"
#include "webhook_receiver.hpp"

using namespace std::chrono_literals;

namespace {

using isitup::test::child_process;
using isitup::test::eventually;
using isitup::test::kafka_broker;
using isitup::test::temp_dir;
using isitup::test::webhook_receiver;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
// Each wait parses the writer's whole output or the receiver's requests.
constexpr auto poll_every = 100ms;
const std::string fast_client =
    R"({reconnect.backoff.max.ms: "500", session.timeout.ms: "6000", heartbeat.interval.ms: "500"})";
const char* const location_names[] = {"eu", "us", "ap"};

struct event {
  std::string event_id, type, incident_id;
  std::vector<std::string> locations;
};

std::vector<event> events_of(const webhook_receiver& rx) {
  std::vector<event> out;
  for (const auto& r : rx.requests()) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (!d.IsObject() || !d.HasMember("event_id")) {
      ADD_FAILURE() << "not an event: " << r.body;
      continue;
    }
    event e{d["event_id"].GetString(), d["type"].GetString(), d["incident_id"].GetString(), {}};
    for (const auto& l : d["locations"].GetArray()) e.locations.emplace_back(l.GetString());
    out.push_back(std::move(e));
  }
  return out;
}

// Results of `location` in the writer's output since line `from`, down ones when !up.
int results_of(const std::string& out, const std::string& location, bool up, size_t from) {
  std::istringstream in(out);
  int n = 0;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line); ++line_no) {
    if (line_no < from) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (!d.IsObject() || d.HasMember("event_id") || !d.HasMember("location")) continue;
    if (location == d["location"].GetString() && d["status"].IsString() &&
        std::string(d["status"].GetString()) == (up ? "up" : "down"))
      ++n;
  }
  return n;
}

size_t lines_in(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class quorum_over_kafka : public ::testing::Test {
 protected:
  quorum_over_kafka()
      : site_(0, [this](const webhook_receiver::request& r, size_t) {
          for (int i = 0; i < 3; ++i)
            if (r.target == std::string("/") + location_names[i] && down_[i].load())
              return webhook_receiver::answer{503, {}};
          return webhook_receiver::answer{200, {}};
        }) {}

  // `location_ttl`: the writer's alert.location_ttl.
  void start_agents(const std::string& location_ttl = "10m") {
    writer_out_ = (dir_ / "writer.jsonl").string();
    const std::string writer_cfg = dir_.write(
        "writer.yml",
        "agent: {id: writer-1}\n"
        "defaults:\n"
        "  alert: {failure_threshold: 2, success_threshold: 2, quorum: 2, notify: [hook],"
        " location_ttl: " +
            location_ttl +
            "}\n"
            "sources:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
            broker_.bootstrap() + "\", topic: results, group: writers, batch_delay: 20ms," +
            " properties: " + fast_client +
            "}\n"
            "sinks:\n"
            "  - plugin: stdout_sink\n    options: {output: \"" +
            writer_out_ +
            "\"}\n"
            "  - name: hook\n    plugin: webhook_sink\n    options: {url: \"" +
            hook_.url("/hook") + "\", retry_backoff: 100ms, retry_backoff_max: 500ms}\n");
    writer_ = std::make_unique<child_process>(
        std::vector<std::string>{agent_bin, "-c", writer_cfg, "-p", plugin_dir});
    for (int i = 0; i < 3; ++i) {
      const std::string name = location_names[i];
      const std::string cfg =
          dir_.write("probe-" + name + ".yml",
                     "agent: {id: probe-" + name + ", location: " + name +
                         "}\n"
                         "defaults:\n  interval: 200ms\n  timeout: 1s\n"
                         "  alert: {failure_threshold: 2, success_threshold: 2}\n"
                         "checks:\n  - {name: shop, plugin: http_check, target: \"" +
                         site_.url("/" + name) +
                         "\"}\n"
                         "sinks:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
                         broker_.bootstrap() +
                         "\", topic: results, events_topic: events, linger: 5ms, properties: "
                         "{reconnect.backoff.max.ms: "
                         "\"500\"}}\n");
      probes_.push_back(std::make_unique<child_process>(
          std::vector<std::string>{agent_bin, "-c", cfg, "-p", plugin_dir}));
    }
  }

  std::string writer_out() const { return isitup::test::read_file(writer_out_); }

  // Waits until the writer has printed at least `n` results of `location` with that `up`
  // since line `from` of its output.
  bool writer_saw(const std::string& location, bool up, int n, size_t from) {
    return eventually([&] { return results_of(writer_out(), location, up, from) >= n; }, 20s,
                      poll_every);
  }

  std::string logs() const {
    const std::string out = writer_out();
    std::string s = "writer output (" + std::to_string(lines_in(out)) +
                    " lines), first: " + out.substr(0, out.find('\n')) + "\nwriter:\n" +
                    writer_->err();
    for (int i = 0; i < 3; ++i)
      s += "\nprobe " + std::string(location_names[i]) + ":\n" +
           probes_[static_cast<size_t>(i)]->err();
    return s;
  }

  void stop_all() {
    for (auto& p : probes_)
      if (p->running()) p->signal(SIGTERM);
    for (auto& p : probes_) EXPECT_EQ(p->wait(20s), 0) << p->err();
    writer_->signal(SIGTERM);
    EXPECT_EQ(writer_->wait(20s), 0) << writer_->err();
  }

  kafka_broker broker_{{.brokers = 1, .topics = {"results:4", "events:4"}, .port = 0}};
  std::atomic<bool> down_[3] = {false, false, false};
  webhook_receiver site_;
  webhook_receiver hook_;
  temp_dir dir_;
  std::string writer_out_;
  std::unique_ptr<child_process> writer_;
  std::vector<std::unique_ptr<child_process>> probes_;
};

TEST_F(quorum_over_kafka, one_location_down_opens_nothing_two_open_one_incident_recovery_resolves) {
  start_agents();
  // Every location reported up to the writer: all three are known.
  for (const char* l : location_names) ASSERT_TRUE(writer_saw(l, true, 3, 0)) << logs();

  // eu down: the writer sees eu down well past failure_threshold, and nothing opens.
  down_[0] = true;
  size_t mark = lines_in(writer_out());
  ASSERT_TRUE(writer_saw("eu", false, 6, mark)) << logs();
  ASSERT_TRUE(writer_saw("us", true, 6, mark)) << logs();
  EXPECT_TRUE(hook_.requests().empty()) << logs();

  // us down too: quorum 2 reached, exactly one incident naming eu and us.
  down_[1] = true;
  ASSERT_TRUE(eventually([&] { return !hook_.requests().empty(); }, 20s, poll_every)) << logs();
  mark = lines_in(writer_out());
  // More down results from both do not open it again.
  ASSERT_TRUE(writer_saw("us", false, 5, mark)) << logs();
  std::vector<event> evs = events_of(hook_);
  ASSERT_EQ(evs.size(), 1u) << logs();
  EXPECT_EQ(evs[0].type, "incident_opened");
  EXPECT_EQ(evs[0].locations, (std::vector<std::string>{"eu", "us"}));

  // Recovery: both up again resolves the incident, once.
  down_[0] = down_[1] = false;
  ASSERT_TRUE(eventually([&] { return events_of(hook_).size() >= 2; }, 20s, poll_every)) << logs();
  mark = lines_in(writer_out());
  ASSERT_TRUE(writer_saw("eu", true, 5, mark)) << logs();
  ASSERT_TRUE(writer_saw("us", true, 5, mark)) << logs();
  stop_all();
  evs = events_of(hook_);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[1].type, "incident_resolved");
  EXPECT_EQ(evs[1].incident_id, evs[0].incident_id);
  EXPECT_NE(evs[1].event_id, evs[0].event_id);

  // stdout_sink printed the same two transitions among the results.
  int printed = 0;
  std::istringstream in(writer_out());
  for (std::string line; std::getline(in, line);)
    printed += line.find("\"event_id\"") != std::string::npos ? 1 : 0;
  EXPECT_EQ(printed, 2) << writer_out();

  // Each probe tracked its own location (quorum 1) and its kafka_sink produced its incident
  // events to events_topic: eu and us opened and resolved one each, ap none.
  std::map<std::string, std::vector<std::string>> types_by_location;
  std::set<std::string> ids;
  for (const auto& m : isitup::kafka_test::read_topic(broker_.bootstrap(), "events", 4, 20s)) {
    rapidjson::Document d;
    d.Parse(m.value.c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("event_id") && d.HasMember("locations")) << m.value;
    EXPECT_EQ(m.key, "shop");
    ASSERT_EQ(d["locations"].Size(), 1u) << m.value;
    if (!ids.insert(d["event_id"].GetString()).second) continue;  // a duplicate: same id
    types_by_location[d["locations"][0].GetString()].push_back(d["type"].GetString());
  }
  // The writer's quorum incident opened at eu's first down result, as eu's own did: still
  // different events, so different ids (a receiver deduplicates on them).
  for (const event& e : evs) {
    EXPECT_FALSE(ids.count(e.event_id)) << e.type << " of the writer has a probe's event id";
  }
  const std::vector<std::string> open_resolve = {"incident_opened", "incident_resolved"};
  EXPECT_EQ(types_by_location, (std::map<std::string, std::vector<std::string>>{
                                   {"eu", open_resolve}, {"us", open_resolve}}));
}

// alert.location_ttl through Kafka: eu and us down open the incident; the us probe stops (its
// site still down); 2 s after us's last result the writer forgets us, and one location down is
// below quorum 2: the incident resolves although eu is still down.
TEST_F(quorum_over_kafka, a_location_that_stops_reporting_stops_counting_after_location_ttl) {
  start_agents("2s");
  for (const char* l : location_names) ASSERT_TRUE(writer_saw(l, true, 3, 0)) << logs();
  down_[0] = down_[1] = true;
  ASSERT_TRUE(eventually([&] { return !hook_.requests().empty(); }, 20s, poll_every)) << logs();
  probes_[1]->signal(SIGTERM);
  ASSERT_EQ(probes_[1]->wait(20s), 0) << probes_[1]->err();
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return events_of(hook_).size() >= 2; }, 20s, poll_every)) << logs();
  // Not before the ttl ran out (us's last result came before the stop).
  EXPECT_GE(std::chrono::steady_clock::now() - stopped, 1s);
  // eu was still down when it resolved, and after.
  const size_t mark = lines_in(writer_out());
  ASSERT_TRUE(writer_saw("eu", false, 3, mark)) << logs();
  stop_all();
  const std::vector<event> evs = events_of(hook_);
  ASSERT_EQ(evs.size(), 2u) << logs();
  EXPECT_EQ(evs[0].type, "incident_opened");
  EXPECT_EQ(evs[0].locations, (std::vector<std::string>{"eu", "us"}));
  EXPECT_EQ(evs[1].type, "incident_resolved");
  EXPECT_EQ(evs[1].incident_id, evs[0].incident_id);
  EXPECT_EQ(evs[1].locations, (std::vector<std::string>{"eu", "us"}));  // who saw it down
  EXPECT_NE(writer_->err().find("alert: shop: a location silent past location_ttl (2000 ms, or 3 "
                                "intervals when longer) no longer counts; reporting: ap, eu"),
            std::string::npos)
      << writer_->err();
}

}  // namespace
