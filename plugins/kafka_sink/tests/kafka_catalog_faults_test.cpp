// The probe fleet through faults (set-up: catalog_fleet.hpp): a probe killed and started
// again, every broker down for 20 s, a probe stopped (SIGSTOP) shorter and longer than its
// session timeout.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog_fleet.hpp"
#include "eventually.hpp"

using namespace std::chrono_literals;
using namespace isitup::fleet_test;  // the fleet's set-up: probes, results, catalog_test
using isitup::test::eventually;

namespace {

// Within 45 s: every one of the `n` checks has a result of the last 2 s, and each of `probes`
// ran some of them.
bool each_runs_some(const std::vector<const probe*>& probes, std::size_t n) {
  return eventually(
      [&] {
        const int64_t recent = epoch_ms() - 2000;
        if (checks_seen(all_results(probes, nullptr), recent).size() != n) return false;
        return std::none_of(probes.begin(), probes.end(), [&](const probe* p) {
          return checks_seen(p->results(), recent).empty();
        });
      },
      45s, 200ms);
}

}  // namespace

// kill -9 of one probe: its checks resume on the two others, up at nginx; the largest gap
// between two results of any check is bounded by the session timeout, the broker's rebalance
// and two intervals; no run is produced twice. Started again, it takes some partitions back
// while the checks that stay keep running every interval.
TEST_F(catalog_test, a_killed_probe_s_checks_move_to_the_others_and_back_when_it_returns) {
  constexpr int n = 30;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, url()))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe eu1(dir_, bs, "eu1", "eu"), eu2(dir_, bs, "eu2", "eu"), eu3(dir_, bs, "eu3", "eu");
  const std::vector<const probe*> eu{&eu1, &eu2, &eu3};
  ASSERT_TRUE(each_runs_some(eu, n)) << eu1.proc->err();
  const std::set<std::string> moved = checks_seen(eu3.results(), epoch_ms() - 2000);
  ASSERT_FALSE(moved.empty());
  const int64_t killed = epoch_ms();
  eu3.proc->signal(SIGKILL);
  eu3.proc->wait(10s);
  const std::vector<const probe*> survivors{&eu1, &eu2};
  ASSERT_TRUE(eventually(
      [&] { return checks_seen(all_results(survivors, nullptr), killed).size() == n; }, 40s, 200ms))
      << "the survivors do not run every check: " << eu1.proc->err();
  std::this_thread::sleep_for(3s);

  int twice = 0;
  std::map<std::string, std::vector<int64_t>> runs;
  for (const result& r : all_results(eu, &twice)) runs[r.check].push_back(r.scheduled_at);
  EXPECT_EQ(twice, 0) << "(check, scheduled_at) produced by two probes";
  int64_t largest_gap = 0;
  std::string worst;
  for (auto& [check, times] : runs) {
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i)
      if (times[i] > killed - 1000 && times[i] - times[i - 1] > largest_gap) {
        largest_gap = times[i] - times[i - 1];
        worst = check;
      }
  }
  // The mock broker holds a rebalance open for session timeout - 1 s (a real one ends it when
  // every member rejoined) and looks at sessions once a second, so both are part of the bound
  // here, with two intervals and 4 s for the new owners to read their partitions and start the
  // checks on a loaded machine (measured: 6-10 s in all).
  constexpr int64_t interval_ms = 1000;
  const int64_t bound = session_timeout_ms + (session_timeout_ms - 1000) + 2 * interval_ms + 4000;
  std::printf("kill -9: %zu checks moved, largest gap %lld ms (check %s), bound %lld ms\n",
              moved.size(), static_cast<long long>(largest_gap), worst.c_str(),
              static_cast<long long>(bound));
  EXPECT_LE(largest_gap, bound) << "check " << worst << " killed at " << killed << "\n"
                                << eu1.proc->err() << eu2.proc->err();
  EXPECT_TRUE(moved.contains(worst) || largest_gap <= 1000)
      << "a check that did not move (" << worst << ") had a gap of " << largest_gap << " ms";
  const up_report up_after_kill = up_since(all_results(survivors, nullptr), killed);
  EXPECT_EQ(up_after_kill.checks_up.size(), static_cast<size_t>(n))
      << "checks not up on the survivors";
  EXPECT_TRUE(up_after_kill.failures.empty()) << joined(up_after_kill.failures);

  // It comes back: partitions move to it (cooperative-sticky: only those), and the checks that
  // stay where they are keep their grid, no gap longer than one interval.
  const int64_t back = epoch_ms();
  probe again(dir_, bs, "eu3b", "eu");
  ASSERT_TRUE(eventually([&] { return !checks_seen(again.results(), back).empty(); }, 40s, 200ms))
      << "the returning probe took no checks: " << again.proc->err();
  std::this_thread::sleep_for(3s);
  const std::set<std::string> moved_back = checks_seen(again.results(), back);
  const std::vector<const probe*> all{&eu1, &eu2, &eu3, &again};
  runs.clear();
  for (const result& r : all_results(all, &twice)) runs[r.check].push_back(r.scheduled_at);
  EXPECT_EQ(twice, 0) << "(check, scheduled_at) produced by two probes";
  int64_t stayed_gap = 0;
  for (auto& [check, times] : runs) {
    if (moved_back.contains(check)) continue;
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i)
      if (times[i] > back) stayed_gap = std::max(stayed_gap, times[i] - times[i - 1]);
  }
  std::printf("restarted: %zu checks moved back, largest gap of the %zu others %lld ms\n",
              moved_back.size(), runs.size() - moved_back.size(),
              static_cast<long long>(stayed_gap));
  EXPECT_LE(stayed_gap, 1000) << "a check that did not move missed a run";
  EXPECT_LT(moved_back.size(), static_cast<size_t>(n)) << "everything moved: not sticky";
  const up_report up_back = up_since(all_results(all, nullptr), back);
  EXPECT_EQ(up_back.checks_up.size(), static_cast<size_t>(n)) << "checks not up after the return";
  EXPECT_TRUE(up_back.failures.empty()) << joined(up_back.failures);
  std::printf("after the kill %d runs (%d timed out), after the return %d (%d timed out)\n",
              up_after_kill.runs, up_after_kill.timed_out, up_back.runs, up_back.timed_out);
  for (probe* p : {&eu1, &eu2, &again}) {
    p->proc->signal(SIGTERM);
    EXPECT_EQ(p->proc->wait(30s), 0) << p->proc->err();
  }
}

