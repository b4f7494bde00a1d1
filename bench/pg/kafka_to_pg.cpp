// bm_kafka_to_pg: the writer path as deployed. The development broker (isitup-kafka-dev, a
// separate process) holds the benchmark's rows_per_run v1 records on one topic, produced once
// by a plain librdkafka producer (lz4, keyed by check, as kafka_sink produces them; not timed).
// Each iteration starts a real isitup-agent process configured as config/writer.yml (kafka
// source -> pg_sink, default batch settings) in a fresh consumer group, so it reads every
// record again, and waits (bounded) until every row is in PostgreSQL.
//
// Timed: from the moment the writer owns every partition (the timestamp of its "assigned
// partitions" log line) to the COMMIT of its last row (PostgreSQL's commit timestamp), i.e.
// the sustained rate, without process start-up and the group join (reported apart as
// startup_s; from_spawn_rows_per_s includes them). writer_cpu_us_per_row is the agent's
// CPU time (user + system, start-up included) per row. An iteration fails with an error when
// a row is missing or when the writer delivered a record twice (its final status line).
// ISITUP_BENCH_TIMELINE=1 prints every transaction of the writer (ms after it was running:
// rows) and its log: gaps there are where the writer path waits.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <isitup/core/codec.hpp>
#include "bench_pg.hpp"
#include "cpu_time.hpp"
#include "kafka_broker.hpp"
#include "pg_schema.hpp"
#include "process.hpp"

namespace isitup::bench_pg {
namespace {

using namespace std::chrono_literals;

constexpr int partitions = 8;
const std::string topic = "bench.results";
// The table the writer runs write into: partitioned (as pg_sink makes it), or the same table
// made plain again by hand (bm_kafka_to_pg_unpartitioned, the baseline of partitioning).
std::string table = "bench_kafka";

std::unique_ptr<test::kafka_broker> broker;
std::unique_ptr<test::temp_dir> dir;

double wall_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string tail(const std::string& s, std::size_t n = 3000) {
  return s.size() > n ? s.substr(s.size() - n) : s;
}

// Produces every record once, keyed by its check, and checks that the broker kept them all
// (the mock cluster drops a partition's oldest messages beyond about 5 MB).
void preload() {
  const std::string reply = broker->command("create " + topic + " " + std::to_string(partitions));
  if (reply.rfind("ok", 0) != 0) throw std::runtime_error("create topic: " + reply);
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [k, v] : {std::pair{"bootstrap.servers", broker->bootstrap().c_str()},
                      {"enable.idempotence", "true"},
                      {"acks", "all"},
                      {"compression.type", "lz4"},
                      {"linger.ms", "10"},
                      {"queue.buffering.max.messages", "200000"}})
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(err);
  std::atomic<int> failed{0};
  rd_kafka_conf_set_opaque(conf, &failed);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* o) {
    if (m->err) static_cast<std::atomic<int>*>(o)->fetch_add(1);
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  std::string value;
  for (const record& r : records) {
    value.clear();
    codec::encode(r, value);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(r.check.data(), r.check.size()),
                                  RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 10);
    if (e) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(e));
    rd_kafka_poll(rk, 0);
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 60'000);
  int64_t kept = 0, dropped = 0;
  for (int p = 0; p < partitions && !flushed; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10'000) == 0) {
      kept += high - low;
      dropped += low;
    }
  }
  rd_kafka_destroy(rk);
  if (flushed || failed || kept != rows_per_run || dropped)
    throw std::runtime_error("preloading the topic failed: " + std::to_string(failed.load()) +
                             " delivery errors, " + std::to_string(kept) + " kept, " +
                             std::to_string(dropped) + " dropped by the broker");
}

void start_kafka() {
  if (broker) return;
  dir = std::make_unique<test::temp_dir>();
  broker = std::make_unique<test::kafka_broker>(test::kafka_broker_options{});
  preload();
  pqxx::connection c(server->conninfo());
  // Once, so that every iteration starts alike; by name, not `table`: the unpartitioned case
  // may come first (--benchmark_enable_random_interleaving), and it makes its own table.
  pg::migrate(c, {"public", "bench_kafka"});
}

