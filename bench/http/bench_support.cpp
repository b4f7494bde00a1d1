#include "bench_support.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <thread>

#include "process.hpp"

using namespace std::chrono_literals;

namespace isitup::bench {

const std::vector<std::string> addresses = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"};
int phase_seconds = 5;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

size_t count_lines(const std::string& path, const std::string& needle = "") {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line))
    if (needle.empty() || line.find(needle) != std::string::npos) ++n;
  return n;
}

std::string agent_config(const std::string& body, const std::string& results_path,
                         bool http = false) {
  return std::string("agent: {id: bench, max_in_flight: 5000") +
         (http ? ", http: {listen: \"127.0.0.1:0\", per_check_metrics: true}" : "") +
         "}\n"
         "pipeline: {queue_size: 100000, batch_size: 2000, batch_delay: 100ms}\n" +
         body +
         "sinks:\n  - plugin: stdout_sink\n    options: {format: json, output: " + results_path +
         "}\n";
}

double seconds_between(const timeval& a, const timeval& b) {
  return static_cast<double>(b.tv_sec - a.tv_sec) +
         static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
}

// Sockets among the open descriptors of `pid`.
size_t open_sockets(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    const std::filesystem::path to = std::filesystem::read_symlink(e.path(), link_ec);
    if (!link_ec && to.native().rfind("socket:", 0) == 0) ++n;
  }
  return n;
}

// Voluntary and involuntary context switches of every thread of `pid`, added up.
uint64_t context_switches(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(e.path() / "status");
    std::string line;
    while (std::getline(in, line))
      if (line.find("ctxt_switches:") != std::string::npos)
        n += std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10);
  }
  return n;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

http::testing::nginx_server& server() {
  // Destroyed at exit (its destructor stops nginx; a leaked one kept nginx and its two workers
  // running after every benchmark run).
  static const std::unique_ptr<http::testing::nginx_server> nginx = [] {
    http::testing::nginx_server::options opts;
    opts.extra_addresses = {addresses.begin() + 1, addresses.end()};
    opts.worker_processes = 2;
    opts.slow_seconds = 2.0;
    auto n = std::make_unique<http::testing::nginx_server>(opts);
    if (!n->ok()) {
      std::cerr << "nginx: " << n->error() << "\n";
      std::exit(1);  // NOLINT(concurrency-mt-unsafe): at set-up, before any benchmark thread
    }
    return n;
  }();
  return *nginx;
}

const std::string& ca_bundle() {
  static test::temp_dir dir;
  static const std::string path = dir.write(
      "bundle.pem", read_all("/etc/ssl/certs/ca-certificates.crt") + read_all(server().certs().ca));
  return path;
}

std::string url(size_t i, const char* path, bool tls) {
  return std::string(tls ? "https://" : "http://") + addresses[i % addresses.size()] + ":" +
         std::to_string(tls ? server().https_port : server().http_port) + path +
         "?n=" + std::to_string(i);
}

wrk_figures wrk_run(const std::string& target, int seconds) {
  rusage before{};
  getrusage(RUSAGE_CHILDREN, &before);
  const auto r = test::run({"/usr/bin/wrk", "-t2", "-c64", "-d" + std::to_string(seconds) + "s",
                            "-H", "Connection: close", target},
                           std::chrono::seconds(seconds + 30));
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);
  std::smatch m;
  if (!std::regex_search(r.out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
    std::cerr << "wrk failed: " << r.out << r.err << "\n";
    return {};
  }
  wrk_figures f;
  f.rate = std::stod(m[1]);
  const double cpu_s = seconds_between(before.ru_utime, after.ru_utime) +
                       seconds_between(before.ru_stime, after.ru_stime);
  if (f.rate > 0) f.cpu_us = cpu_s * 1e6 / (f.rate * seconds);
  return f;
}

double wrk_rate(const std::string& target, int seconds) { return wrk_run(target, seconds).rate; }

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

