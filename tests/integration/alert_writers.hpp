// The set-up the tests of incidents on writer agents share, through real processes: a probe
// agent checks a local HTTP target every 100 ms and produces to the development broker (topic
// `results`, one partition); writer agents (the kafka_sink source in group `writers` ->
// pg_sink, with webhook_sink `ops` as the notifier; an incident after 3 failures, resolved
// after 2 successes) keep the alert state in PostgreSQL with the rows. A GTest fixture for
// tests that link webhook_test_receiver; one test thread.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "agents.hpp"
#include "http_target_server.hpp"
#include "kafka_broker.hpp"
#include "pg_server.hpp"
#include "process.hpp"
#include "webhook_receiver.hpp"

namespace isitup::test {

class alert_writers : public ::testing::Test {
 protected:
  alert_writers() : broker_(kafka_broker_options{1, {"results:1"}}) {}

  std::string probe_config() {
    return dir_.write("probe.yml",
                      "agent: {id: probe-1, location: lab}\n"
                      "defaults: {interval: 100ms, timeout: 1s}\n"
                      "checks:\n  - {name: shop, plugin: http_check, target: \"" +
                          target_.url("/") +
                          "\"}\n"
                          "sinks:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
                          broker_.bootstrap() +
                          "\", topic: results, properties: " + client_properties() + "}\n");
  }
  // Writer agents of one group differ only in `id`.
  std::string writer_config(const std::string& id = "writer-1") {
    writer_yaml w;
    w.brokers = broker_.bootstrap();
    w.properties = client_properties();
    w.pg_connection = pg_.uri();
    w.sink_options = "table: results, batch_delay: 20ms";
    return dir_.write(id + ".yml", "agent: {id: " + id +
                                       "}\n"
                                       "defaults:\n  alert: {failure_threshold: 3, "
                                       "success_threshold: 2, notify: [ops]}\n" +
                                       w.str() +
                                       "  - {name: ops, plugin: webhook_sink, options: {url: \"" +
                                       receiver_.url() + "\"}}\n");
  }
  std::unique_ptr<child_process> start(const std::string& config) { return start_agent(config); }

  std::string psql(const std::string& sql) { return pg_.psql(sql); }
  int count(const std::string& sql) {
    const std::string out = psql(sql);
    return out.empty() ? -1 : std::stoi(out);
  }
  bool has_tables() {
    return psql("SELECT count(*) FROM pg_tables WHERE tablename = 'results_incidents'") == "1\n";
  }

  // After `outages` outages, all over: PostgreSQL holds exactly one incident per outage, each
  // opened and resolved by one event.
  void expect_one_incident_per_outage(int outages) {
    EXPECT_EQ(count("SELECT count(*) FROM results_incidents"), outages)
        << psql("SELECT * FROM results_incidents");
    EXPECT_EQ(count("SELECT count(*) FROM results_incidents WHERE resolved_at IS NULL OR "
                    "opened_event_id IS NULL OR resolved_event_id IS NULL OR resolved_at <= "
                    "opened_at"),
              0)
        << psql("SELECT * FROM results_incidents");
    EXPECT_EQ(count("SELECT count(*) FROM results_events"), 2 * outages)
        << psql("SELECT event_id, type, check_name, at FROM results_events");
  }
  // The receiver got every event PostgreSQL holds at least once, and nothing else; duplicates
  // carry the same id and body. Returns how many duplicates came.
  std::size_t expect_every_event_delivered() {
    const std::set<std::string> stored = lines(psql("SELECT event_id FROM results_events"));
    std::map<std::string, std::string> body_of;
    std::size_t duplicates = 0;
    for (const auto& r : receiver_.requests()) {
      const std::string id = r.header("x-isitup-event-id");
      EXPECT_EQ(stored.count(id), 1u) << "an event PostgreSQL does not hold: " << id;
      const auto [it, fresh] = body_of.emplace(id, r.body);
      if (!fresh) {
        ++duplicates;
        EXPECT_EQ(it->second, r.body) << "a duplicate of " << id << " with another body";
      }
    }
    EXPECT_EQ(body_of.size(), stored.size());
    return duplicates;
  }

  temp_dir dir_;
  pg_server pg_;
  kafka_broker broker_;
  http_target_server target_;
  webhook_receiver receiver_;

 private:
  static std::string client_properties() { return fast_kafka_client(std::chrono::seconds(3)); }
};

}  // namespace isitup::test