// config/writer.yml with the benchmark's broker, topic, group and table; every batch setting
// at its default (source 500 records / 100 ms, pipeline queue 10000, pg_sink 5000 rows).
// With `alerts` false, defaults.alert.enabled is false: the writer keeps no check state, so
// pg_sink stores none (the state-off baseline of the same run).
std::string writer_config(const std::string& group, bool alerts) {
  return dir->write(group + ".yml",
                    std::string("agent: {id: bench-writer}\n") +
                        (alerts ? "" : "defaults: {alert: {enabled: false}}\n") +
                        "sources:\n  - plugin: kafka_sink\n    options: {brokers: \"" +
                        broker->bootstrap() + "\", topic: " + topic + ", group: " + group +
                        ", start_from: earliest, properties: {session.timeout.ms: \"6000\"}}\n"
                        "sinks:\n  - plugin: pg_sink\n    options: {connection: \"" +
                        server->uri() + "\", table: " + table +
                        // The records are of 2026-11-27: kept whatever the date.
                        ", retention: \"0\", connect_timeout: 5s, reconnect_backoff_max: 2s}\n");
}

// The log timestamp (epoch ms) of the writer's "assigned partitions" line naming every
// partition, or a negative number while there is none.
double assigned_at_ms(const std::string& log) {
  static const std::regex line(R"((\S+) \S+\s+\[[^\]]*\] assigned partitions \[([0-9,]*)\])");
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    const std::string parts = (*it)[2];
    int64_t ms = 0;
    if (std::count(parts.begin(), parts.end(), ',') == partitions - 1 &&
        codec::parse_time_ms((*it)[1].str(), ms))
      return static_cast<double>(ms);
  }
  return -1;
}

int64_t count_rows(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  return tx.exec1("SELECT count(*) FROM " + table)[0].as<int64_t>();
}

// The records group `group` has stored, by the positions it commits with its rows (one row per
// partition): asked every 100 ms while the writer runs, where count(*) of the results table
// scanned up to 200,000 rows (and set their hint bits) each time, on the writer's CPUs.
int64_t stored_positions(pqxx::connection& c, const std::string& group) {
  pqxx::nontransaction tx(c);
  return tx
      .exec_params1("SELECT coalesce(sum(next_offset), 0) FROM " + table +
                        "_offsets WHERE consumer_group = $1",
                    group)[0]
      .as<int64_t>();
}

// With ISITUP_BENCH_TIMELINE set: every transaction of the writer, ms after it was running.
void print_timeline(pqxx::connection& c, double running_ms) {
  pqxx::nontransaction tx(c);
  std::fprintf(stderr, "writer transactions (ms after running: rows):");
  for (const auto& row :
       tx.exec("SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 AS t, count(*) "
               "FROM " +
               table + " GROUP BY 1 ORDER BY 1"))
    std::fprintf(stderr, " %.0f:%ld", row[0].as<double>() - running_ms, row[1].as<long>());
  std::fprintf(stderr, "\n");
}

struct writer_run {
  double startup_s, sustained_s, cpu_s;
};