// Every broker down for the 20 s, far longer than the session timeout (and at least
// until both probes said their partitions were lost, then the session timeout and 2 s more):
// the probes keep running the checks they have, up at nginx, and once the brokers are back
// every check runs on exactly one probe again.
TEST_F(catalog_test, probes_keep_their_checks_while_the_broker_is_down) {
  constexpr int n = 20;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, url()))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe eu1(dir_, bs, "eu1", "eu"), eu2(dir_, bs, "eu2", "eu");
  const std::vector<const probe*> eu{&eu1, &eu2};
  ASSERT_TRUE(eventually(
      [&] {
        const int64_t recent = epoch_ms() - 2000;
        return checks_seen(all_results(eu, nullptr), recent).size() == n &&
               !checks_seen(eu1.results(), recent).empty() &&
               !checks_seen(eu2.results(), recent).empty();
      },
      45s, 200ms))
      << eu1.proc->err();
  const int64_t down_at = epoch_ms();
  ASSERT_EQ(broker_.command("down all").rfind("ok", 0), 0u);
  const auto lost = [](const probe& p) {
    return p.proc->err().find("keep running until it answers") != std::string::npos;
  };
  EXPECT_TRUE(eventually([&] { return lost(eu1) && lost(eu2); }, 30s, 200ms))
      << "the outage did not outlast the session timeout: " << eu1.proc->err() << eu2.proc->err();
  // Then the session timeout and 2 s more: the broker expires both members while it is down,
  // as in a long outage (coming back sooner, the mock once left the group without an
  // assignment for 40 s); and 20 s in all.
  std::this_thread::sleep_for(std::chrono::milliseconds(session_timeout_ms + 2000));
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::max<int64_t>(0, down_at + 20000 - epoch_ms())));
  const int64_t up_at = epoch_ms();
  std::printf("broker down for %lld ms\n", static_cast<long long>(up_at - down_at));
  ASSERT_EQ(broker_.command("up all").rfind("ok", 0), 0u);
  // Back: both probes in the group again, every check running.
  ASSERT_TRUE(eventually(
      [&] {
        const int64_t recent = epoch_ms() - 2000;
        return eu1.proc->err().rfind("assigned catalog partitions") >
                   eu1.proc->err().find("keep running") &&
               checks_seen(all_results(eu, nullptr), recent).size() == n;
      },
      40s, 200ms))
      << eu1.proc->err() << eu2.proc->err();
  std::this_thread::sleep_for(3s);

  int twice = 0;
  std::map<std::string, std::vector<int64_t>> runs;
  for (const result& r : all_results(eu, &twice)) runs[r.check].push_back(r.scheduled_at);
  int64_t outage_gap = 0;
  for (auto& [check, times] : runs) {
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    for (size_t i = 1; i < times.size(); ++i)
      if (times[i] > down_at && times[i - 1] < up_at)
        outage_gap = std::max(outage_gap, times[i] - times[i - 1]);
  }
  std::printf(
      "broker down: largest gap %lld ms during the outage and the rejoin, %d runs "
      "produced by both probes around the rejoin\n",
      static_cast<long long>(outage_gap), twice);
  EXPECT_LE(outage_gap, 2000) << "checks stopped while the broker was down";
  const up_report up = up_since(all_results(eu, nullptr), down_at);
  EXPECT_EQ(up.checks_up.size(), static_cast<size_t>(n)) << "checks not up at nginx";
  EXPECT_TRUE(up.failures.empty()) << joined(up.failures);
  for (probe* p : {&eu1, &eu2}) {
    p->proc->signal(SIGTERM);
    EXPECT_EQ(p->proc->wait(30s), 0) << p->proc->err();
  }
}

