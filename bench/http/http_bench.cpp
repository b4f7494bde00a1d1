// isitup-bench-http: the agent's HTTP(S) throughput on loopback, next to nginx's own ceiling.
//
// A Google Benchmark program (--benchmark_list_tests, --benchmark_filter=REGEX,
// --benchmark_repetitions=N and the other --benchmark_* flags work); each case runs once per
// repetition (Iterations(1)) and reports its figures as counters, and a Markdown table of the
// figures (medians when repeated) follows. Each case that states a ratio measures its
// baseline itself, just before, so that a ratio never mixes two moments of a noisy machine.
// Cases (nginx with two workers on 127.0.0.1-4 is started on first use):
//   http_ceiling_wrk        wrk -H 'Connection: close' on plain http
//   http_floor_syscalls     a bare epoll loop doing only the syscalls of a fresh connection
//   http_plugin_lean/curl   the plugin alone in this process, 200 checks restarted on completion
//   http_plugin_slow        the same with 1000 checks whose answer takes 2 s
//   http_agent_fast         the agent, 1000 URLs every 10 ms (demand above the ceiling), vs wrk
//                           and vs the floor with as many connections open as the agent had
//   http_agent_state        the fast case with check state tracking off and on (off,on,on,off)
//   http_agent_metrics      the fast case without and with /metrics scraped every 100 ms
//   http_state_observe      the tracker alone in this process: CPU per result it is fed
//   http_agent_slow         the agent, 1000 slow URLs always in flight plus 20 fast ones at 1 s
//   http_memory_per_check   the agent's RSS with 100k configured checks against 1000
//   https_agent_verify      the agent, 1000 https URLs every 10 ms with a 145-CA ca_file, vs wrk
//                           on full handshakes (nginx with resumption off) and on resumed ones
//                           on https, and the same with tls_verify: false (CPU ratio)
//   https_agent_verify_loops  the same verify-on agent with `loops: 1` and `loops: 0` (adaptive:
//                           up to a loop per hardware thread, at most 4), vs wrk on full
//                           handshakes, and
//                           the loops with tls_verify: false (CPU ratio)
//   https_plugin_verify/noverify  the plugin alone on https, verification on and off
//   https_rss_in_flight     memory per TLS check in flight (1000 slow https checks at once)
// Loopback only; not run in CI. --phase_seconds=N (default 5) sets each measuring window.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <isitup/core/alert_tracker.hpp>
#include "bench_main.hpp"
#include "bench_support.hpp"
#include "plugin_inproc.hpp"
#include "syscall_floor.hpp"

namespace {

using namespace isitup::bench;

std::vector<std::string> urls(size_t n, const char* path, bool tls = false) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(url(i, path, tls));
  return out;
}

std::string root(bool tls) {
  const std::string u = url(0, "/", tls);
  return u.substr(0, u.find('?'));
}

void report_cpu(benchmark::State& state, const char* prefix, double user_us, double sys_us) {
  state.counters[std::string(prefix) + "cpu_us"] = user_us + sys_us;
  state.counters[std::string(prefix) + "user_us"] = user_us;
  state.counters[std::string(prefix) + "sys_us"] = sys_us;
}

void http_ceiling_wrk(benchmark::State& state) {
  for (auto _ : state) state.counters["req_per_s"] = wrk_rate(root(false), phase_seconds);
}

void http_floor_syscalls(benchmark::State& state) {
  for (auto _ : state) {
    const floor_result f = syscall_floor(addresses, server().http_port, phase_seconds);
    state.counters["conn_per_s"] = f.rate;
    report_cpu(state, "", f.user_us, f.sys_us);
    state.counters["switches"] = f.switches;
  }
}

void plugin_case(benchmark::State& state, const std::vector<std::string>& targets, int seconds,
                 const check_options& options) {
  for (auto _ : state) {
    const floor_result f = plugin_inproc(targets, seconds, options);
    state.counters["checks_per_s"] = f.rate;
    report_cpu(state, "", f.user_us, f.sys_us);
  }
}

void http_plugin_lean(benchmark::State& state) {
  plugin_case(state, urls(200, "/"), phase_seconds, {{"engine", "auto"}});
}
void http_plugin_curl(benchmark::State& state) {
  plugin_case(state, urls(200, "/"), phase_seconds, {{"engine", "curl"}});
}
void http_plugin_slow(benchmark::State& state) {
  plugin_case(state, urls(1000, "/slow"), 2 * phase_seconds, {{"engine", "auto"}});
}

