// isitup-bench-kafka: what the Kafka path costs.
// - codec: ns to encode a typical http_check record to v1 JSON, and to decode + validate it,
//   against copying the same JSON string (the floor any codec pays).
// - producer: results/s that kafka_sink's producer makes durable (delivery reports for every
//   message) into the development broker (isitup-kafka-dev, a separate process), against a
//   bare librdkafka producer with the same settings sending pre-encoded JSON.
// Target: the Kafka path is never the bottleneck below 100k results/s on 2 cores.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <isitup/core/codec.hpp>
#include <isitup/core/record.hpp>
#include "bench_main.hpp"
#include "cpu_time.hpp"
#include "fake_host.hpp"
#include "kafka_broker.hpp"
#include "kafka_producer.hpp"
#include "sample_record.hpp"
#include "tls_certs.hpp"

namespace {

using isitup::record;
using isitup::bench::process_cpu_seconds;

// DESIGN.md's sample (fixtures/sample_record.hpp) as a probe sends it: no redirect, no
// extra, one of 10,000 checks, a millisecond apart.
record typical(int i) {
  record r = isitup::test::sample_record();
  r.check = "shop-" + std::to_string(i % 10000);
  r.scheduled_at_ms = isitup::test::sample_scheduled_ms + i;
  r.started_at_ms = r.scheduled_at_ms + 2;
  r.tls_not_after_ms = 1'803'945'600'000;
  r.redirects = ISITUP_ABSENT_INT;
  r.extra_json.clear();
  return r;
}

void codec_copy_baseline(benchmark::State& state) {
  std::string json;
  isitup::codec::encode(typical(1), json);
  for (auto _ : state) {
    std::string copy = json;
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetLabel(std::to_string(json.size()) + " bytes");
}
BENCHMARK(codec_copy_baseline);

void codec_encode(benchmark::State& state) {
  const record r = typical(1);
  const isitup_record_v1 v = r.view();
  std::string out;
  for (auto _ : state) {
    out.clear();
    isitup::codec::encode(v, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(codec_encode);

void codec_decode_validate(benchmark::State& state) {
  std::string json;
  isitup::codec::encode(typical(1), json);
  record r;
  std::string error;
  for (auto _ : state) {
    const bool ok = isitup::codec::decode(json, r, error);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(codec_decode_validate);

// CPU seconds this process used so far, every thread (the broker is another process).
// The producer side's whole CPU cost per result: the caller, the sink's worker and
// librdkafka's threads. Unlike wall time it barely moves with the load of the machine.
void set_cpu_per_result(benchmark::State& state, double cpu_before, int64_t results) {
  state.counters["cpu_ns_per_result"] =
      results ? (process_cpu_seconds() - cpu_before) * 1e9 / static_cast<double>(results) : 0;
}

// One broker for the whole run.
isitup::test::kafka_broker& broker() {
  static isitup::test::kafka_broker b({.brokers = 1, .topics = {"bench:4", "bare:4"}, .port = 0});
  return b;
}

// Certificates and a broker that requires mutual TLS, for the TLS cases; made once.
struct tls_setup {
  isitup::test::temp_dir dir;
  isitup::test::tls_certs certs{dir.path()};
  isitup::test::kafka_broker broker{{.brokers = 1, .topics = {"bench:4", "bare:4"}, .port = 0},
                                    {certs.server_cert, certs.server_key, certs.ca}};
  std::vector<std::pair<std::string, std::string>> client() const {
    return {{"security.protocol", "ssl"},
            {"ssl.ca.location", certs.ca},
            {"ssl.certificate.location", certs.client_cert},
            {"ssl.key.location", certs.client_key}};
  }
};
tls_setup& tls() {
  static tls_setup t;
  return t;
}

constexpr int batch_size = 500;
constexpr int window = 40;  // batches in flight, as the pipeline keeps them

// Waits for completions; counts batches done.
struct completions {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  void add(bool ok) {
    std::lock_guard lock(mu);
    ++done;
    failed += !ok;
    cv.notify_all();
  }
  void wait_until(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done >= n; });
  }
};

void run_bare_librdkafka(benchmark::State& state, bool over_tls) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", over_tls ? tls().broker.bootstrap() : broker().bootstrap()},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.type", "lz4"},
      {"linger.ms", "10"}};
  if (over_tls)
    for (const auto& p : tls().client()) props.push_back(p);
  for (const auto& [k, v] : props) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
  completions c;
  rd_kafka_conf_set_opaque(conf, &c);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* o) {
    static_cast<completions*>(o)->add(m->err == 0);
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  std::vector<std::string> values;
  for (int i = 0; i < batch_size; ++i) {
    values.emplace_back();
    isitup::codec::encode(typical(i), values.back());
  }
  std::atomic<bool> polling{true};
  std::thread poller([&] {
    while (polling) rd_kafka_poll(rk, 50);
  });
  int sent = 0;
  const double cpu_before = process_cpu_seconds();
  for (auto _ : state) {
    c.wait_until(sent - window * batch_size);
    for (const std::string& v : values)
      rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("bare"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_END);
    sent += batch_size;
  }
  c.wait_until(sent);
  set_cpu_per_result(state, cpu_before, sent);
  polling = false;
  poller.join();
  rd_kafka_destroy(rk);
  state.SetItemsProcessed(sent);
  state.counters["failed"] = c.failed;
}
void producer_bare_librdkafka(benchmark::State& state) { run_bare_librdkafka(state, false); }
BENCHMARK(producer_bare_librdkafka)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
void producer_bare_librdkafka_tls(benchmark::State& state) { run_bare_librdkafka(state, true); }
BENCHMARK(producer_bare_librdkafka_tls)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

void run_kafka_sink(benchmark::State& state, bool validate, bool over_tls = false) {
  isitup::sdk::testing::fake_host host;
  host.to_json = [](const isitup_record_v1& r) {
    std::string out;
    isitup::codec::encode(r, out);
    return out;
  };
  host.parse = [](std::string_view json,
                  std::string& error) -> std::shared_ptr<const isitup_record_v1> {
    auto holder = std::make_shared<std::pair<record, isitup_record_v1>>();
    if (!isitup::codec::decode(json, holder->first, error)) return nullptr;
    holder->second = holder->first.view();
    return {holder, &holder->second};
  };
  const auto decl = isitup::sdk::detail::to_c(isitup::kafka::producer_options());
  isitup::sdk::testing::option_map given = {
      {"brokers", over_tls ? tls().broker.bootstrap() : broker().bootstrap()},
      {"topic", "bench"},
      {"validate", validate ? "true" : "false"}};
  if (over_tls) given["properties"] = isitup::sdk::testing::map_value(tls().client());
  isitup::sdk::testing::fake_options opts(decl.data(), decl.size(), given);
  isitup::kafka::producer_sink sink(isitup::sdk::host(host.table(), host.ctx()),
                                    isitup::sdk::options_view(host.table(), opts.raw()));
  std::vector<record> records;
  records.reserve(batch_size);
  for (int i = 0; i < batch_size; ++i) records.push_back(typical(i));
  std::vector<isitup_record_v1> views;
  views.reserve(records.size());
  for (const record& r : records) views.push_back(r.view());
  std::vector<const isitup_record_v1*> pointers;
  pointers.reserve(views.size());
  for (const auto& v : views) pointers.push_back(&v);
  const isitup_batch_v1 batch{sizeof(isitup_batch_v1), pointers.size(), pointers.data(), 1,
                              nullptr};
  completions c;
  const auto on_done = [](void* ctx, uint32_t status, const char*) {
    static_cast<completions*>(ctx)->add(status == ISITUP_OK);
  };
  int sent = 0;
  const double cpu_before = process_cpu_seconds();
  for (auto _ : state) {
    c.wait_until(sent - window);
    sink.write(isitup::sdk::batch_view(&batch), isitup::sdk::batch_done(on_done, &c));
    ++sent;
  }
  c.wait_until(sent);
  set_cpu_per_result(state, cpu_before, static_cast<int64_t>(sent) * batch_size);
  state.SetItemsProcessed(static_cast<int64_t>(sent) * batch_size);
  state.counters["failed_batches"] = c.failed;
}
void producer_kafka_sink(benchmark::State& state) { run_kafka_sink(state, true); }
BENCHMARK(producer_kafka_sink)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

// validate: false skips the decode + validate of each encoded record.
void producer_kafka_sink_no_validate(benchmark::State& state) { run_kafka_sink(state, false); }
BENCHMARK(producer_kafka_sink_no_validate)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3);

// The default sink (validate: true) to the mutual-TLS broker.
void producer_kafka_sink_tls(benchmark::State& state) { run_kafka_sink(state, true, true); }
BENCHMARK(producer_kafka_sink_tls)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

// Each measurement against its baseline, once every benchmark ran: per result, CPU time for
// the codec (or items_per_second when the case counts items), wall time for the producer.
void print_ratios(const isitup::bench::recording_reporter& reporter) {
  std::FILE* out = reporter.table();
  auto show = [&](const char* what, const char* base, const char* unit_name) {
    const double w = reporter.per_item_ns(what), b = reporter.per_item_ns(base);
    if (w <= 0 || b <= 0) return;
    std::fprintf(out, "%-32s %8.0f ns/result  %6.1fx %s\n", what, w, w / b, unit_name);
  };
  std::fprintf(out,
               "\nper result (codec: CPU time; producer: wall time for durable delivery), and the "
               "ratio to its baseline in this run:\n");
  show("codec_encode", "codec_copy_baseline", "a string copy");
  show("codec_decode_validate", "codec_copy_baseline", "a string copy");
  show("producer_kafka_sink", "producer_bare_librdkafka", "bare librdkafka (pre-encoded)");
  show("producer_kafka_sink_no_validate", "producer_bare_librdkafka",
       "bare librdkafka (pre-encoded)");
  show("producer_bare_librdkafka_tls", "producer_bare_librdkafka", "bare librdkafka plaintext");
  show("producer_kafka_sink_tls", "producer_kafka_sink", "kafka_sink plaintext");
  std::fprintf(out, "\nproducer CPU per result, every thread of the producing process:\n");
  const double bare_cpu = reporter.counter("producer_bare_librdkafka", "cpu_ns_per_result");
  for (const char* what :
       {"producer_kafka_sink", "producer_kafka_sink_no_validate", "producer_kafka_sink_tls"}) {
    const double cpu = reporter.counter(what, "cpu_ns_per_result");
    if (cpu > 0 && bare_cpu > 0)
      std::fprintf(out, "%-32s %8.0f ns/result  %6.1fx bare librdkafka (%.0f ns)\n", what, cpu,
                   cpu / bare_cpu, bare_cpu);
  }
  const double plain = reporter.per_item_ns("producer_kafka_sink"),
               tls = reporter.per_item_ns("producer_kafka_sink_tls");
  if (plain > 0)
    std::fprintf(out, "kafka_sink producer: %.0f results/s durable (target: > 100000)\n",
                 1e9 / plain);
  if (plain > 0 && tls > 0)
    std::fprintf(out,
                 "kafka_sink over mutual TLS: %.0f results/s durable, %.2fx plaintext (target: "
                 ">= 0.7x)\n",
                 1e9 / tls, plain / tls);
}

}  // namespace

int main(int argc, char** argv) { return isitup::bench::run_benchmarks(argc, argv, print_ratios); }
