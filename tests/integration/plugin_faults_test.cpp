// What a broken plugin cannot do to the agent: a real isitup-agent process with the plain-C
// test plugins faulty_check, faulty_blocking and faulty_sink (tests/plugins), which break the
// completion contract on purpose.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <isitup/core/codec.hpp>
#include "process.hpp"

using namespace std::chrono_literals;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";

// A plugin folder with the faulty test plugins and stdout_sink.
std::string plugin_folder(const isitup::test::temp_dir& dir) {
  const auto p = dir / "plugins";
  std::filesystem::create_directory(p);
  for (const char* name : {"faulty_check", "faulty_blocking", "faulty_sink"})
    std::filesystem::copy_file(std::string(ISITUP_TEST_PLUGIN_DIR) + "/" + name + ".so",
                               p / (std::string(name) + ".so"));
  std::filesystem::copy_file(std::string(ISITUP_PLUGIN_DIR) + "/stdout_sink.so",
                             p / "stdout_sink.so");
  return p.string();
}

std::vector<isitup::record> parse(const std::string& out) {
  std::vector<isitup::record> results;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"event_id\"") != std::string::npos) continue;  // a transition
    isitup::record r;
    std::string error;
    EXPECT_TRUE(isitup::codec::decode(line, r, error)) << error << " in line: " << line;
    results.push_back(r);
  }
  return results;
}

int count(const std::vector<isitup::record>& rs, const std::string& check) {
  int n = 0;
  for (const auto& r : rs) n += r.check == check;
  return n;
}

TEST(plugin_faults, a_check_that_completes_twice_is_counted_and_the_agent_lives_on) {
  isitup::test::temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(defaults: {interval: 100ms, timeout: 1s}
checks:
  - {name: twice, plugin: faulty_check, target: t, options: {mode: twice}}
  - {name: later, plugin: faulty_check, target: t, options: {mode: twice_later}}
  - {name: fine, plugin: faulty_check, target: t}
)");
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_folder(dir)});
  std::this_thread::sleep_for(2500ms);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(15s), 0) << agent.err();
  const auto results = parse(agent.out());
  // One result per run, not two: about 25 runs each in 2.5 s.
  EXPECT_GE(count(results, "twice"), 15);
  EXPECT_LE(count(results, "twice"), count(results, "fine") + 2);
  EXPECT_LE(count(results, "later"), count(results, "fine") + 2);
  for (const auto& r : results) EXPECT_TRUE(r.up) << r.check << ": " << r.error_message;
  const std::string err = agent.err();
  EXPECT_NE(err.find("[faulty_check] a completion was called again"), std::string::npos) << err;
  // Rate-limited: dozens of repeated completions, a few lines.
  std::size_t lines = 0;
  for (std::size_t at = err.find("a completion was called again"); at != std::string::npos;
       at = err.find("a completion was called again", at + 1))
    ++lines;
  EXPECT_LE(lines, 6u) << err;
  EXPECT_NE(err.find("completions ignored"), std::string::npos) << err;
}

TEST(plugin_faults, a_hung_blocking_check_is_not_started_again_and_others_keep_running) {
  isitup::test::temp_dir dir;
  std::string cfg = R"(agent: {max_in_flight: 4}
defaults: {interval: 100ms, timeout: 300ms}
checks:
)";
  // Four hung checks would take every worker (max_in_flight 4) if they were started again.
  for (int i = 0; i < 4; ++i)
    cfg += "  - {name: hang" + std::to_string(i) +
           ", plugin: faulty_blocking, target: t, options: {mode: hang}}\n";
  cfg += "  - {name: fine, plugin: faulty_blocking, target: t}\n";
  isitup::test::child_process agent(
      {agent_bin, "-c", dir.write("agent.yml", cfg), "-p", plugin_folder(dir)});
  // At least 3 s (past the hung runs' timeout and abandonment), and until `fine` has run 15
  // times (30 s at the most: a loaded machine may start the agent late, a stuck pool never
  // gets there).
  const auto started = std::chrono::steady_clock::now();
  const auto waited = [&] { return std::chrono::steady_clock::now() - started; };
  while (waited() < 30s && (waited() < 3s || count(parse(agent.out()), "fine") < 15))
    std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(agent.wait(10s), 0) << agent.err();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s) << "shutdown gives up on stuck checks";
  const auto results = parse(agent.out());
  for (int i = 0; i < 4; ++i) {
    const std::string name = "hang" + std::to_string(i);
    EXPECT_EQ(count(results, name), 1) << "one timeout, then never started again";
  }
  EXPECT_GE(count(results, "fine"), 15) << "healthy checks kept their workers";
  const std::string err = agent.err();
  EXPECT_NE(err.find("start() has not returned"), std::string::npos) << err;
  EXPECT_NE(err.find("previous run still inside the plugin"), std::string::npos) << err;
  EXPECT_NE(err.find("abandoned"), std::string::npos) << err;
  EXPECT_NE(err.find("hang3"), std::string::npos) << err;
}

