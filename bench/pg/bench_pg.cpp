// isitup-bench-pg: rows/s into PostgreSQL through pg_sink (COPY into staging + INSERT ... ON
// CONFLICT DO NOTHING, batches of 500 from the host, up to 16 in flight) next to two baselines
// in the same run, against the same throwaway server (fsync on): raw COPY of the same rows
// into an identical table (same transaction size), and one INSERT per row in autocommit.
// bm_kafka_to_pg (kafka_to_pg.cpp) runs the same rows through a real writer agent from the
// development Kafka broker; bm_pg_sink_fast_path the same rows in-process with Kafka positions
// (the fast path: COPY straight into the table). Prints the ratios at the end. Not run in CI.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>

#include "bench_main.hpp"
#include "bench_pg.hpp"
#include "fake_host.hpp"
#include "pg_partitions.hpp"
#include "pg_schema.hpp"
#include "pg_writer.hpp"
#include "sample_record.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::bench_pg {

std::unique_ptr<test::pg_server> server;
std::vector<record> records;
int rows_per_run = 200'000;

// A fresh server writes and syncs each 16 MB WAL segment it fills until checkpoints recycle
// old ones: the case that ran first paid for that alone (raw COPY first: 130-138k rows/s at
// 200,000 rows; after the other cases: 162k). Fills ~320 MB of WAL and checkpoints before any
// case, so that every case writes into recycled segments.
static void warm_wal() {
  pqxx::connection c(server->conninfo());
  pqxx::nontransaction tx(c);
  tx.exec(
      "CREATE TABLE bench_wal_warmup AS SELECT g, repeat('x', 1000) AS pad FROM "
      "generate_series(1, 300000) g");
  tx.exec("DROP TABLE bench_wal_warmup");
  tx.exec("CHECKPOINT");
}

void truncate(const std::string& table) {
  pqxx::connection c(server->conninfo());
  pqxx::work tx(c);
  tx.exec("TRUNCATE " + table);
  tx.commit();
}

}  // namespace isitup::bench_pg