agent_figures run_agent(const std::string& body, int seconds, const std::string& marker,
                        int scrape_ms) {
  test::temp_dir dir;
  const std::string results = (dir / "results.jsonl").string();
  const std::string cfg = dir.write("agent.yml", agent_config(body, results, scrape_ms > 0));
  test::child_process agent({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir});
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> scrapes{0};
  std::thread scraper;
  if (scrape_ms > 0) {
    int port = 0;
    std::smatch m;
    for (int i = 0; i < 200 && port == 0; ++i) {
      const std::string err = agent.err();
      if (std::regex_search(err, m, std::regex("http: listening on [^ \n]*:([0-9]+)")))
        port = std::stoi(m[1]);
      else
        std::this_thread::sleep_for(50ms);
    }
    scraper = std::thread([&stop, &scrapes, port, scrape_ms] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(5s);
      while (!stop) {
        const auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(scrape_ms);
        if (auto r = c.Get("/metrics"); r && r->status == 200) ++scrapes;
        std::this_thread::sleep_until(next);
      }
    });
  }
  std::this_thread::sleep_for(3s);
  struct snapshot {
    std::chrono::steady_clock::time_point at;
    cpu_time cpu;
    size_t results, up, marked;
    uint64_t switches;
  };
  auto take = [&] {
    return snapshot{std::chrono::steady_clock::now(),
                    process_cpu(agent.pid()),
                    count_lines(results),
                    count_lines(results, "\"status\":\"up\""),
                    marker.empty() ? 0 : count_lines(results, marker),
                    context_switches(agent.pid())};
  };
  const snapshot a = take();
  const uint64_t scrapes_before = scrapes;
  // The open sockets sampled every 100 ms through the window.
  const auto window_end = a.at + std::chrono::seconds(seconds);
  size_t socket_sum = 0, samples = 0;
  while (std::chrono::steady_clock::now() + 100ms < window_end) {
    std::this_thread::sleep_for(100ms);
    socket_sum += open_sockets(agent.pid());
    ++samples;
  }
  std::this_thread::sleep_until(window_end);
  const snapshot b = take();
  stop = true;
  if (scraper.joinable()) scraper.join();
  agent_figures f;
  f.rss_mib = static_cast<double>(rss_kib(agent.pid())) / 1024.0;
  agent.signal(SIGTERM);
  agent.wait(15s);
  const double span = std::chrono::duration<double>(b.at - a.at).count();
  const double n = static_cast<double>(b.results - a.results);
  f.rate = n / span;
  f.up_rate = static_cast<double>(b.up - a.up) / span;
  f.marked_rate = static_cast<double>(b.marked - a.marked) / span;
  f.scrapes = static_cast<double>(scrapes - scrapes_before);
  if (n > 0) f.cpu_us = {(b.cpu.user - a.cpu.user) * 1e6 / n, (b.cpu.sys - a.cpu.sys) * 1e6 / n};
  if (n > 0) f.switches = static_cast<double>(b.switches - a.switches) / n;
  if (samples > 0) f.sockets = static_cast<double>(socket_sum) / static_cast<double>(samples);
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in the benchmarks sets the environment
  if (n == 0 || std::getenv("ISITUP_BENCH_VERBOSE"))
    std::cerr << "agent log:\n" << agent.err() << "\n";
  return f;
}

long agent_rss_with_checks(size_t checks) {
  test::temp_dir dir;
  std::string domains;
  for (size_t i = 0; i < checks; ++i) domains += url(i, "/") + "\n";
  const std::string list = dir.write("domains.txt", domains);
  const std::string cfg =
      dir.write("agent.yml", agent_config("defaults: {interval: 1h, timeout: 5s}\n"
                                          "domains_file: " +
                                              list + "\n",
                                          (dir / "results.jsonl").string()));
  test::child_process agent({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir});
  // Measure once every check is prepared and scheduled ("running N checks"), at most 60 s.
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (agent.err().find("running") == std::string::npos &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(2s);
  const long rss = rss_kib(agent.pid());
  agent.signal(SIGTERM);
  agent.wait(15s);
  return rss;
}

}  // namespace isitup::bench
