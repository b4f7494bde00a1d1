// agent.max_in_flight_per_plugin on a running isitup-agent: real process, real sockets on
// 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>

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

// The most runs of `plugin` in progress at one instant, from started_at and total time.
// started_at is in whole milliseconds and total_ms is not: a run that starts in the same
// millisecond as the one before ends (its slot freed) could seem to overlap it by a fraction
// of a millisecond (seen once at CI load: 4 against a bound of 3). Each run counts as ended
// 1 ms early; runs of 600 ms that truly overlap still do.
int max_overlap(const std::vector<isitup::record>& results, const std::string& plugin) {
  std::vector<std::pair<double, int>> edges;  // (time, +1 start / -1 end); ends sort first
  for (const auto& r : results) {
    if (r.plugin != plugin) continue;
    edges.emplace_back(static_cast<double>(r.started_at_ms), 1);
    edges.emplace_back(static_cast<double>(r.started_at_ms) + r.total_ms - 1.0, -1);
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, now += d);
  return most;
}

TEST(plugin_bound, a_plugin_at_its_bound_is_skipped_and_counted_while_others_run) {
  isitup::test::tcp_listener silent;  // accepts (backlog), never answers: every run times out
  isitup::test::tcp_listener open;
  isitup::test::temp_dir dir;
  std::string cfg = R"(agent: {max_in_flight_per_plugin: {http_check: 3}}
defaults: {interval: 200ms, timeout: 600ms}
checks:
)";
  for (int i = 0; i < 8; ++i)
    cfg += "  - {name: slow" + std::to_string(i) +
           ", target: \"http://127.0.0.1:" + std::to_string(silent.port()) + "/\"}\n";
  cfg += "  - {name: tcp, plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(open.port()) +
         "\"}\n";
  isitup::test::child_process agent(
      {agent_bin, "-c", dir.write("agent.yml", cfg), "-p", plugin_dir});
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(15s), 0) << agent.err();

  std::vector<isitup::record> results;
  std::istringstream in(agent.out());
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"event_id\"") != std::string::npos) continue;  // a transition
    isitup::record r;
    std::string error;
    ASSERT_TRUE(isitup::codec::decode(line, r, error)) << error << " in line: " << line;
    results.push_back(r);
  }
  int slow = 0, tcp = 0;
  for (const auto& r : results) {
    if (r.plugin == "http_check") {
      ++slow;
      EXPECT_EQ(r.error_kind, "timeout") << r.check;
    } else {
      ++tcp;
      EXPECT_TRUE(r.up) << r.error_message;
    }
  }
  // 3 s at most 3 at a time, 0.6 s each: about 15 runs (8 checks unbounded would give ~40).
  EXPECT_GE(slow, 6);
  EXPECT_LE(slow, 3 * 4 + 3);
  EXPECT_LE(max_overlap(results, "http_check"), 3);
  EXPECT_GE(tcp, 12) << "the unbounded plugin kept its 200 ms interval";
  EXPECT_EQ(agent.err().find(" 0 at a plugin's bound"), std::string::npos) << agent.err();
  EXPECT_NE(agent.err().find("at a plugin's bound"), std::string::npos) << agent.err();
}

}  // namespace
