// SIGHUP reload of a running isitup-agent: real process, real sockets on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include <isitup/core/codec.hpp>
#include "listener.hpp"
#include "process.hpp"

using namespace std::chrono_literals;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

// check name -> scheduled times, sorted.
std::map<std::string, std::vector<int64_t>> runs_by_check(const std::string& out) {
  std::map<std::string, std::vector<int64_t>> runs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"event_id\"") != std::string::npos) continue;  // a transition
    isitup::record r;
    std::string error;
    EXPECT_TRUE(isitup::codec::decode(line, r, error)) << error << " in line: " << line;
    EXPECT_TRUE(r.up) << line;
    runs[r.check].push_back(r.scheduled_at_ms);
  }
  for (auto& [name, t] : runs) std::sort(t.begin(), t.end());
  return runs;
}

// Waits until the agent's log has `count` occurrences of `text`; false after `limit`.
bool wait_for_log(isitup::test::child_process& agent, const std::string& text, int count,
                  std::chrono::milliseconds limit = 10s) {
  for (int i = 0; i < limit / 50ms; ++i) {
    const std::string err = agent.err();
    int found = 0;
    for (auto at = err.find(text); at != std::string::npos; at = err.find(text, at + 1)) ++found;
    if (found >= count) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string check(const std::string& name, int port, const std::string& extra = "") {
  return "  - {name: " + name + ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(port) +
         "\"" + extra + "}\n";
}

void expect_grid(const std::vector<int64_t>& times, int64_t step, const std::string& what) {
  for (std::size_t i = 1; i < times.size(); ++i)
    EXPECT_EQ(times[i] - times[i - 1], step) << what << ": runs not on a " << step << " ms grid";
}

TEST(reload, sighup_applies_checks_and_keeps_unchanged_ones_on_their_grid) {
  isitup::test::tcp_listener open;
  const int port = open.port();
  isitup::test::temp_dir dir;
  const std::string head = "defaults: {interval: 200ms, timeout: 1s}\nchecks:\n";
  const std::string cfg = dir.write(
      "agent.yml", head + check("keep", port) + check("gone", port) + check("moved", port));
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
  ASSERT_TRUE(wait_for_log(agent, "running 3 checks", 1)) << agent.err();
  std::this_thread::sleep_for(1200ms);

  dir.write("agent.yml", head + check("keep", port) + check("moved", port, ", interval: 300ms") +
                             check("fresh", port));
  const int64_t before_reload = isitup::sdk::wall_ms();
  agent.signal(SIGHUP);
  ASSERT_TRUE(
      wait_for_log(agent, "reload: 3 checks (1 unchanged, 1 changed, 1 added, 1 removed)", 1))
      << agent.err();
  const int64_t after_reload = isitup::sdk::wall_ms();
  std::this_thread::sleep_for(1500ms);

  // A broken file is refused with its location; everything keeps running as it was.
  dir.write("agent.yml", head + check("keep", port) + "  - {name: bad, interval: soon}\n");
  agent.signal(SIGHUP);
  ASSERT_TRUE(wait_for_log(agent, "reload refused", 1)) << agent.err();
  EXPECT_NE(agent.err().find("agent.yml:4:"), std::string::npos) << agent.err();
  // A sink change is named as needing a restart, the checks still apply.
  dir.write("agent.yml", head + check("keep", port) + check("moved", port, ", interval: 300ms") +
                             check("fresh", port) +
                             "sinks: [{plugin: stdout_sink, options: {format: text}}]\n");
  agent.signal(SIGHUP);
  ASSERT_TRUE(wait_for_log(agent, "sinks changed", 1)) << agent.err();
  ASSERT_TRUE(wait_for_log(agent, "reload: 3 checks (3 unchanged", 1)) << agent.err();
  std::this_thread::sleep_for(1000ms);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(15s), 0) << agent.err();

  auto runs = runs_by_check(agent.out());  // still JSON: the sink change was not applied
  ASSERT_EQ(runs.size(), 4u) << agent.out() << agent.err();
  // Unchanged: one unbroken 200 ms grid across all three reloads (nothing skipped or doubled).
  EXPECT_GE(runs["keep"].size(), 17u);
  expect_grid(runs["keep"], 200, "keep");
  // Removed: nothing scheduled after the reload.
  EXPECT_GE(runs["gone"].size(), 4u);
  EXPECT_LT(runs["gone"].back(), after_reload);
  // Changed: the old 200 ms runs until the reload, then a 300 ms grid. Runs between the
  // signal and the logged reload may be on either grid (a loaded machine takes a while).
  std::vector<int64_t> old_grid, new_grid;
  for (int64_t t : runs["moved"]) {
    if (t < before_reload) old_grid.push_back(t);
    if (t > after_reload) new_grid.push_back(t);
  }
  EXPECT_GE(old_grid.size(), 4u);
  EXPECT_GE(new_grid.size(), 6u);
  expect_grid(old_grid, 200, "moved before reload");
  expect_grid(new_grid, 300, "moved after reload");
  // Added: only after the reload, on its grid.
  EXPECT_GT(runs["fresh"].front(), before_reload);
  EXPECT_GE(runs["fresh"].size(), 10u);
  expect_grid(runs["fresh"], 200, "fresh");
}

TEST(reload, a_check_its_plugin_refuses_leaves_everything_as_it_was) {
  isitup::test::tcp_listener open;
  const int port = open.port();
  isitup::test::temp_dir dir;
  const std::string head = "defaults: {interval: 200ms, timeout: 1s}\nchecks:\n";
  const std::string cfg = dir.write("agent.yml", head + check("keep", port));
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
  ASSERT_TRUE(wait_for_log(agent, "running 1 checks", 1)) << agent.err();
  // "new" is fine, but tcp_check refuses "nope" as a target: neither is applied, keep stays.
  dir.write("agent.yml", head + check("new", port) +
                             "  - {name: nope, plugin: tcp_check, target: \"no port\"}\n");
  agent.signal(SIGHUP);
  ASSERT_TRUE(wait_for_log(agent, "reload refused", 1)) << agent.err();
  EXPECT_NE(agent.err().find("agent.yml:4:"), std::string::npos) << agent.err();
  std::this_thread::sleep_for(1000ms);
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(15s), 0) << agent.err();
  auto runs = runs_by_check(agent.out());
  ASSERT_EQ(runs.size(), 1u) << agent.out();
  EXPECT_GE(runs["keep"].size(), 5u);
  expect_grid(runs["keep"], 200, "keep");
}