// How long a stall holds the checks follows the catalog's session timeout (8 s here): a stall
// of 2.8 s (past the 2 s the agent assumed before it learnt the timeout) cannot have cost the
// session and holds nothing; one of 5.5 s, past half the timeout, holds the checks for 1 s
// while the plugin says whether the partitions moved (they did not: the session outlasts it).
TEST_F(catalog_test, a_stall_holds_checks_only_past_half_the_session_timeout) {
  constexpr int n = 5;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, url()))).code, 0);
  probe p(dir_, broker_.bootstrap(), "p1", "eu",
          "{session.timeout.ms: \"8000\", heartbeat.interval.ms: \"500\"}");
  const std::vector<const probe*> one{&p};
  const auto all_recent = [&] {
    return checks_seen(all_results(one, nullptr), epoch_ms() - 1500).size() == n;
  };
  ASSERT_TRUE(eventually(all_recent, 45s, 200ms)) << p.proc->err();
  const std::string held = "(stopped or frozen)";

  p.proc->signal(SIGSTOP);
  std::this_thread::sleep_for(2800ms);
  p.proc->signal(SIGCONT);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(p.proc->err().find(held), std::string::npos)
      << "a stall shorter than half the session timeout held the checks: " << p.proc->err();

  p.proc->signal(SIGSTOP);
  std::this_thread::sleep_for(5500ms);
  p.proc->signal(SIGCONT);
  EXPECT_TRUE(eventually([&] { return p.proc->err().find(held) != std::string::npos; }, 5s, 200ms))
      << p.proc->err();
  EXPECT_NE(p.proc->err().find("checks start again in 1000 ms"), std::string::npos)
      << p.proc->err();
  const int64_t resumed = epoch_ms();
  EXPECT_TRUE(eventually(
      [&] { return checks_seen(all_results(one, nullptr), resumed).size() == n; }, 10s, 200ms))
      << p.proc->err();
  EXPECT_EQ(p.proc->err().find("lost (session expired)"), std::string::npos) << p.proc->err();
  p.proc->signal(SIGTERM);
  EXPECT_EQ(p.proc->wait(30s), 0) << p.proc->err();
}

// A probe that stalls past the session timeout (SIGSTOP: a frozen VM, a host out of CPU) has
// its partitions given to the others. When it resumes it must stop them at once, not keep
// them as through a broker outage (the brokers answered all along), and not run what came
// due during the stall before it hears that its session expired.
TEST_F(catalog_test, a_stalled_probe_gives_up_its_checks_when_it_resumes) {
  constexpr int n = 30;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, url()))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe eu1(dir_, bs, "eu1", "eu"), eu2(dir_, bs, "eu2", "eu"), eu3(dir_, bs, "eu3", "eu");
  const std::vector<const probe*> eu{&eu1, &eu2, &eu3};
  ASSERT_TRUE(each_runs_some(eu, n)) << eu1.proc->err();
  const std::set<std::string> stalled = checks_seen(eu3.results(), epoch_ms() - 2000);
  eu3.proc->signal(SIGSTOP);
  const int64_t stopped = epoch_ms();
  const std::vector<const probe*> others{&eu1, &eu2};
  EXPECT_TRUE(eventually(
      [&] { return checks_seen(all_results(others, nullptr), stopped + 1000).size() == n; }, 30s,
      200ms))
      << "the others did not take the stalled probe's checks";
  eu3.proc->signal(SIGCONT);
  EXPECT_TRUE(eventually(
      [&] { return eu3.proc->err().find("lost (session expired)") != std::string::npos; }, 10s,
      200ms))
      << eu3.proc->err();
  std::this_thread::sleep_for(3s);
  int twice = 0;
  all_results(eu, &twice);
  std::printf("stalled probe: %zu checks moved, %d runs produced twice\n", stalled.size(), twice);
  // Measured: none (without the agent's pause after a stall, one per moved check: the run due
  // at the resume; keeping the lost partitions until the group assigned again, three).
  EXPECT_LE(twice, static_cast<int>(stalled.size() / 2))
      << "the resumed probe kept running checks the group gave to others\n"
      << eu3.proc->err();
  EXPECT_EQ(eu3.proc->err().find("keep running until it answers"), std::string::npos)
      << eu3.proc->err();
  EXPECT_NE(eu3.proc->err().find("(stopped or frozen)"), std::string::npos) << eu3.proc->err();
  for (probe* p : {&eu1, &eu2, &eu3}) {
    p->proc->signal(SIGTERM);
    EXPECT_EQ(p->proc->wait(30s), 0) << p->proc->err();
  }
}