void http_agent_fast(benchmark::State& state) {
  for (auto _ : state) {
    const double ceiling = wrk_rate(root(false), phase_seconds);
    // 1000 URLs every 10 ms: 100k checks/s offered, above any ceiling here, so the figure is
    // what the agent manages (a run still in flight when due again is skipped).
    std::string body = "defaults: {interval: 10ms, timeout: 2s}\ndomains:\n";
    for (size_t i = 0; i < 1000; ++i) body += "  - " + url(i, "/") + "\n";
    const agent_figures f = run_agent(body, phase_seconds);
    // The floor again, just after, with as many connections open as the agent had: the
    // kernel's cost per connection grows with the connections open (the bare floor case keeps
    // 200; the agent keeps most of its 1000 checks in flight).
    const int same = std::max(1, static_cast<int>(std::lround(f.sockets)));
    const floor_result fl = syscall_floor(addresses, server().http_port, phase_seconds, same);
    state.counters["ceiling_per_s"] = ceiling;
    state.counters["checks_per_s"] = f.rate;
    state.counters["up_per_s"] = f.up_rate;
    state.counters["ratio"] = ceiling > 0 ? f.rate / ceiling : 0;
    report_cpu(state, "", f.cpu_us.user, f.cpu_us.sys);
    state.counters["rss_mib"] = f.rss_mib;
    state.counters["sockets"] = f.sockets;
    state.counters["switches"] = f.switches;
    report_cpu(state, "floor_same_", fl.user_us, fl.sys_us);
    state.counters["floor_same_switches"] = fl.switches;
    const double floor_cpu = fl.user_us + fl.sys_us;
    state.counters["vs_floor_same"] = floor_cpu > 0 ? f.cpu_us.total() / floor_cpu : 0;
  }
}

// The agent on the fast case's config with check state tracking off (alert: {enabled: false})
// and on (the default), in the order off, on, on, off: checks/s and CPU per check of each (the
// mean of its two runs), and on/off.
void http_agent_state(benchmark::State& state) {
  for (auto _ : state) {
    std::string urls_yaml = "domains:\n";
    for (size_t i = 0; i < 1000; ++i) urls_yaml += "  - " + url(i, "/") + "\n";
    const std::string off_body =
        "defaults: {interval: 10ms, timeout: 2s, alert: {enabled: false}}\n" + urls_yaml;
    const std::string on_body = "defaults: {interval: 10ms, timeout: 2s}\n" + urls_yaml;
    // off, on, on, off: a drift of the machine over the four runs weighs on both alike.
    agent_figures off = run_agent(off_body, phase_seconds);
    agent_figures on = run_agent(on_body, phase_seconds);
    const agent_figures on2 = run_agent(on_body, phase_seconds);
    const agent_figures off2 = run_agent(off_body, phase_seconds);
    for (auto [a, b] : {std::pair{&off, &off2}, std::pair{&on, &on2}}) {
      a->rate = (a->rate + b->rate) / 2;
      a->cpu_us.user = (a->cpu_us.user + b->cpu_us.user) / 2;
      a->cpu_us.sys = (a->cpu_us.sys + b->cpu_us.sys) / 2;
    }
    state.counters["off_checks_per_s"] = off.rate;
    state.counters["on_checks_per_s"] = on.rate;
    state.counters["rate_ratio"] = off.rate > 0 ? on.rate / off.rate : 0;
    state.counters["off_cpu_us"] = off.cpu_us.total();
    state.counters["on_cpu_us"] = on.cpu_us.total();
    state.counters["cpu_ratio"] =
        off.cpu_us.total() > 0 ? on.cpu_us.total() / off.cpu_us.total() : 0;
  }
}