namespace {

using namespace isitup::bench_pg;

constexpr int host_batch = 500, txn_rows = 5000, insert_rows = 2000;

std::vector<isitup_record_v1> views;
std::vector<const isitup_record_v1*> pointers;

void make_rows() {
  constexpr int64_t start = 1'795'802'400'000;
  for (int i = 0; i < rows_per_run; ++i) {
    // DESIGN.md's sample (fixtures/sample_record.hpp), one of 1,000 sites every 30 s,
    // one in 50 down, without redirects or extra.
    isitup::record r = isitup::test::sample_record();
    r.check = "site-" + std::to_string(i % 1000) + ".example.com";
    r.target = "https://" + r.check + "/";
    r.scheduled_at_ms = start + int64_t{30'000} * (i / 1000);
    r.started_at_ms = r.scheduled_at_ms + 2;
    r.up = i % 50 != 0;
    if (!r.up) {
      r.error_kind = "http_status";
      r.error_message = "HTTP 503, expected 200";
    }
    r.http_code = r.up ? 200 : 503;
    r.total_ms = 41.0 + i % 17;
    r.regex_match = ISITUP_ABSENT_INT;
    r.tls_not_after_ms = start + 94LL * 86'400'000;
    r.redirects = ISITUP_ABSENT_INT;
    r.extra_json.clear();
    records.push_back(std::move(r));
  }
  for (const auto& r : records) views.push_back(r.view());
  for (const auto& v : views) pointers.push_back(&v);
}

// Completions of the batches in flight.
struct tracker {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, failed = 0;
  static void done(void* ctx, uint32_t status, const char*) {
    auto* t = static_cast<tracker*>(ctx);
    std::lock_guard lock(t->mu);
    --t->in_flight;
    if (status != ISITUP_OK) ++t->failed;
    t->cv.notify_all();
  }
};

// `positioned`: every batch carries its Kafka positions (one partition, following on), as a
// writer's source hands them over after a claim: the fast path. Else no positions: the slow
// path (staging + ON CONFLICT), as for an agent running checks straight into pg_sink.
void run_pg_sink(benchmark::State& state, bool positioned) {
  isitup::sdk::testing::fake_host host;
  const isitup_sink_ops_v1* ops = isitup_plugin_entry()->sink;
  const std::string table = positioned ? "bench_sink_fast" : "bench_sink";
  isitup::sdk::testing::fake_options options(
      ops->options, ops->option_count,
      {{"connection", server->uri()}, {"table", table}, {"batch_size", std::to_string(txn_rows)}});
  void* sink = nullptr;
  char err[512] = "";
  if (ops->create(host.table(), host.ctx(), options.raw(), &sink, err, sizeof err) != ISITUP_OK) {
    state.SkipWithError(err);
    return;
  }
  std::vector<isitup_batch_v1> batches;
  for (int i = 0; i < rows_per_run; i += host_batch)
    batches.push_back({sizeof(isitup_batch_v1), host_batch, pointers.data() + i,
                       static_cast<uint64_t>(i / host_batch), nullptr});
  {  // connect and migrate outside the measurement
    tracker t;
    t.in_flight = 1;
    isitup_batch_v1 one{sizeof(isitup_batch_v1), 1, pointers.data(), 0, nullptr};
    ops->write(sink, &one, &tracker::done, &t);
    std::unique_lock lock(t.mu);
    t.cv.wait(lock, [&] { return t.in_flight == 0; });
  }
  std::vector<isitup_position_v1> items(batches.size());
  std::vector<isitup_positions_v1> at(batches.size());
  tracker t;
  for (auto _ : state) {
    state.PauseTiming();
    truncate(table);
    if (positioned) {  // claimed again: reading on from where the stored rows end
      isitup_position_v1 one{sizeof(isitup_position_v1), 0, -1, -1, 0};
      isitup_positions_v1 claim{sizeof(isitup_positions_v1), "bench", "results", &one, 1};
      if (ops->claim_positions(sink, &claim, 10000, err, sizeof err) != ISITUP_OK) {
        state.SkipWithError(err);
        break;
      }
      const int64_t base = std::max<int64_t>(one.next_offset, 0);
      for (std::size_t i = 0; i < batches.size(); ++i) {
        const int64_t first = base + static_cast<int64_t>(i) * host_batch;
        items[i] = {sizeof(isitup_position_v1), 0, first, first + host_batch, one.epoch};
        at[i] = {sizeof(isitup_positions_v1), "bench", "results", &items[i], 1};
        batches[i].positions = &at[i];
      }
    }
    state.ResumeTiming();
    for (const isitup_batch_v1& b : batches) {
      std::unique_lock lock(t.mu);
      t.cv.wait(lock, [&] { return t.in_flight < 16; });
      ++t.in_flight;
      lock.unlock();
      ops->write(sink, &b, &tracker::done, &t);
    }
    std::unique_lock lock(t.mu);
    t.cv.wait(lock, [&] { return t.in_flight == 0; });
  }
  ops->destroy(sink);
  if (t.failed) state.SkipWithError("a batch failed");
  if (positioned && host.counter("fast_path") == 0) state.SkipWithError("no fast path");
  state.SetItemsProcessed(state.iterations() * rows_per_run);
}

void bm_pg_sink(benchmark::State& state) { run_pg_sink(state, false); }
void bm_pg_sink_fast_path(benchmark::State& state) { run_pg_sink(state, true); }

// The partition of the records' day (pg_sink makes it on demand; the baselines write by SQL).
void make_partitions(pqxx::connection& c, const isitup::pg::table_names& names) {
  pqxx::work tx(c);
  isitup::pg::ensure_partitions_between(tx, names, isitup::pg::quoted_names(c, names),
                                        isitup::pg::day_ms, 1'795'737'600'000,
                                        1'795'737'600'000 + isitup::pg::day_ms);
  tx.commit();
}

void bm_raw_copy(benchmark::State& state) {
  pqxx::connection c(server->conninfo());
  isitup::pg::migrate(c, {"public", "bench_copy"});
  make_partitions(c, {"public", "bench_copy"});
  const std::string table = isitup::pg::quoted_names(c, {"public", "bench_copy"}).table;
  isitup::pg::write_stats stats;
  for (auto _ : state) {
    state.PauseTiming();
    truncate(table);
    state.ResumeTiming();
    for (int i = 0; i < rows_per_run; i += txn_rows) {
      const std::vector<const isitup_record_v1*> chunk(pointers.begin() + i,
                                                       pointers.begin() + i + txn_rows);
      pqxx::work tx(c);
      isitup::pg::copy_into(tx, table, chunk, stats);
      tx.commit();
    }
  }
  state.SetItemsProcessed(state.iterations() * rows_per_run);
}

void bm_insert_per_row(benchmark::State& state) {
  pqxx::connection c(server->conninfo());
  isitup::pg::migrate(c, {"public", "bench_insert"});
  make_partitions(c, {"public", "bench_insert"});
  const std::string sql =
      "INSERT INTO bench_insert (agent, location, check_name, plugin, target, scheduled_at, "
      "started_at, status, http_code, total_ms) VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / "
      "1000.0), to_timestamp($7 / 1000.0), $8, $9, $10)";
  for (auto _ : state) {
    state.PauseTiming();
    truncate("bench_insert");
    state.ResumeTiming();
    for (int i = 0; i < insert_rows; ++i) {
      const isitup::record& r = records[i];
      pqxx::nontransaction tx(c);
      tx.exec_params(sql, r.agent, r.location, r.check, r.plugin, r.target, r.scheduled_at_ms,
                     r.started_at_ms, r.up ? "up" : "down", r.http_code, r.total_ms);
    }
  }
  state.SetItemsProcessed(state.iterations() * insert_rows);
}

BENCHMARK(bm_pg_sink)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(bm_pg_sink_fast_path)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(bm_raw_copy)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(bm_insert_per_row)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// The rates and their ratios to the baselines of the same run, and the storage figures.
void print_ratios(const isitup::bench::recording_reporter& reporter) {
  const double kafka = reporter.counter("bm_kafka_to_pg", "items_per_second");
  const double kafka_off = reporter.counter("bm_kafka_to_pg_state_off", "items_per_second");
  const double sink = reporter.counter("bm_pg_sink", "items_per_second");
  const double sink_fast = reporter.counter("bm_pg_sink_fast_path", "items_per_second");
  const double copy = reporter.counter("bm_raw_copy", "items_per_second");
  const double insert = reporter.counter("bm_insert_per_row", "items_per_second");
  std::FILE* out = reporter.table();
  std::fprintf(
      out,
      "\nrows/s: pg_sink from Kafka (writer agent) %.0f, pg_sink in-process %.0f (fast path "
      "%.0f), raw COPY %.0f, INSERT per row %.0f\n",
      kafka, sink, sink_fast, copy, insert);
  const auto ratios = [&](const char* what, double rate) {
    if (rate > 0 && copy > 0 && insert > 0)
      std::fprintf(out,
                   "%s / raw COPY = %.2f (target >= 0.8); / INSERT per row = %.1f (target >= 30)\n",
                   what, rate / copy, rate / insert);
  };
  ratios("pg_sink from Kafka", kafka);
  if (kafka > 0 && kafka_off > 0)
    std::fprintf(out,
                 "pg_sink from Kafka, alert state on %.0f / off %.0f = %.2f (target >= 0.90)\n",
                 kafka, kafka_off, kafka / kafka_off);
  ratios("pg_sink in-process", sink);
  ratios("pg_sink in-process, fast path", sink_fast);
  const double plain = reporter.counter("bm_kafka_to_pg_unpartitioned", "items_per_second");
  if (kafka_off > 0 && plain > 0)
    std::fprintf(out,
                 "pg_sink from Kafka (state off), partitioned %.0f / unpartitioned %.0f = %.2f "
                 "(target >= 0.90)\n",
                 kafka_off, plain, kafka_off / plain);
  // Each table holds the rows of its own case: asked only when that case ran.
  try {
    const bool partitioned = kafka > 0 || kafka_off > 0;
    std::string sizes;
    if (partitioned)
      sizes += "partitioned " +
               std::to_string(std::lround(isitup::bench_pg::bytes_per_result("bench_kafka")));
    if (plain > 0)
      sizes += std::string(partitioned ? ", " : "") + "unpartitioned " +
               std::to_string(std::lround(isitup::bench_pg::bytes_per_result("bench_kafka_plain")));
    if (!sizes.empty())
      std::fprintf(out, "bytes per stored result (table + indexes), %d writer rows: %s\n",
                   isitup::bench_pg::rows_per_run, sizes.c_str());
  } catch (const std::exception& e) {
    std::fprintf(out, "bytes per stored result: %s\n", e.what());
  }
  const isitup::bench_pg::history_setup& h = isitup::bench_pg::history_figures();
  const double from_rollups = reporter.counter("bm_history_90d_rollups", "query_ms");
  const double from_raw = reporter.counter("bm_history_90d_raw", "query_ms");
  if (h.rows > 0)
    std::fprintf(out,
                 "90 days x 1,000 checks: %lld raw rows (loaded in %.1f s, rolled up in %.1f s); "
                 "bytes per result: raw %.0f, rollups %.1f\n",
                 static_cast<long long>(h.rows), h.load_s, h.roll_up_s, h.raw_bytes_per_result,
                 h.rollup_bytes_per_result);
  if (from_rollups > 0 && from_raw > 0)
    std::fprintf(out,
                 "uptime and p95 per check over 90 days: rollups %.1f ms (target < 200), raw "
                 "rows %.0f ms, raw / rollups = %.0f\n",
                 from_rollups, from_raw, from_raw / from_rollups);
}

}  // namespace

int main(int argc, char** argv) {
  if (const auto rows = isitup::bench::take_flag(argc, argv, "rows")) {
    rows_per_run = std::atoi(rows->c_str());
    if (rows_per_run < 10'000 || rows_per_run > 500'000 || rows_per_run % txn_rows != 0) {
      std::fprintf(stderr, "--rows: expected a multiple of %d from 10000 to 500000, got %s\n",
                   txn_rows, rows->c_str());
      return 2;
    }
  }
  const int status = isitup::bench::run_benchmarks(argc, argv, print_ratios, [] {
    // Commit timestamps date the last row bm_kafka_to_pg's writer agent committed.
    server = std::make_unique<isitup::test::pg_server>(
        isitup::test::pg_server_options{true, {"track_commit_timestamp=on"}});
    isitup::bench_pg::warm_wal();
    make_rows();
  });
  stop_kafka();
  server.reset();
  return status;
}
