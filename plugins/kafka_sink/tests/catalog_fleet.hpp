// The probe fleet's test set-up (kafka_catalog_test, kafka_catalog_faults_test): the
// development broker with three brokers and the catalog topic replicated on all three (its
// partition leaders spread over them), `isitup-agent --publish-checks`, probe agents as
// separate processes in consumer groups, each writing its results to a file of its own, and a
// local nginx (127.0.0.1) their http_checks ask, so every run is answered and must be up.
// Everything here runs on the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kafka_broker.hpp"
#include "process.hpp"
#include "test_servers.hpp"

namespace isitup::fleet_test {

constexpr int catalog_partitions = 12;
// As the set-up: several brokers; isitup-kafka-dev replicates its topics on up to 3.
constexpr int brokers = 3;
// Probes leave a group quickly when killed; the mock broker also waits session timeout - 1 s
// for the members of a rebalance, so a short one keeps the tests short.
constexpr int64_t session_timeout_ms = 3000;
extern const std::string catalog_properties;  // the probes' librdkafka properties (YAML map)

int64_t epoch_ms();

struct result {
  std::string check, agent, location, target;
  int64_t scheduled_at = 0;
  bool up = false;
  std::string error_kind;
  int64_t http_code = 0;
};

// The records of a stdout_sink output file (a torn last line is left out).
std::vector<result> read_results(const std::string& path);

// http_checks c<from>..c<to-1> of `url` every `interval`. The timeout is most of the
// interval: nginx answers at once, but a loaded machine may be slow to run the probe.
std::string checks_yaml(int from, int to, const std::string& url,
                        const std::string& interval = "1s", const std::string& timeout = "900ms");
std::string catalog_yaml(const std::string& bootstrap, const std::string& group = "",
                         const std::string& properties = catalog_properties);

// isitup-agent --publish-checks file [--dry-run], at most 60 s.
test::run_result publish(const std::string& file, bool dry_run = false);

// How many messages the catalog topic holds (the partitions' high watermarks).
size_t catalog_size(const std::string& bootstrap);
// The leader broker of each catalog partition, as the brokers' metadata says.
std::vector<int32_t> catalog_leaders(const std::string& bootstrap);
// key -> value of the catalog's last message per key ("" for a tombstone): every message up to
// the partitions' high watermarks, however the brokers' fetches interleave.
std::map<std::string, std::string> catalog_now(const std::string& bootstrap, size_t* messages);

// A probe agent in catalog mode (group probes-<location>) writing to <dir>/<id>.jsonl.
struct probe {
  probe(const test::temp_dir& dir, const std::string& bootstrap, const std::string& id,
        const std::string& location, const std::string& properties = catalog_properties);
  std::vector<result> results() const { return read_results(output); }
  std::string output;
  std::unique_ptr<test::child_process> proc;
};

// Every result of the probes, and how many (check, scheduled_at) two of them both produced.
std::vector<result> all_results(const std::vector<const probe*>& probes, int* produced_twice);
std::set<std::string> checks_seen(const std::vector<result>& rs, int64_t scheduled_after = 0);

// The results scheduled at or after `from`: which checks were up, how many runs timed out,
// and the first few other failures. nginx answers every request, so a run may only be down by
// its timeout (a loaded machine slow to run the probe); any other failure (refused, an HTTP
// error) is a finding.
struct up_report {
  std::set<std::string> checks_up;
  int runs = 0, timed_out = 0;
  std::vector<std::string> failures;  // "check at scheduled_at: error_kind http_code"
};
up_report up_since(const std::vector<result>& rs, int64_t from);
std::string joined(const std::vector<std::string>& lines);

// Each test: a fresh broker (three brokers, isitup.checks with 12 partitions), a temp dir, and
// nginx from the first url().
class catalog_test : public ::testing::Test {
 protected:
  catalog_test();
  // A publisher config: the catalog section and `checks`.
  std::string file(const std::string& name, const std::string& checks);
  // http://127.0.0.1:<nginx>/ + path; nginx (on 127.0.0.1 only) starts on the first call (the
  // publish tests run no check and need none). Throws when it does not start.
  std::string url(const std::string& path = "");

  test::temp_dir dir_;
  test::kafka_broker broker_;
  std::unique_ptr<http::testing::nginx_server> nginx_;
};

}  // namespace isitup::fleet_test