// The fast case without and with a Prometheus server's worth of scraping: agent.http on,
// per-check series for the 1000 checks, /metrics fetched every 100 ms; off, on, on, off.
void http_agent_metrics(benchmark::State& state) {
  for (auto _ : state) {
    std::string body = "defaults: {interval: 10ms, timeout: 2s}\ndomains:\n";
    for (size_t i = 0; i < 1000; ++i) body += "  - " + url(i, "/") + "\n";
    agent_figures off = run_agent(body, phase_seconds);
    agent_figures on = run_agent(body, phase_seconds, "", 100);
    const agent_figures on2 = run_agent(body, phase_seconds, "", 100);
    const agent_figures off2 = run_agent(body, phase_seconds);
    for (auto [a, b] : {std::pair{&off, &off2}, std::pair{&on, &on2}}) {
      a->rate = (a->rate + b->rate) / 2;
      a->cpu_us.user = (a->cpu_us.user + b->cpu_us.user) / 2;
      a->cpu_us.sys = (a->cpu_us.sys + b->cpu_us.sys) / 2;
    }
    state.counters["off_checks_per_s"] = off.rate;
    state.counters["on_checks_per_s"] = on.rate;
    state.counters["rate_ratio"] = off.rate > 0 ? on.rate / off.rate : 0;
    state.counters["off_cpu_us"] = off.cpu_us.total();
    state.counters["on_cpu_us"] = on.cpu_us.total();
    state.counters["scrapes_per_s"] = (on.scrapes + on2.scrapes) / (2.0 * phase_seconds);
  }
}

// What check state costs per result, alone: the agent's alert_tracker in this process fed the
// up results of 1000 checks (the fast case's steady state: no transitions), one thread.
void http_state_observe(benchmark::State& state) {
  for (auto _ : state) {
    isitup::alert_tracker tracker(isitup::config::agent{}, {}, {});
    tracker.start();
    std::vector<isitup::record> results(1000);
    for (size_t i = 0; i < results.size(); ++i) {
      isitup::record& r = results[i];
      r.agent = "bench";
      r.check = url(i, "/");
      r.plugin = "http_check";
      r.target = r.check;
      r.up = true;
    }
    constexpr int rounds = 2000;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_before = thread_cpu_seconds();
    for (int n = 0; n < rounds; ++n)
      for (isitup::record& r : results) {
        r.scheduled_at_ms = 1'800'000'000'000 + int64_t{n} * 10;
        tracker.observe(r);
      }
    const double cpu = thread_cpu_seconds() - cpu_before;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    tracker.stop(std::chrono::milliseconds(0));
    const double n = static_cast<double>(rounds) * static_cast<double>(results.size());
    state.counters["cpu_ns_per_result"] = cpu * 1e9 / n;
    state.counters["wall_ns_per_result"] = wall * 1e9 / n;
  }
}

void http_agent_slow(benchmark::State& state) {
  for (auto _ : state) {
    std::string body = "defaults: {interval: 100ms, timeout: 5s}\ndomains:\n";
    for (size_t i = 0; i < 1000; ++i) body += "  - " + url(i, "/slow") + "\n";
    body += "checks:\n";
    for (size_t i = 0; i < 20; ++i)
      body += "  - {name: fast-" + std::to_string(i) + ", target: \"" + url(i, "/") +
              "\", interval: 1s, timeout: 1s}\n";
    // The slow runs end in waves (every 2 s): a window of twice the phase keeps the error of
    // counting one wave more or less small.
    const agent_figures f = run_agent(body, 2 * phase_seconds, "\"check\":\"fast-");
    state.counters["slow_checks_per_s"] = f.rate - f.marked_rate;
    state.counters["fast_results_per_s_per_url"] = f.marked_rate / 20.0;
    report_cpu(state, "", f.cpu_us.user, f.cpu_us.sys);
  }
}

void http_memory_per_check(benchmark::State& state) {
  for (auto _ : state) {
    const long rss_1k = agent_rss_with_checks(1000), rss_100k = agent_rss_with_checks(100000);
    state.counters["rss_1k_mib"] = static_cast<double>(rss_1k) / 1024.0;
    state.counters["rss_100k_mib"] = static_cast<double>(rss_100k) / 1024.0;
    state.counters["bytes_per_check"] = static_cast<double>(rss_100k - rss_1k) * 1024.0 / 99000.0;
  }
}

std::string https_body(const std::string& options) {
  std::string body = "defaults: {interval: 10ms, timeout: 5s}\nchecks:\n";
  for (size_t i = 0; i < 1000; ++i)
    body += "  - {name: c" + std::to_string(i) + ", target: \"" + url(i, "/", true) +
            "\", options: " + options + "}\n";
  return body;
}