// One check's results: (scheduled, started) pairs, sorted by schedule.
std::vector<std::pair<int64_t, int64_t>> run_times(const std::string& out,
                                                   const std::string& name) {
  std::vector<std::pair<int64_t, int64_t>> times;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    isitup::record r;
    std::string error;
    if (isitup::codec::decode(line, r, error) && r.check == name)
      times.emplace_back(r.scheduled_at_ms, r.started_at_ms);
  }
  std::sort(times.begin(), times.end());
  return times;
}

// 200,000 checks and a mistake on the last line: seconds of parsing, then refused.
std::string huge_broken_config(const std::string& head, int port) {
  std::string yaml = head + check("tick", port);
  for (int i = 0; i < 200000; ++i)
    yaml += "  - {name: c" + std::to_string(i) +
            ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(port) +
            "\", interval: 1h}\n";
  return yaml + "  - {name: bad, interval: soon, target: x}\n";
}

TEST(reload, loading_a_fifo_or_a_huge_config_never_pauses_running_checks) {
  isitup::test::tcp_listener open;
  const int port = open.port();
  isitup::test::temp_dir dir;
  const std::string head = "defaults: {interval: 1s, timeout: 1s}\nchecks:\n";
  const std::string cfg = dir.write("agent.yml", head + check("tick", port));
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
  ASSERT_TRUE(wait_for_log(agent, "running 1 checks", 1)) << agent.err();
  std::this_thread::sleep_for(1500ms);

  // A FIFO with no writer in place of the config: refused at once, not waited on.
  const std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::rename(fifo, cfg);
  agent.signal(SIGHUP);
  ASSERT_TRUE(wait_for_log(agent, "reload refused", 1)) << agent.err();
  EXPECT_NE(agent.err().find("it is a FIFO, not a regular file"), std::string::npos) << agent.err();

  // A huge file takes seconds to parse, off the scheduler's thread: tick keeps its 1 s grid
  // and starts on time all along.
  std::filesystem::remove(cfg);
  dir.write("agent.yml", huge_broken_config(head, port));
  const int64_t before_load = isitup::sdk::wall_ms();
  agent.signal(SIGHUP);
  ASSERT_TRUE(wait_for_log(agent, "reload refused", 2, 60s)) << agent.err();
  const int64_t after_load = isitup::sdk::wall_ms();
  std::this_thread::sleep_for(1200ms);

  // And a stop while such a file loads still stops the agent at once: well before that load
  // could end (it took after_load - before_load above: seconds, 40 s seen on a loaded machine).
  agent.signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  const auto stop = std::chrono::steady_clock::now();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(60s), 0) << agent.err();
  const auto load = std::chrono::milliseconds(after_load - before_load);
  EXPECT_LT(std::chrono::steady_clock::now() - stop,
            std::max<std::chrono::milliseconds>(3s, load / 2))
      << "load took " << load.count() << " ms\n"
      << agent.err();

  const auto times = run_times(agent.out(), "tick");
  std::size_t during_load = 0;
  for (std::size_t i = 0; i < times.size(); ++i) {
    const auto [scheduled, started] = times[i];
    EXPECT_LT(started - scheduled, 300) << "tick started late at " << scheduled;
    if (i > 0) {
      EXPECT_EQ(scheduled - times[i - 1].first, 1000) << "tick skipped a run";
    }
    if (scheduled > before_load && scheduled < after_load) ++during_load;
  }
  EXPECT_GE(during_load, static_cast<std::size_t>((after_load - before_load) / 1000 - 1))
      << "load took " << after_load - before_load << " ms";
  EXPECT_GE(times.size(), 5u);
}

