// isitup-bench-http: the agent's HTTP throughput on loopback, next to nginx's own ceiling.
//
// Starts nginx (two workers, listening on 127.0.0.1-4) and measures, in one run:
//   1. the ceiling: wrk with "Connection: close" against the same page;
//   2. fast: the agent checking 1000 distinct URLs every 100 ms, fresh connection per check;
//   3. slow: 1000 URLs whose answer takes 2 s, due every 100 ms (so always in flight), plus
//      20 fast URLs checked every second;
//   4. memory: the agent's RSS with 100k configured checks against 1000;
//   and the floor: a bare epoll loop doing only the syscalls of one fresh connection per
//   request (socket, connect, epoll_ctl, send, recv, close), its CPU per connection.
// Prints a Markdown table (bench/http/README.md keeps one). Bounded: about a minute.
// Loopback only; not run in CI. Usage: isitup-bench-http [seconds per phase, default 10]
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plugin_inproc.hpp"
#include "process.hpp"
#include "syscall_floor.hpp"
#include "testing/test_servers.hpp"

using namespace std::chrono_literals;
using isitup::http::testing::nginx_server;
using isitup::test::child_process;
using isitup::test::temp_dir;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
const std::vector<std::string> addresses = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"};

struct cpu_time {
  double user = 0, sys = 0;
  double total() const { return user + sys; }
};

cpu_time cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {static_cast<double>(utime) / tick, static_cast<double>(stime) / tick};
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

size_t count_lines(const std::string& path, const std::string& needle = "") {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line))
    if (needle.empty() || line.find(needle) != std::string::npos) ++n;
  return n;
}

struct snapshot {
  std::chrono::steady_clock::time_point at;
  cpu_time cpu;
  size_t results;
};

std::string agent_config(const std::string& body, const std::string& results_path) {
  return "agent: {id: bench, max_in_flight: 5000}\n"
         "pipeline: {queue_size: 100000, batch_size: 2000, batch_delay: 100ms}\n" +
         body +
         "sinks:\n  - plugin: stdout_sink\n    options: {format: json, output: " + results_path +
         "}\n";
}