void https_agent_verify(benchmark::State& state) {
  for (auto _ : state) {
    // wrk resumes TLS sessions (an abbreviated handshake: no key exchange, no certificate);
    // a check never does. Both ceilings: full handshakes (nginx with resumption off) and wrk's.
    const wrk_figures full_wrk = wrk_run(
        "https://127.0.0.1:" + std::to_string(server().https_fresh_port) + "/", phase_seconds);
    const double full = full_wrk.rate;
    const double resumed = wrk_rate(root(true), phase_seconds);
    const agent_figures on = run_agent(https_body("{ca_file: " + ca_bundle() + "}"), phase_seconds);
    const agent_figures off = run_agent(https_body("{tls_verify: false}"), phase_seconds);
    state.counters["ceiling_full_per_s"] = full;
    state.counters["ceiling_resumed_per_s"] = resumed;
    state.counters["verify_checks_per_s"] = on.rate;
    state.counters["verify_up_per_s"] = on.up_rate;
    state.counters["noverify_up_per_s"] = off.up_rate;
    state.counters["ratio_full"] = full > 0 ? on.rate / full : 0;
    state.counters["ratio_resumed"] = resumed > 0 ? on.rate / resumed : 0;
    report_cpu(state, "verify_", on.cpu_us.user, on.cpu_us.sys);
    state.counters["noverify_checks_per_s"] = off.rate;
    report_cpu(state, "noverify_", off.cpu_us.user, off.cpu_us.sys);
    state.counters["cpu_ratio"] =
        off.cpu_us.total() > 0 ? on.cpu_us.total() / off.cpu_us.total() : 0;
    state.counters["verify_rss_mib"] = on.rss_mib;
    // wrk's own CPU per full handshake (no verification): a TLS client's cost here.
    state.counters["wrk_full_cpu_us"] = full_wrk.cpu_us;
  }
}

void https_agent_verify_loops(benchmark::State& state) {
  for (auto _ : state) {
    const double full = wrk_rate(
        "https://127.0.0.1:" + std::to_string(server().https_fresh_port) + "/", phase_seconds);
    const std::string ca = "ca_file: " + ca_bundle();
    const agent_figures one = run_agent(https_body("{" + ca + ", loops: 1}"), phase_seconds);
    const agent_figures many = run_agent(https_body("{" + ca + ", loops: 0}"), phase_seconds);
    const agent_figures off = run_agent(https_body("{tls_verify: false, loops: 0}"), phase_seconds);
    state.counters["ceiling_full_per_s"] = full;
    state.counters["loops"] = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    state.counters["one_checks_per_s"] = one.rate;
    state.counters["one_up_per_s"] = one.up_rate;
    state.counters["loops_checks_per_s"] = many.rate;
    state.counters["loops_up_per_s"] = many.up_rate;
    state.counters["one_ratio_full"] = full > 0 ? one.rate / full : 0;
    state.counters["loops_ratio_full"] = full > 0 ? many.rate / full : 0;
    state.counters["speedup"] = one.rate > 0 ? many.rate / one.rate : 0;
    report_cpu(state, "one_", one.cpu_us.user, one.cpu_us.sys);
    report_cpu(state, "loops_", many.cpu_us.user, many.cpu_us.sys);
    report_cpu(state, "noverify_", off.cpu_us.user, off.cpu_us.sys);
    state.counters["noverify_checks_per_s"] = off.rate;
    state.counters["cpu_per_check_ratio"] =
        one.cpu_us.total() > 0 ? many.cpu_us.total() / one.cpu_us.total() : 0;
    state.counters["cpu_ratio"] =
        off.cpu_us.total() > 0 ? many.cpu_us.total() / off.cpu_us.total() : 0;
  }
}

void https_plugin_verify(benchmark::State& state) {
  plugin_case(state, urls(200, "/", true), phase_seconds, {{"ca_file", ca_bundle()}});
}
void https_plugin_noverify(benchmark::State& state) {
  plugin_case(state, urls(200, "/", true), phase_seconds, {{"tls_verify", "false"}});
}