TEST(plugin_faults, once_exits_when_a_blocking_check_hangs_and_names_it) {
  isitup::test::temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(defaults: {timeout: 300ms}
checks:
  - {name: stuck, plugin: faulty_blocking, target: t, options: {mode: hang}}
  - {name: returns_without_done, plugin: faulty_blocking, target: t, options: {mode: no_done}}
  - {name: fine, plugin: faulty_blocking, target: t}
)");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = isitup::test::run({agent_bin, "-c", cfg, "-p", plugin_folder(dir), "--once"}, 15s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(r.code, 1) << r.err;  // down results
  const auto results = parse(r.out);
  ASSERT_EQ(results.size(), 3u) << r.out << r.err;
  for (const auto& x : results) {
    if (x.check == "stuck") {
      EXPECT_EQ(x.error_kind, "timeout");
    }
    if (x.check == "returns_without_done") {
      EXPECT_EQ(x.error_kind, "internal");
    }
    if (x.check == "fine") {
      EXPECT_TRUE(x.up);
    }
  }
  EXPECT_NE(r.err.find("abandoned"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stuck"), std::string::npos) << r.err;
}

TEST(plugin_faults, a_sink_write_never_completed_in_time_is_sent_again_and_the_late_one_ignored) {
  isitup::test::temp_dir dir;
  const std::string cfg = dir.write(
      "agent.yml", R"(pipeline: {sink_timeout: 300ms, batch_delay: 50ms, shutdown_timeout: 2s}
defaults: {interval: 100ms}
sinks:
  - {plugin: faulty_sink, options: {first: late, late_ms: 1s}}
  - {plugin: stdout_sink}
checks:
  - {name: fine, plugin: faulty_check, target: t}
)");
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_folder(dir)});
  std::this_thread::sleep_for(2500ms);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(15s), 0) << agent.err();
  EXPECT_GE(parse(agent.out()).size(), 15u) << agent.err();
  const std::string err = agent.err();
  EXPECT_NE(err.find("[faulty_sink.sink0] no completion for a batch"), std::string::npos) << err;
  EXPECT_NE(err.find("[faulty_sink.sink0] a write completed after pipeline.sink_timeout"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("not delivered"), std::string::npos) << err;
}

TEST(plugin_faults, plugin_counters_are_in_the_status_line_and_bounded) {
  isitup::test::temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(defaults: {interval: 100ms}
checks:
  - {name: counting, plugin: faulty_check, target: t, options: {mode: counters}}
)");
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_folder(dir)});
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(15s), 0) << agent.err();
  const std::string err = agent.err();
  const std::size_t at = err.rfind("status:");
  ASSERT_NE(at, std::string::npos) << err;
  const std::string status = err.substr(at, err.find('\n', at) - at);
  EXPECT_NE(status.find("counters: faulty_check {c0="), std::string::npos) << status;
  // 32 names kept, the other 8 and the hostile one add up under "other" (9 per run).
  EXPECT_NE(status.find("c29="), std::string::npos) << status;
  EXPECT_EQ(status.find("c39="), std::string::npos) << status;
  EXPECT_NE(status.find("other="), std::string::npos) << status;
  EXPECT_EQ(err.find("xxxxx\n"), std::string::npos) << "no line break from a counter name";
}

}  // namespace
