#include "catalog_fleet.hpp"

#include <librdkafka/rdkafka.h>
#include <isitup/util/clock.hpp>

#include <sstream>
#include <stdexcept>

#include "kafka_test_util.hpp"
#include "record_codec.hpp"

namespace isitup::fleet_test {

using namespace std::chrono_literals;

namespace {
const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

// A producer handle for metadata questions; destroyed by the caller.
rd_kafka_t* metadata_client(const std::string& bootstrap) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return rk;
}
}  // namespace

const std::string catalog_properties =
    "{session.timeout.ms: \"3000\", heartbeat.interval.ms: \"300\", "
    "reconnect.backoff.max.ms: \"500\"}";

int64_t epoch_ms() { return sdk::wall_ms(); }

std::vector<result> read_results(const std::string& path) {
  std::vector<result> out;
  std::istringstream in(test::read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    sdk::record r;
    std::string error;
    if (!test::decode_record(line, r, error)) continue;  // a torn last line
    out.push_back({r.check, r.agent, r.location, r.target, r.scheduled_at_ms, r.up, r.error_kind,
                   r.http_code});
  }
  return out;
}

std::string checks_yaml(int from, int to, const std::string& url, const std::string& interval,
                        const std::string& timeout) {
  std::string out = "checks:\n";
  const std::string rest = ", plugin: http_check, target: \"" + url + "\", interval: " + interval +
                           ", timeout: " + timeout + "}\n";
  for (int i = from; i < to; ++i) out.append("  - {name: c").append(std::to_string(i)).append(rest);
  return out;
}

std::string catalog_yaml(const std::string& bootstrap, const std::string& group,
                         const std::string& properties) {
  return "catalog:\n  plugin: kafka_sink\n  options: {brokers: \"" + bootstrap +
         "\", topic: isitup.checks" + (group.empty() ? "" : ", group: " + group) +
         ", properties: " + properties + "}\n";
}

test::run_result publish(const std::string& file, bool dry_run) {
  std::vector<std::string> argv{agent_bin, "--publish-checks", file, "-p", plugin_dir};
  if (dry_run) argv.push_back("--dry-run");
  return test::run(argv, 60s);
}

size_t catalog_size(const std::string& bootstrap) {
  rd_kafka_t* rk = metadata_client(bootstrap);
  size_t total = 0;
  for (int p = 0; p < catalog_partitions; ++p) {
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, "isitup.checks", p, &low, &high, 20000);
    if (e) {
      rd_kafka_destroy(rk);
      throw std::runtime_error(std::string("watermarks: ") + rd_kafka_err2str(e));
    }
    total += static_cast<size_t>(high - low);
  }
  rd_kafka_destroy(rk);
  return total;
}

std::vector<int32_t> catalog_leaders(const std::string& bootstrap) {
  rd_kafka_t* rk = metadata_client(bootstrap);
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, "isitup.checks", nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, topic, &md, 20000);
  std::vector<int32_t> out(catalog_partitions, -1);
  if (!e && md->topic_cnt == 1)
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      const rd_kafka_metadata_partition_t& part = md->topics[0].partitions[i];
      if (part.id >= 0 && part.id < catalog_partitions)
        out[static_cast<size_t>(part.id)] = part.leader;
    }
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  if (e) throw std::runtime_error(std::string("metadata: ") + rd_kafka_err2str(e));
  return out;
}

std::map<std::string, std::string> catalog_now(const std::string& bootstrap, size_t* messages) {
  std::map<std::string, std::string> out;
  const size_t want = catalog_size(bootstrap);
  std::vector<kafka_test::message> all;
  if (want > 0)
    all = kafka_test::read_topic(bootstrap, "isitup.checks", want, 60s, catalog_partitions, 60s);
  for (const auto& m : all) out[m.key] = m.value;
  if (messages) *messages = all.size();
  return out;
}

probe::probe(const test::temp_dir& dir, const std::string& bootstrap, const std::string& id,
             const std::string& location, const std::string& properties) {
  output = (dir / (id + ".jsonl")).string();
  const std::string path =
      dir.write(id + ".yml", "agent: {id: " + id + ", location: " + location + "}\n" +
                                 catalog_yaml(bootstrap, "probes-" + location, properties) +
                                 "sinks:\n  - plugin: stdout_sink\n    options: {output: \"" +
                                 output + "\"}\n");
  proc = std::make_unique<test::child_process>(
      std::vector<std::string>{agent_bin, "-c", path, "-p", plugin_dir});
}

std::vector<result> all_results(const std::vector<const probe*>& probes, int* produced_twice) {
  std::vector<result> out;
  std::map<std::pair<std::string, int64_t>, std::string> by_run;
  if (produced_twice) *produced_twice = 0;
  for (const probe* p : probes)
    for (result& r : p->results()) {
      auto [it, fresh] = by_run.emplace(std::make_pair(r.check, r.scheduled_at), r.agent);
      if (!fresh && produced_twice) ++*produced_twice;
      out.push_back(std::move(r));
    }
  return out;
}

std::set<std::string> checks_seen(const std::vector<result>& rs, int64_t scheduled_after) {
  std::set<std::string> out;
  for (const result& r : rs)
    if (r.scheduled_at > scheduled_after) out.insert(r.check);
  return out;
}

up_report up_since(const std::vector<result>& rs, int64_t from) {
  up_report out;
  for (const result& r : rs) {
    if (r.scheduled_at < from) continue;
    ++out.runs;
    if (r.up && r.http_code >= 200 && r.http_code < 300) {
      out.checks_up.insert(r.check);
    } else if (!r.up && r.error_kind == "timeout") {
      ++out.timed_out;
    } else if (out.failures.size() < 5) {
      out.failures.push_back(r.check + " at " + std::to_string(r.scheduled_at) + ": " +
                             (r.up ? "up" : r.error_kind) + " " + std::to_string(r.http_code));
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

catalog_test::catalog_test()
    : broker_(test::kafka_broker_options{brokers, {"isitup.checks:12"}, 0}) {}

std::string catalog_test::file(const std::string& name, const std::string& checks) {
  return dir_.write(name, "agent: {id: publisher}\n" + catalog_yaml(broker_.bootstrap()) + checks);
}

std::string catalog_test::url(const std::string& path) {
  if (!nginx_) {
    http::testing::nginx_server::options opts;
    opts.ipv6 = false;  // 127.0.0.1 only
    nginx_ = std::make_unique<http::testing::nginx_server>(opts);
    if (!nginx_->ok()) throw std::runtime_error("nginx did not start: " + nginx_->error());
  }
  return "http://127.0.0.1:" + std::to_string(nginx_->http_port) + "/" + path;
}

}  // namespace isitup::fleet_test