void https_rss_in_flight(benchmark::State& state) {
  for (auto _ : state) {
    const in_flight_memory m =
        plugin_rss_in_flight(urls(1000, "/slow", true), {{"ca_file", ca_bundle()}});
    state.counters["kib_per_run"] = m.kib_per_run;
    state.counters["runs_up"] = static_cast<double>(m.up);
  }
}

// The table of every case's figures (the median when repeated), printed after the runs.
void print_table(const isitup::bench::recording_reporter& reporter) {
  if (reporter.runs().empty()) return;
  std::FILE* out = reporter.table();
  std::fprintf(out, "\n| measure | value |\n| --- | --- |\n");
  auto row = [&](const char* bench, const char* label, const char* format,
                 std::initializer_list<const char*> keys) {
    if (reporter.function(bench) == nullptr) return;
    double v[6] = {};
    size_t i = 0;
    for (const char* k : keys) v[i++] = reporter.counter(bench, k);
    std::fprintf(out, "| %s | ", label);
    std::fprintf(out, format, v[0], v[1], v[2], v[3], v[4], v[5]);
    std::fprintf(out, " |\n");
  };
  row("http_ceiling_wrk", "nginx ceiling, http, wrk -H 'Connection: close'", "%.0f req/s",
      {"req_per_s"});
  row("http_agent_fast", "agent, 1000 URLs every 10 ms, fresh connections",
      "%.0f checks/s (%.0f up) = %.2fx the ceiling measured just before (%.0f req/s)",
      {"checks_per_s", "up_per_s", "ratio", "ceiling_per_s"});
  row("http_agent_fast", "agent CPU per check (fast), user + sys", "%.1f us (%.1f + %.1f)",
      {"cpu_us", "user_us", "sys_us"});
  row("http_agent_fast", "agent sockets open (mean); context switches per check", "%.0f; %.2f",
      {"sockets", "switches"});
  row("http_agent_fast", "floor with as many connections open, just after the agent",
      "%.1f us (%.1f + %.1f), %.2f switches per connection; agent = %.2fx",
      {"floor_same_cpu_us", "floor_same_user_us", "floor_same_sys_us", "floor_same_switches",
       "vs_floor_same"});
  row("http_agent_state", "agent, fast case, check state off / on (alert.enabled)",
      "%.0f / %.0f checks/s = %.3fx; CPU per check %.1f / %.1f us = %.3fx",
      {"off_checks_per_s", "on_checks_per_s", "rate_ratio", "off_cpu_us", "on_cpu_us",
       "cpu_ratio"});
  row("http_agent_metrics", "agent, fast case, /metrics off / scraped every 100 ms",
      "%.0f / %.0f checks/s = %.3fx; CPU per check %.1f / %.1f us; %.1f scrapes/s",
      {"off_checks_per_s", "on_checks_per_s", "rate_ratio", "off_cpu_us", "on_cpu_us",
       "scrapes_per_s"});
  row("http_state_observe", "check state alone: alert_tracker::observe, 1000 checks, up",
      "%.0f ns CPU per result (%.0f ns wall)", {"cpu_ns_per_result", "wall_ns_per_result"});
  row("http_agent_slow", "slow: 1000 URLs answering in 2 s, 20 fast alongside",
      "%.0f checks/s; fast: %.2f results/s per URL; %.1f us CPU per check",
      {"slow_checks_per_s", "fast_results_per_s_per_url", "cpu_us"});
  row("http_floor_syscalls", "floor: bare epoll loop, syscalls of a fresh connection (200 open)",
      "%.0f conn/s, %.1f us (%.1f + %.1f), %.2f switches per connection",
      {"conn_per_s", "cpu_us", "user_us", "sys_us", "switches"});
  row("http_plugin_lean", "plugin alone, lean engine", "%.0f checks/s, %.1f us (%.1f + %.1f)",
      {"checks_per_s", "cpu_us", "user_us", "sys_us"});
  row("http_plugin_curl", "plugin alone, engine: curl", "%.0f checks/s, %.1f us (%.1f + %.1f)",
      {"checks_per_s", "cpu_us", "user_us", "sys_us"});
  row("http_plugin_slow", "plugin alone, 1000 slow checks", "%.0f checks/s, %.1f us",
      {"checks_per_s", "cpu_us"});
  row("http_memory_per_check", "agent RSS 1000 / 100k checks; per configured check",
      "%.1f / %.1f MiB; %.0f bytes", {"rss_1k_mib", "rss_100k_mib", "bytes_per_check"});
  row("https_agent_verify",
      "nginx TLS ceiling, wrk -H 'Connection: close': full handshakes / sessions resumed",
      "%.0f / %.0f req/s", {"ceiling_full_per_s", "ceiling_resumed_per_s"});
  row("https_agent_verify", "agent, 1000 https URLs every 10 ms, verify on (ca_file, 145 CAs)",
      "%.0f checks/s (%.0f up) = %.2fx the full-handshake ceiling, %.2fx the resumed one",
      {"verify_checks_per_s", "verify_up_per_s", "ratio_full", "ratio_resumed"});
  row("https_agent_verify", "agent CPU per https check: verify on / tls_verify: false",
      "%.0f / %.0f us = %.2fx", {"verify_cpu_us", "noverify_cpu_us", "cpu_ratio"});
  row("https_agent_verify", "agent, https, tls_verify: false", "%.0f checks/s (%.0f up)",
      {"noverify_checks_per_s", "noverify_up_per_s"});
  row("https_agent_verify", "wrk's own CPU per full handshake (no verification)", "%.0f us",
      {"wrk_full_cpu_us"});
  row("https_agent_verify_loops", "nginx TLS ceiling, full handshakes; loops of the agent below",
      "%.0f req/s; %.0f loops", {"ceiling_full_per_s", "loops"});
  row("https_agent_verify_loops", "agent verify on, `loops: 1` / `loops: 0`",
      "%.0f / %.0f checks/s (%.0f / %.0f up) = %.2fx / %.2fx the full-handshake ceiling",
      {"one_checks_per_s", "loops_checks_per_s", "one_up_per_s", "loops_up_per_s", "one_ratio_full",
       "loops_ratio_full"});
  row("https_agent_verify_loops", "checks/s with the loops / one loop", "%.2fx", {"speedup"});
  row("https_agent_verify_loops", "agent CPU per check verify on: one loop / loops",
      "%.0f / %.0f us = %.2fx", {"one_cpu_us", "loops_cpu_us", "cpu_per_check_ratio"});
  row("https_agent_verify_loops", "agent CPU per check with the loops: verify on / off",
      "%.0f / %.0f us = %.2fx", {"loops_cpu_us", "noverify_cpu_us", "cpu_ratio"});
  row("https_plugin_verify", "plugin alone, https verify on (145 CAs)",
      "%.0f checks/s, %.0f us (%.0f + %.0f)", {"checks_per_s", "cpu_us", "user_us", "sys_us"});
  row("https_plugin_noverify", "plugin alone, https tls_verify: false",
      "%.0f checks/s, %.0f us (%.0f + %.0f)", {"checks_per_s", "cpu_us", "user_us", "sys_us"});
  row("https_rss_in_flight", "memory per TLS check in flight (1000 at once)",
      "%.1f KiB (%.0f of 1000 up)", {"kib_per_run", "runs_up"});
}

