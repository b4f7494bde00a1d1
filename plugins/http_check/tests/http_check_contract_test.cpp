// http_check's async contract through the raw ABI (many runs in flight, a long wait queue,
// max_in_flight, destroy mid-run), on both engines, and the real agent loading the built plugin.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "http_engine.hpp"
#include "http_fixture.hpp"

namespace isitup::http {
namespace {

using namespace testing;  // the fixture's names (http_fixture.hpp)

// ---------------------------------------------------------------- the async contract

struct run_counter {
  std::atomic<int> calls{0}, up{0}, slot_timeouts{0}, handshake_waits{0};
  static void done(void* ctx, const isitup_record_v1* r) {
    auto* c = static_cast<run_counter*>(ctx);
    if (r->status == ISITUP_UP) ++c->up;
    if (r->error_message && std::strstr(r->error_message, "max_in_flight")) ++c->slot_timeouts;
    if (r->error_message && std::strstr(r->error_message, "waiting to start its TLS handshake"))
      ++c->handshake_waits;
    ++c->calls;
  }
};

// Raw ABI access for what check_under_test does not do: many runs at once, destroy mid-run.
struct raw_plugin {
  raw_plugin(fake_host& h, std::string engine_name)
      : ops(isitup_plugin_entry()->check), engine(std::move(engine_name)) {
    char err[256] = "";
    EXPECT_EQ(ops->create(h.table(), h.ctx(), &instance, err, sizeof err), ISITUP_OK) << err;
  }
  void* prepare(const std::string& target, option_map given, std::chrono::milliseconds timeout) {
    given.emplace("engine", engine);
    options.push_back(std::make_unique<sdk::testing::fake_options>(ops->options, ops->option_count,
                                                                   std::move(given)));
    const isitup_check_spec_v1 spec{sizeof spec, target.c_str(),  target.c_str(),
                                    60000,       timeout.count(), options.back()->raw()};
    char err[256] = "";
    void* c = nullptr;
    EXPECT_EQ(ops->prepare(instance, &spec, &c, err, sizeof err), ISITUP_OK) << err;
    checks.push_back(c);
    return c;
  }
  void start(void* c, std::chrono::milliseconds timeout, run_counter& counter) {
    const isitup_run_v1 run{sizeof run, 0, timeout.count()};
    ops->start(instance, c, &run, &run_counter::done, &counter);
  }
  void destroy() {
    for (void* c : checks) ops->release(instance, c);
    ops->destroy(instance);
  }
  const isitup_check_ops_v1* ops;
  std::string engine;
  void* instance = nullptr;
  std::vector<std::unique_ptr<sdk::testing::fake_options>> options;
  std::vector<void*> checks;
};

TEST_P(http_check_test, many_runs_in_flight_each_complete_once) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  for (const char* loops : {"1", "4", "0"}) {
    SCOPED_TRACE(std::string("loops: ") + loops);
    raw_plugin p(host_, GetParam());
    run_counter counter;
    constexpr int n = 300;
    std::vector<void*> checks;
    checks.reserve(n);
    for (int i = 0; i < n; ++i)
      checks.push_back(
          p.prepare(http("/?n=" + std::to_string(i), i % 2 ? "localhost" : "127.0.0.1"),
                    {{"loops", loops}}, 5s));
    const auto t0 = std::chrono::steady_clock::now();
    for (void* c : checks) p.start(c, 5s, counter);
    // Every run ends by its 5 s timeout; the generous bound only stops a hang (a loaded machine
    // may be slow to deliver the last completions).
    while (counter.calls < n && std::chrono::steady_clock::now() - t0 < 30s)
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(100ms);  // a second completion would show up here
    EXPECT_EQ(counter.calls.load(), n);
    EXPECT_EQ(counter.up.load(), n);
    p.destroy();
  }
}

// `loops: 0`: a loop is added only while every loop in use is busy and none waits for a CPU
// (an idle core), one is taken away when one waits for a CPU or the work fits on fewer; never
// outside 1..most, one step at a time.
TEST(http_check_loops, the_count_grows_into_idle_cores_and_shrinks_when_loops_wait) {
  using load = engine::loop_load;
  // One saturated loop with a core to spare: a second.
  EXPECT_EQ(engine::next_loop_count(1, 2, {{0.95, 0.02}}), 2);
  // Saturated but waiting for a CPU (the cores are taken): stays at one.
  EXPECT_EQ(engine::next_loop_count(1, 2, {{0.95, 0.30}}), 1);
  EXPECT_EQ(engine::next_loop_count(1, 2, {{0.95, 0.15}}), 1);
  // Not busy enough to need another.
  EXPECT_EQ(engine::next_loop_count(1, 2, {{0.50, 0.00}}), 1);
  // At the most already.
  EXPECT_EQ(engine::next_loop_count(2, 2, {{0.95, 0.0}, {0.95, 0.0}}), 2);
  EXPECT_EQ(engine::next_loop_count(3, 4, {{0.9, 0.0}, {0.9, 0.0}, {0.9, 0.0}}), 4);
  // Every loop must be busy to grow.
  EXPECT_EQ(engine::next_loop_count(2, 4, {{0.95, 0.0}, {0.60, 0.0}}), 2);
  // One loop waits for a CPU: one fewer.
  EXPECT_EQ(engine::next_loop_count(2, 2, {{0.95, 0.0}, {0.95, 0.40}}), 1);
  // The work fits on fewer (under half busy on one fewer loop): one fewer.
  EXPECT_EQ(engine::next_loop_count(2, 2, {{0.20, 0.0}, {0.20, 0.0}}), 1);
  EXPECT_EQ(engine::next_loop_count(3, 4, {{0.30, 0.0}, {0.30, 0.0}, {0.30, 0.0}}), 2);
  EXPECT_EQ(engine::next_loop_count(3, 4, {{0.40, 0.0}, {0.40, 0.0}, {0.40, 0.0}}), 3);
  // Never below one, never above most, whatever comes in.
  EXPECT_EQ(engine::next_loop_count(1, 2, {{0.0, 0.9}}), 1);
  EXPECT_EQ(engine::next_loop_count(5, 2, std::vector<load>{}), 2);
  EXPECT_EQ(engine::next_loop_count(0, 2, std::vector<load>{}), 1);
}

// Thousands of runs behind a small max_in_flight: the wait queue is consumed, compacted and
// expired from; each run still completes exactly once.
TEST_P(http_check_test, long_wait_queue_completes_every_run_once) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  raw_plugin p(host_, GetParam());
  run_counter counter;
  constexpr int n = 5000;
  std::vector<void*> checks;
  checks.reserve(n);
  for (int i = 0; i < n; ++i)
    checks.push_back(p.prepare(http("/?q=" + std::to_string(i)), {{"max_in_flight", "50"}}, 2s));
  const auto t0 = std::chrono::steady_clock::now();
  for (void* c : checks) p.start(c, 2s, counter);
  while (counter.calls < n && std::chrono::steady_clock::now() - t0 < 4s)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(counter.calls.load(), n);
  EXPECT_EQ(counter.up.load() + counter.slot_timeouts.load(), n);
  EXPECT_GT(counter.up.load(), 0);
  p.destroy();
}

