// isitup-bench-fleet: the probe fleet (catalog mode) against the same checks from a file.
//
//  - bm_catalog_join/N: an agent joins a fresh group of a catalog of N http_checks (32
//    partitions, all assigned to it); the time from its "assigned catalog partitions" line to
//    its "catalog: N checks" line (all N scheduled). Baseline bm_domains_file_start/N: an agent
//    started on a domains_file of the same N URLs, from its start to its "running N checks"
//    line. Counters: cpu_ms (the agent's scheduler thread at that moment), and for the catalog
//    from_start_ms (process start to all scheduled, with the group join) and
//    catalog_thread_cpu_ms (kafka_sink's thread that reads the messages), and the load average.
//  - bm_three_agents/catalog and /split: checks/s of 3 agents that share a catalog of M
//    noop_checks (one group) against 3 agents with a third of the checks each in their config;
//    results counted in the agents' output files over a window once every check is scheduled.
//
// Starts its own broker (isitup-kafka-dev) and agents (separate processes); built with the
// tests, not run in CI.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "bench_main.hpp"
#include "cpu_time.hpp"
#include "kafka_broker.hpp"
#include "process.hpp"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using isitup::test::child_process;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
const std::string bench_plugin_dir = std::string(ISITUP_BINARY_DIR) + "/bench-plugins";
constexpr int partitions = 32;  // the broker keeps ~5 MB per partition: 100k checks fit
const std::string properties = "{session.timeout.ms: \"6000\", heartbeat.interval.ms: \"500\"}";
// bm_three_agents: the issue's 100,000 checks over 3 agents, noop_checks every 10 s, counted
// over one interval (every check runs once in it).
constexpr int fleet_checks = 100000;
const std::string fleet_interval = "10s";
constexpr auto window = 10s;

std::unique_ptr<isitup::test::kafka_broker> broker;
std::unique_ptr<isitup::test::temp_dir> dir;
std::string noop_plugins;  // a plugin dir with kafka_sink, stdout_sink and noop_check
int groups = 0;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The time of a log line ("2026-12-03T02:04:54.168Z info ...") in ms since the epoch.
std::optional<int64_t> line_ms(const std::string& line) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(line.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// The time of the first line of `log` that matches `re`.
std::optional<int64_t> first_match(const std::string& log, const std::regex& re) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, re)) return line_ms(line);
  return std::nullopt;
}

// The number in the last line of `log` that matches `re` (one capture).
std::optional<long> last_number(const std::string& log, const std::regex& re) {
  std::optional<long> out;
  std::istringstream in(log);
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, re)) out = std::stol(m[1].str());
  return out;
}

// The agent's main thread (the scheduler's) in ms of CPU.
double thread_cpu_ms(pid_t pid) { return 1000.0 * isitup::bench::thread_cpu(pid, pid).total(); }

// The agent's threads named `name` (kafka_sink's catalog thread: "isitup-catalog"), in ms of CPU.
double named_threads_cpu_ms(pid_t pid, const std::string& name) {
  double ms = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string got;
    std::getline(comm, got);
    if (got != name) continue;
    const pid_t tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
    ms += 1000.0 * isitup::bench::thread_cpu(pid, tid).total();
  }
  return ms;
}

// The 1-minute load average: the machine's share the agent got (the wall time depends on it,
// the scheduler thread's CPU does not).
double load_average() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : 0;
}