void register_cases() {
  using fn = void (*)(benchmark::State&);
  const std::pair<const char*, fn> cases[] = {
      {"http_ceiling_wrk", http_ceiling_wrk},
      {"http_floor_syscalls", http_floor_syscalls},
      {"http_plugin_lean", http_plugin_lean},
      {"http_plugin_curl", http_plugin_curl},
      {"http_plugin_slow", http_plugin_slow},
      {"http_agent_fast", http_agent_fast},
      {"http_agent_state", http_agent_state},
      {"http_agent_metrics", http_agent_metrics},
      {"http_state_observe", http_state_observe},
      {"http_agent_slow", http_agent_slow},
      {"http_memory_per_check", http_memory_per_check},
      {"https_agent_verify", https_agent_verify},
      {"https_agent_verify_loops", https_agent_verify_loops},
      {"https_plugin_verify", https_plugin_verify},
      {"https_plugin_noverify", https_plugin_noverify},
      {"https_rss_in_flight", https_rss_in_flight},
  };
  for (const auto& [name, f] : cases)
    benchmark::RegisterBenchmark(name, f)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  if (const auto v = isitup::bench::take_flag(argc, argv, "phase_seconds"))
    phase_seconds = std::max(2, std::atoi(v->c_str()));
  return isitup::bench::run_benchmarks(argc, argv, print_table, register_cases);
}