TEST_P(http_check_test, max_in_flight_caps_concurrent_requests) {
  bad_server server(bad_server::mode::silent);
  raw_plugin p(host_, GetParam());
  run_counter counter;
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  std::vector<void*> checks;
  checks.reserve(4);
  for (int i = 0; i < 4; ++i) checks.push_back(p.prepare(url, {{"max_in_flight", "2"}}, 1s));
  // The two that get the slots hold them for 2 s; the two queued behind them give up at 1 s,
  // well before a slot frees, whatever the machine's load.
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < checks.size(); ++i) p.start(checks[i], i < 2 ? 2s : 1s, counter);
  while (counter.calls < 4 && std::chrono::steady_clock::now() - t0 < 5s)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(counter.calls.load(), 4);
  EXPECT_EQ(counter.up.load(), 0);
  EXPECT_EQ(counter.slot_timeouts.load(), 2);  // two ran, two waited for a slot until timeout
  EXPECT_LE(std::chrono::steady_clock::now() - t0, 3s + 500ms);
  p.destroy();
}

// A listener on 127.0.0.1 that answers nothing: the kernel completes TCP handshakes into its
// backlog, so the connections the plugin opened are counted by accepting them (and kept open,
// silent).
struct mute_listener {
  mute_listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(listen(fd, 1024), 0);
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
  }
  ~mute_listener() {
    for (int c : accepted) close(c);
    close(fd);
  }
  // Connections opened so far: polls until `n` or `wait` passed, then looks `settle` longer
  // for any beyond them.
  size_t opened(size_t n, std::chrono::milliseconds wait, std::chrono::milliseconds settle) {
    const auto until = std::chrono::steady_clock::now() + wait;
    auto take = [&] {
      for (int c; (c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) accepted.push_back(c);
    };
    while (accepted.size() < n && std::chrono::steady_clock::now() < until) {
      take();
      std::this_thread::sleep_for(5ms);
    }
    std::this_thread::sleep_for(settle);
    take();
    return accepted.size();
  }
  int fd = -1;
  int port = 0;
  std::vector<int> accepted;
};