// Waits until `done(stderr so far)` holds; false after `timeout`.
template <class F>
bool wait_log(child_process& p, F done, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done(p.err())) {
    if (std::chrono::steady_clock::now() > until || !p.running()) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

void stop(child_process& p) {
  if (!p.running()) return;
  p.signal(SIGTERM);
  p.wait(20s);
}

std::string catalog_section(const std::string& topic, const std::string& group = "") {
  return "catalog: {plugin: kafka_sink, options: {brokers: \"" + broker->bootstrap() +
         "\", topic: " + topic + (group.empty() ? "" : ", group: " + group) +
         ", properties: " + properties + "}}\n";
}

// The domains_file of N URLs (a closed port: runs end at once), and the catalog made equal to
// it, once per N.
std::string domains_file(long n) {
  std::string path = (*dir / ("domains-" + std::to_string(n) + ".txt")).string();
  if (fs::exists(path)) return path;
  std::ofstream out(path);
  for (long i = 0; i < n; ++i) out << "http://127.0.0.1:9/c" << i << "\n";
  return path;
}

bool publish(const std::string& file_text, const std::string& plugins, std::string& error) {
  const std::string path = dir->write("publish.yml", file_text);
  const auto r = isitup::test::run({agent_bin, "--publish-checks", path, "-p", plugins}, 300s);
  if (r.code != 0) error = r.err;
  return r.code == 0;
}

long published_domains = 0;

void bm_catalog_join(benchmark::State& state) {
  const long n = state.range(0);
  if (published_domains != n) {
    std::string error;
    if (!publish(catalog_section("isitup.checks") + "domains_file: " + domains_file(n) + "\n",
                 plugin_dir, error)) {
      state.SkipWithError(("publish failed: " + error).c_str());
      return;
    }
    published_domains = n;
  }
  const std::regex assigned("assigned catalog partitions");
  const std::regex all("catalog: " + std::to_string(n) + " checks");
  double cpu = 0, reader_cpu = 0, from_start = 0, load = 0;
  for (auto _ : state) {
    const std::string group = "bench-" + std::to_string(++groups);
    const std::string cfg = dir->write(
        "probe.yml", "agent: {id: probe, location: bench}\n" +
                         catalog_section("isitup.checks", group) +
                         "sinks: [{plugin: stdout_sink, options: {output: /dev/null}}]\n");
    const int64_t started = wall_ms();
    child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
    if (!wait_log(
            agent, [&](const std::string& log) { return std::regex_search(log, all); }, 120s)) {
      state.SkipWithError(("no 'catalog: N checks' line: " + agent.err()).c_str());
      return;
    }
    cpu += thread_cpu_ms(agent.pid());
    reader_cpu += named_threads_cpu_ms(agent.pid(), "isitup-catalog");
    load += load_average();
    const std::string log = agent.err();
    const auto t0 = first_match(log, assigned), t1 = first_match(log, all);
    stop(agent);
    if (!t0 || !t1) {
      state.SkipWithError("log lines without a time");
      return;
    }
    state.SetIterationTime(static_cast<double>(*t1 - *t0) / 1000.0);
    from_start += static_cast<double>(*t1 - started);
  }
  state.counters["cpu_ms"] = benchmark::Counter(cpu, benchmark::Counter::kAvgIterations);
  state.counters["catalog_thread_cpu_ms"] =
      benchmark::Counter(reader_cpu, benchmark::Counter::kAvgIterations);
  state.counters["from_start_ms"] =
      benchmark::Counter(from_start, benchmark::Counter::kAvgIterations);
  state.counters["load"] = benchmark::Counter(load, benchmark::Counter::kAvgIterations);
}

void bm_domains_file_start(benchmark::State& state) {
  const long n = state.range(0);
  const std::string cfg =
      dir->write("domains.yml",
                 "agent: {id: plain, location: bench}\n"
                 "sinks: [{plugin: stdout_sink, options: {output: /dev/null}}]\n"
                 "domains_file: " +
                     domains_file(n) + "\n");
  const std::regex all("running " + std::to_string(n) + " checks");
  double cpu = 0, load = 0;
  for (auto _ : state) {
    const int64_t started = wall_ms();
    child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
    if (!wait_log(
            agent, [&](const std::string& log) { return std::regex_search(log, all); }, 120s)) {
      state.SkipWithError(("no 'running N checks' line: " + agent.err()).c_str());
      return;
    }
    cpu += thread_cpu_ms(agent.pid());
    load += load_average();
    const auto t1 = first_match(agent.err(), all);
    stop(agent);
    if (!t1) {
      state.SkipWithError("log line without a time");
      return;
    }
    state.SetIterationTime(static_cast<double>(*t1 - started) / 1000.0);
  }
  state.counters["cpu_ms"] = benchmark::Counter(cpu, benchmark::Counter::kAvgIterations);
  state.counters["load"] = benchmark::Counter(load, benchmark::Counter::kAvgIterations);
}

// Lines (results) written to `path` since `offset`, which moves to the end.
uint64_t new_lines(const std::string& path, std::uintmax_t& offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  uint64_t lines = 0;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    const auto got = static_cast<std::size_t>(in.gcount());
    for (std::size_t i = 0; i < got; ++i) lines += buf[i] == '\n';
    offset += got;
  }
  return lines;
}

std::string noop_checks(int from, int to) {
  std::string out = "checks:\n";
  for (int i = from; i < to; ++i)
    out += "  - {name: n" + std::to_string(i) + ", plugin: noop_check, target: t" +
           std::to_string(i) + ", interval: " + fleet_interval + "}\n";
  return out;
}

bool published_noop = false;