TEST(reload, adding_many_checks_keeps_running_ones_on_time) {
  isitup::test::tcp_listener open;
  const int port = open.port();
  isitup::test::temp_dir dir;
  const std::string head = "defaults: {interval: 1s, timeout: 1s}\nchecks:\n";
  const std::string cfg = dir.write("agent.yml", head + check("tick", port));
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
  ASSERT_TRUE(wait_for_log(agent, "running 1 checks", 1)) << agent.err();
  std::this_thread::sleep_for(1500ms);
  // 50,000 new checks, due once a month: loaded off the scheduler's thread, prepared a few
  // ms at a time between runs.
  std::string yaml = head + check("tick", port);
  for (int i = 0; i < 50000; ++i)
    yaml += "  - {name: m" + std::to_string(i) +
            ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(port) +
            "\", interval: 30d}\n";
  dir.write("agent.yml", yaml);
  agent.signal(SIGHUP);
  ASSERT_TRUE(
      wait_for_log(agent, "reload: 50001 checks (1 unchanged, 0 changed, 50000 added", 1, 60s))
      << agent.err();
  std::this_thread::sleep_for(1200ms);
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(30s), 0) << agent.err();
  const auto times = run_times(agent.out(), "tick");
  ASSERT_GE(times.size(), 3u) << agent.out();
  for (std::size_t i = 0; i < times.size(); ++i) {
    EXPECT_LT(times[i].second - times[i].first, 300) << "tick started late at " << times[i].first;
    if (i > 0) {
      EXPECT_EQ(times[i].first - times[i - 1].first, 1000) << "tick skipped a run";
    }
  }
}

}  // namespace