// 300 https runs to a listener that never answers a ClientHello: the lean engine starts at
// most 256 handshakes for the plugin instance, whatever its loops, and the runs queued behind
// that bound until their timeout say so, not max_in_flight. curl starts them all.
// The 44 short runs start only once the listener has seen the 256 connections, which hold
// their handshakes (60 s) until the listener hangs up: however slowly a loaded machine paces
// the 256 in, the 44 can then only wait for the bound. (Started together, a run that expired
// while the loop was still pacing starts in would rightly say that instead.)
TEST_P(http_check_test, runs_queued_behind_the_handshake_bound_say_why) {
  const bool lean = GetParam() == "auto";
  for (const char* loops : {"1", "4"}) {
    SCOPED_TRACE(std::string("loops: ") + loops);
    mute_listener server;
    const std::string url = "https://127.0.0.1:" + std::to_string(server.port) + "/";
    raw_plugin p(host_, GetParam());
    run_counter counter;
    std::vector<void*> checks;
    checks.reserve(300);
    for (int i = 0; i < 300; ++i)
      checks.push_back(p.prepare(url + "?n=" + std::to_string(i),
                                 {{"tls_verify", "false"}, {"loops", loops}}, 60s));
    for (int i = 0; i < 256; ++i) p.start(checks[i], 60s, counter);
    // The bounds only stop a hang: nothing ends before the hang-up but the 44 on the lean engine.
    ASSERT_EQ(server.opened(256, 30s, 200ms), 256u);
    // On curl the 44 connect too, and hold their handshakes like the others.
    for (int i = 256; i < 300; ++i) p.start(checks[i], lean ? 1s : 60s, counter);
    if (lean) {
      const auto t0 = std::chrono::steady_clock::now();
      while (counter.calls < 44 && std::chrono::steady_clock::now() - t0 < 30s)
        std::this_thread::sleep_for(10ms);
      EXPECT_EQ(counter.handshake_waits.load(), 44);
      EXPECT_EQ(server.opened(256, 0ms, 200ms), 256u);  // none of the 44 connected
    } else {
      EXPECT_EQ(server.opened(300, 30s, 200ms), 300u);
    }
    EXPECT_EQ(counter.calls.load(), lean ? 44 : 0);
    // The listener hangs up: every handshake in progress fails.
    for (int c : server.accepted) close(c);
    server.accepted.clear();
    const auto t0 = std::chrono::steady_clock::now();
    while (counter.calls < 300 && std::chrono::steady_clock::now() - t0 < 30s)
      std::this_thread::sleep_for(10ms);
    EXPECT_EQ(counter.calls.load(), 300);
    EXPECT_EQ(counter.up.load(), 0);
    EXPECT_EQ(counter.slot_timeouts.load(), 0);
    EXPECT_EQ(counter.handshake_waits.load(), lean ? 44 : 0);
    p.destroy();
  }
}