// 3 agents (catalog or split), every check scheduled, then results counted over `window`.
void bm_three_agents(benchmark::State& state) {
  const bool catalog = state.range(0) == 1;
  if (catalog && !published_noop) {
    std::string error;
    if (!publish(catalog_section("isitup.checks.noop") + noop_checks(0, fleet_checks), noop_plugins,
                 error)) {
      state.SkipWithError(("publish failed: " + error).c_str());
      return;
    }
    published_noop = true;
  }
  const std::regex running(catalog ? R"(catalog: (\d+) checks)" : R"(running (\d+) checks)");
  uint64_t results = 0;
  double load = 0;
  for (auto _ : state) {
    const std::string group = "noop-" + std::to_string(++groups);
    std::vector<std::unique_ptr<child_process>> agents;
    std::vector<std::string> outputs;
    for (int i = 0; i < 3; ++i) {
      const std::string id = "a" + std::to_string(i);
      outputs.push_back((*dir / (group + id + ".jsonl")).string());
      std::string text = "agent: {id: " + id + ", location: bench}\nsinks: [{plugin: " +
                         "stdout_sink, options: {output: \"" + outputs.back() + "\"}}]\n";
      text += catalog ? catalog_section("isitup.checks.noop", group)
                      : noop_checks(fleet_checks * i / 3, fleet_checks * (i + 1) / 3);
      const std::string cfg = dir->write(group + id + ".yml", text);
      agents.push_back(std::make_unique<child_process>(
          std::vector<std::string>{agent_bin, "-c", cfg, "-p", noop_plugins}));
    }
    // Every check scheduled on one of them, each with a share, and no change for 2 s.
    const auto until = std::chrono::steady_clock::now() + 120s;
    std::string last;
    auto stable_since = std::chrono::steady_clock::now();
    for (;;) {
      long sum = 0;
      bool each = true;
      std::string now;
      for (auto& a : agents) {
        const std::string log = a->err();
        const auto n = last_number(log, running);
        each = each && n && *n > 0;
        sum += n.value_or(0);
        now += std::to_string(n.value_or(0)) + " ";
      }
      if (now != last) {
        last = now;
        stable_since = std::chrono::steady_clock::now();
      }
      if (each && sum == fleet_checks && std::chrono::steady_clock::now() - stable_since > 2s)
        break;
      if (std::chrono::steady_clock::now() > until) {
        state.SkipWithError(("checks not shared within 120 s: " + last).c_str());
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    std::vector<std::uintmax_t> offsets(3, 0);
    for (int i = 0; i < 3; ++i) new_lines(outputs[i], offsets[i]);
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(window);
    uint64_t got = 0;
    for (int i = 0; i < 3; ++i) got += new_lines(outputs[i], offsets[i]);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(seconds);
    load += load_average();
    results += got;
    for (auto& a : agents) stop(*a);
    for (const auto& o : outputs) fs::remove(o);
  }
  state.SetItemsProcessed(static_cast<int64_t>(results));
  state.counters["load"] = benchmark::Counter(load, benchmark::Counter::kAvgIterations);
}

BENCHMARK(bm_domains_file_start)
    ->Arg(10000)
    ->Arg(100000)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_catalog_join)
    ->Arg(10000)
    ->Arg(100000)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_three_agents)
    ->ArgName("catalog")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// The plugins the agents load (copies, with noop_check) and the broker with the catalog topics.
void start_broker() {
  dir = std::make_unique<isitup::test::temp_dir>();
  noop_plugins = (*dir / "plugins").string();
  fs::create_directories(noop_plugins);
  // Copies: the agent refuses a plugin symlinked from outside its plugin directory.
  for (const char* so : {"kafka_sink.so", "stdout_sink.so"})
    fs::copy_file(fs::path(plugin_dir) / so, fs::path(noop_plugins) / so);
  fs::copy_file(fs::path(bench_plugin_dir) / "noop_check.so",
                fs::path(noop_plugins) / "noop_check.so");
  broker = std::make_unique<isitup::test::kafka_broker>(
      isitup::test::kafka_broker_options{1,
                                         {"isitup.checks:" + std::to_string(partitions),
                                          "isitup.checks.noop:" + std::to_string(partitions)}});
}

void print_ratios(const isitup::bench::recording_reporter& reporter) {
  std::FILE* out = reporter.table();
  std::fprintf(out, "\n");
  for (const char* n : {"10000", "100000"}) {
    const auto* cat =
        reporter.run(std::string("bm_catalog_join/") + n + "/iterations:3/manual_time");
    const auto* file =
        reporter.run(std::string("bm_domains_file_start/") + n + "/iterations:3/manual_time");
    if (cat == nullptr || file == nullptr) continue;
    const double c = cat->GetAdjustedRealTime(), f = file->GetAdjustedRealTime();
    std::fprintf(out,
                 "%s checks: catalog assignment -> all scheduled %.0f ms (target <= 1000 at "
                 "100000), domains_file start -> all scheduled %.0f ms: ratio %.2f; scheduler "
                 "thread CPU %.0f / %.0f ms (catalog thread reading the messages beside it %.0f "
                 "ms); load average %.1f / %.1f\n",
                 n, c, f, c / f, cat->counters.at("cpu_ms").value,
                 file->counters.at("cpu_ms").value, cat->counters.at("catalog_thread_cpu_ms").value,
                 cat->counters.at("load").value, file->counters.at("load").value);
  }
  const auto* a = reporter.run("bm_three_agents/catalog:1/iterations:1/manual_time");
  const auto* b = reporter.run("bm_three_agents/catalog:0/iterations:1/manual_time");
  if (a != nullptr && b != nullptr) {
    const double cat = a->counters.at("items_per_second").value;
    const double hand = b->counters.at("items_per_second").value;
    std::fprintf(out,
                 "3 agents, %d checks every %s: catalog %.0f checks/s, hand-split %.0f "
                 "checks/s: ratio %.3f (target >= 0.95); load average %.1f / %.1f\n",
                 fleet_checks, fleet_interval.c_str(), cat, hand, cat / hand,
                 a->counters.at("load").value, b->counters.at("load").value);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int status = isitup::bench::run_benchmarks(argc, argv, print_ratios, start_broker);
  broker.reset();
  return status;
}