double wrk_ceiling(int port, int seconds) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const auto r =
      isitup::test::run({"/usr/bin/wrk", "-t2", "-c64", "-d" + std::to_string(seconds) + "s", "-H",
                         "Connection: close", url},
                        std::chrono::seconds(seconds + 30));
  std::smatch m;
  if (std::regex_search(r.out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    return std::stod(m[1]);
  std::cerr << "wrk failed: " << r.out << r.err << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::max(2, std::atoi(argv[1])) : 10;
  nginx_server::options opts;
  opts.extra_addresses = {addresses.begin() + 1, addresses.end()};
  opts.worker_processes = 2;
  opts.slow_seconds = 2.0;
  nginx_server nginx(opts);
  if (!nginx.ok()) {
    std::cerr << "nginx: " << nginx.error() << "\n";
    return 1;
  }
  const int port = nginx.http_port;
  auto url = [&](size_t i, const char* path) {
    return "http://" + addresses[i % addresses.size()] + ":" + std::to_string(port) + path +
           "?n=" + std::to_string(i);
  };
  std::printf("nginx on %zu addresses, port %d; %d s per phase\n", addresses.size(), port, seconds);

  // 1. nginx's ceiling with a fresh connection per request.
  const double ceiling = wrk_ceiling(port, seconds);

  // Runs the agent on `body`, measures from warm-up to the end of the phase.
  auto run_agent = [&](const std::string& body, const std::string& fast_marker, int window,
                       double& rate, cpu_time& cpu_us, long& rss, double* fast_rate) {
    temp_dir dir;
    const std::string results = (dir / "results.jsonl").string();
    const std::string cfg = dir.write("agent.yml", agent_config(body, results));
    child_process agent({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir});
    std::this_thread::sleep_for(3s);
    const snapshot a{std::chrono::steady_clock::now(), cpu_seconds(agent.pid()),
                     count_lines(results)};
    const size_t fast_a = fast_marker.empty() ? 0 : count_lines(results, fast_marker);
    std::this_thread::sleep_for(std::chrono::seconds(window));
    const snapshot b{std::chrono::steady_clock::now(), cpu_seconds(agent.pid()),
                     count_lines(results)};
    const size_t fast_b = fast_marker.empty() ? 0 : count_lines(results, fast_marker);
    rss = rss_kib(agent.pid());
    agent.signal(SIGTERM);
    agent.wait(15s);
    const double span = std::chrono::duration<double>(b.at - a.at).count();
    const double n = static_cast<double>(b.results - a.results);
    rate = n / span;
    if (n > 0) cpu_us = {(b.cpu.user - a.cpu.user) * 1e6 / n, (b.cpu.sys - a.cpu.sys) * 1e6 / n};
    if (fast_rate) *fast_rate = static_cast<double>(fast_b - fast_a) / span;
    if (n == 0 || std::getenv("ISITUP_BENCH_VERBOSE"))
      std::cerr << "agent log:\n" << agent.err() << "\n";
  };

  // The floor: what only the syscalls of fresh connections cost here (syscall_floor.cpp).
  const floor_result floor = syscall_floor(addresses, port, seconds);
  // The plugin alone, in this process: 200 checks each restarted from its completion.
  std::vector<std::string> inproc_urls;
  for (size_t i = 0; i < 200; ++i) inproc_urls.push_back(url(i, "/"));
  const floor_result lean = plugin_inproc(inproc_urls, seconds, "auto");
  const floor_result curl = plugin_inproc(inproc_urls, seconds, "curl");
  // ... and 1000 slow checks (2 s answers) always in flight, to split the slow run's CPU.
  std::vector<std::string> slow_urls;
  for (size_t i = 0; i < 1000; ++i) slow_urls.push_back(url(i, "/slow"));
  const floor_result lean_slow = plugin_inproc(slow_urls, 2 * seconds, "auto");

  // 2. Fast: 1000 distinct URLs every 100 ms (10k checks/s offered).
  std::string fast = "defaults: {interval: 100ms, timeout: 2s}\ndomains:\n";
  for (size_t i = 0; i < 1000; ++i) fast += "  - " + url(i, "/") + "\n";
  double fast_rate = 0;
  cpu_time fast_cpu;
  long fast_rss = 0;
  run_agent(fast, "", seconds, fast_rate, fast_cpu, fast_rss, nullptr);

  // 3. Slow: 1000 URLs answering after 2 s, due every 100 ms (so each starts again as soon as
  // its previous run ends: runs still in flight are skipped); 20 fast URLs every second.
  std::string slow = "defaults: {interval: 100ms, timeout: 5s}\ndomains:\n";
  for (size_t i = 0; i < 1000; ++i) slow += "  - " + url(i, "/slow") + "\n";
  slow += "checks:\n";
  for (size_t i = 0; i < 20; ++i)
    slow += "  - {name: fast-" + std::to_string(i) + ", target: \"" + url(i, "/") +
            "\", interval: 1s, timeout: 1s}\n";
  double slow_rate = 0, fast_alongside = 0;
  cpu_time slow_cpu;
  long slow_rss = 0;
  // The slow runs end in waves (every 2 s): a window of twice the phase keeps the error of
  // counting one wave more or less small (1000 / window).
  run_agent(slow, "\"check\":\"fast-", 2 * seconds, slow_rate, slow_cpu, slow_rss, &fast_alongside);
  const double slow_only = slow_rate - fast_alongside;

  // 4. Memory per configured check: 100k checks against 1000 (interval 1h: few runs).
  auto rss_with = [&](size_t checks) {
    temp_dir dir;
    std::string domains;
    for (size_t i = 0; i < checks; ++i) domains += url(i, "/") + "\n";
    const std::string list = dir.write("domains.txt", domains);
    const std::string cfg = dir.write(
        "agent.yml",
        agent_config("defaults: {interval: 1h, timeout: 5s}\ndomains_file: " + list + "\n",
                     (dir / "results.jsonl").string()));
    child_process agent({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir});
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
  };
  const long rss_1k = rss_with(1000), rss_100k = rss_with(100000);
  const double bytes_per_check = static_cast<double>(rss_100k - rss_1k) * 1024.0 / 99000.0;

  std::printf("\n| measure | value | target |\n| --- | --- | --- |\n");
  std::printf("| nginx ceiling, wrk -H 'Connection: close' | %.0f req/s | |\n", ceiling);
  std::printf(
      "| agent, 1000 URLs every 100 ms, fresh connections | %.0f checks/s (%.2fx ceiling) "
      "| >= 0.7x |\n",
      fast_rate, ceiling > 0 ? fast_rate / ceiling : 0.0);
  std::printf("| agent CPU per check (fast), user + sys | %.1f us (%.1f + %.1f) | <= 6 us |\n",
              fast_cpu.total(), fast_cpu.user, fast_cpu.sys);
  std::printf("| agent RSS (fast) | %.1f MiB | |\n", static_cast<double>(fast_rss) / 1024.0);
  std::printf("| slow: 1000 URLs answering in 2 s | %.0f checks/s | >= 450 |\n", slow_only);
  std::printf("| slow: 20 fast URLs alongside, interval 1 s | %.2f results/s per URL | 1.00 |\n",
              fast_alongside / 20.0);
  std::printf("| agent CPU per check (slow run), user + sys | %.1f us (%.1f + %.1f) | |\n",
              slow_cpu.total(), slow_cpu.user, slow_cpu.sys);
  std::printf(
      "| floor: bare epoll loop, syscalls of one fresh connection only | %.0f conn/s, "
      "%.1f us (%.1f + %.1f) | |\n",
      floor.rate, floor.user_us + floor.sys_us, floor.user_us, floor.sys_us);
  std::printf(
      "| plugin alone in-process, lean engine (auto) | %.0f checks/s, %.1f us (%.1f + %.1f) "
      "| |\n",
      lean.rate, lean.user_us + lean.sys_us, lean.user_us, lean.sys_us);
  std::printf(
      "| plugin alone in-process, engine: curl | %.0f checks/s, %.1f us (%.1f + %.1f) | |\n",
      curl.rate, curl.user_us + curl.sys_us, curl.user_us, curl.sys_us);
  std::printf(
      "| plugin alone in-process, 1000 slow checks (lean) | %.0f checks/s, %.1f us "
      "(%.1f + %.1f) | |\n",
      lean_slow.rate, lean_slow.user_us + lean_slow.sys_us, lean_slow.user_us, lean_slow.sys_us);
  std::printf("| agent RSS, 1000 / 100k configured checks | %.1f / %.1f MiB | |\n",
              static_cast<double>(rss_1k) / 1024.0, static_cast<double>(rss_100k) / 1024.0);
  std::printf("| memory per configured check at 100k | %.0f bytes | < 1024 |\n", bytes_per_check);
  return 0;
}