// One writer run, or throws with the reason.
writer_run run_writer(int n, bool alerts) {
  const std::string group = "bench-writers-" + std::to_string(n);
  const std::string cfg = writer_config(group, alerts);
  truncate(table);
  {  // the alert state of the previous run would make this run's results old news
    pqxx::connection c(server->conninfo());
    pqxx::work tx(c);
    tx.exec("TRUNCATE " + table + "_alert_state, " + table + "_events, " + table + "_incidents, " +
            table + "_outbox");
    tx.commit();
  }
  pqxx::connection c(server->conninfo());
  const double spawned = wall_ms();
  test::child_process agent(
      {std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent", "-c", cfg, "-p", ISITUP_PLUGIN_DIR});
  double running = -1;
  for (const auto until = std::chrono::steady_clock::now() + 30s; running < 0;) {
    if (std::chrono::steady_clock::now() > until || !agent.running())
      throw std::runtime_error("the writer did not get the partitions in 30 s: " +
                               tail(agent.err()));
    std::this_thread::sleep_for(5ms);
    running = assigned_at_ms(agent.err());
  }
  int64_t rows = 0;
  for (const auto until = std::chrono::steady_clock::now() + 120s; rows < rows_per_run;) {
    if (std::chrono::steady_clock::now() > until || !agent.running())
      throw std::runtime_error(std::to_string(rows_per_run - rows) + " of " +
                               std::to_string(rows_per_run) +
                               " rows missing after 120 s: " + tail(agent.err()));
    std::this_thread::sleep_for(100ms);
    rows = stored_positions(c, group);
  }
  const double last_commit = [&] {
    pqxx::nontransaction tx(c);
    return tx
        .exec1("SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) * 1000 FROM " +
               table)[0]
        .as<double>();
  }();
  const double cpu = bench::process_cpu(agent.pid()).total();
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in the benchmarks sets the environment
  if (std::getenv("ISITUP_BENCH_TIMELINE")) {
    print_timeline(c, running);
    std::fprintf(stderr, "%s", agent.err().c_str());
  }
  agent.signal(SIGTERM);
  const int code = agent.wait(30s);
  const std::string log = agent.err();
  std::smatch m;
  static const std::regex status(R"(status: .* delivered (\d+), lost (\d+))");
  std::string::const_iterator from = log.begin();
  std::string delivered = "?", lost = "?";
  while (std::regex_search(from, log.end(), m, status)) {  // the last status line
    delivered = m[1];
    lost = m[2];
    from = m[0].second;
  }
  rows = count_rows(c);
  if (code != 0 || rows != rows_per_run || delivered != std::to_string(rows_per_run) || lost != "0")
    throw std::runtime_error("writer exit " + std::to_string(code) + ", rows " +
                             std::to_string(rows) + ", delivered " + delivered + ", lost " + lost +
                             " (want " + std::to_string(rows_per_run) + "): " + tail(log));
  // State on: every check's state is stored (and the always-down checks' incidents); off: none.
  const int64_t states = [&] {
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM " + table + "_alert_state")[0].as<int64_t>();
  }();
  if ((states > 0) != alerts)
    throw std::runtime_error("alert state " + std::string(alerts ? "on" : "off") + " but " +
                             std::to_string(states) + " check states stored");
  return {(running - spawned) / 1000, (last_commit - running) / 1000, cpu};
}

// bench_kafka_plain: pg_sink's tables (migrated by a first connection), with the results table
// made a plain table with the same columns and indexes again.
void make_plain_table() {
  pqxx::connection c(server->conninfo());
  pg::migrate(c, {"public", "bench_kafka_plain"});
  pqxx::work tx(c);
  tx.exec("DROP TABLE bench_kafka_plain CASCADE");
  tx.exec("CREATE TABLE bench_kafka_plain" + pg::result_table_definition());
  tx.exec("CREATE INDEX ON bench_kafka_plain (check_name, scheduled_at DESC)");
  tx.exec("CREATE INDEX ON bench_kafka_plain USING brin (scheduled_at)");
  tx.commit();
}

void kafka_to_pg(benchmark::State& state, bool alerts) {
  static int runs = 0;
  double startup = 0, total = 0, cpu = 0;
  try {
    start_kafka();
    for (auto _ : state) {
      const writer_run r = run_writer(++runs, alerts);
      state.SetIterationTime(r.sustained_s);
      startup += r.startup_s;
      total += r.startup_s + r.sustained_s;
      cpu += r.cpu_s;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * rows_per_run);
  state.counters["startup_s"] = startup / n;
  state.counters["from_spawn_rows_per_s"] = n * rows_per_run / total;
  state.counters["writer_cpu_us_per_row"] = cpu * 1e6 / (n * rows_per_run);
}

}  // namespace

void stop_kafka() {
  broker.reset();
  dir.reset();
}

// The writer as deployed: alert state on (kept by pg_sink in the rows' transactions).
void bm_kafka_to_pg(benchmark::State& state) { kafka_to_pg(state, true); }
// The same with defaults.alert.enabled false: no state, nothing but the rows.
void bm_kafka_to_pg_state_off(benchmark::State& state) { kafka_to_pg(state, false); }
// The same into a plain (unpartitioned) results table: the baseline of partitioning.
void bm_kafka_to_pg_unpartitioned(benchmark::State& state) {
  try {
    make_plain_table();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  table = "bench_kafka_plain";
  kafka_to_pg(state, false);
  table = "bench_kafka";
}

BENCHMARK(bm_kafka_to_pg)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(2);
BENCHMARK(bm_kafka_to_pg_state_off)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(2);
BENCHMARK(bm_kafka_to_pg_unpartitioned)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(2);

}  // namespace isitup::bench_pg

namespace isitup::bench_pg {

double bytes_per_result(const std::string& name) {
  pqxx::connection c(server->conninfo());
  pqxx::nontransaction tx(c);
  return tx
      .exec1("SELECT (SELECT pg_total_relation_size('" + name +
             "'::regclass) + coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM"
             " pg_inherits WHERE inhparent = '" +
             name + "'::regclass)::float8 / nullif((SELECT count(*) FROM " + name + "), 0)")[0]
      .as<double>(0);
}

}  // namespace isitup::bench_pg