// max_in_flight holds for the plugin instance, not per loop: 8 checks spread over 4 loops
// (by URL) and a cap of 2 open 2 connections.
TEST_P(http_check_test, max_in_flight_holds_across_loops) {
  mute_listener server;
  raw_plugin p(host_, GetParam());
  run_counter counter;
  std::vector<void*> checks;
  checks.reserve(8);
  for (int i = 0; i < 8; ++i)
    checks.push_back(
        p.prepare("http://127.0.0.1:" + std::to_string(server.port) + "/?n=" + std::to_string(i),
                  {{"max_in_flight", "2"}, {"loops", "4"}}, 1s));
  const auto t0 = std::chrono::steady_clock::now();
  for (void* c : checks) p.start(c, 1s, counter);
  EXPECT_EQ(server.opened(2, 800ms, 150ms), 2u);
  while (counter.calls < 8 && std::chrono::steady_clock::now() - t0 < 4s)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(counter.calls.load(), 8);
  EXPECT_EQ(counter.up.load(), 0);
  EXPECT_GE(counter.slot_timeouts.load(), 1);
  p.destroy();
}

// A slot freed on one loop starts the run waiting on another at once: 16 quick checks on 4
// loops with one slot finish in well under the second a loop with nothing to do sleeps.
TEST_P(http_check_test, a_freed_slot_wakes_the_other_loops) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  raw_plugin p(host_, GetParam());
  run_counter counter;
  std::vector<void*> checks;
  checks.reserve(16);
  for (int i = 0; i < 16; ++i)
    checks.push_back(
        p.prepare(http("/?n=" + std::to_string(i)), {{"max_in_flight", "1"}, {"loops", "4"}}, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  for (void* c : checks) p.start(c, 5s, counter);
  while (counter.calls < 16 && std::chrono::steady_clock::now() - t0 < 6s)
    std::this_thread::sleep_for(2ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(counter.up.load(), 16);
  EXPECT_LT(took, 900ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms";
  p.destroy();
}

TEST_P(http_check_test, destroy_abandons_runs_in_flight_without_completing_them) {
  bad_server server(bad_server::mode::silent);
  // A UDP socket nobody reads: a DNS server that never answers.
  const int quiet_dns = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(quiet_dns, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(getsockname(quiet_dns, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string quiet = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  raw_plugin p(host_, GetParam());
  run_counter counter;
  void* slow = p.prepare("http://127.0.0.1:" + std::to_string(server.port()) + "/", {}, 30s);
  void* resolving = p.prepare("http://nx.test/", {{"dns_servers", list_value{quiet}}}, 30s);
  p.start(slow, 30s, counter);
  p.start(resolving, 30s, counter);
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  p.destroy();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(counter.calls.load(), 0);
  close(quiet_dns);
}

// The real agent loads the built plugin: `domains:` entries and an explicit check with YAML
// options (a status list mixing numbers and ranges) run against nginx.
TEST(http_check_agent, domains_and_checks_run_through_the_agent) {
  ASSERT_TRUE(nginx().ok()) << nginx().error();
  const std::string base = "http://127.0.0.1:" + std::to_string(nginx().http_port);
  test::temp_dir dir;
  const std::string cfg = dir.write("agent.yml",
                                    "agent: {id: t}\ndefaults: {timeout: 2s}\n"
                                    "domains:\n  - " +
                                        base + "/\n  - " + base +
                                        "/500\n"
                                        "checks:\n  - name: gone\n    target: " +
                                        base +
                                        "/404\n    options: {expect_status: [200, "
                                        "\"400-404\"], regex: \"Not Found\"}\n");
  const auto r = test::run({std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent", "--config", cfg,
                            "--plugins-dir", ISITUP_PLUGIN_DIR, "--once"},
                           20s);
  EXPECT_EQ(r.code, 1) << r.err;  // /500 is down
  std::map<std::string, std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("\"check\":\"");
    if (at == std::string::npos) continue;
    const auto start = at + 9;
    lines[line.substr(start, line.find('"', start) - start)] = line;
  }
  ASSERT_EQ(lines.size(), 3u) << r.out << r.err;
  EXPECT_NE(lines[base + "/"].find("\"status\":\"up\""), std::string::npos) << lines[base + "/"];
  EXPECT_NE(lines[base + "/"].find("\"code\":200"), std::string::npos);
  EXPECT_NE(lines[base + "/500"].find("\"kind\":\"http_status\""), std::string::npos);
  EXPECT_NE(lines["gone"].find("\"status\":\"up\""), std::string::npos) << lines["gone"];
  EXPECT_NE(lines["gone"].find("\"regex_match\":true"), std::string::npos) << lines["gone"];
}

}  // namespace
}  // namespace isitup::http
