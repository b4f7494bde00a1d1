// The probe fleet end to end: `isitup-agent --publish-checks` writes a check catalog to the
// development broker, probe agents (separate processes) in consumer groups share its checks,
// each probe writes its results to a file of its own. tcp_checks aim at a local listener.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "codec.hpp"
#include "kafka_broker.hpp"
#include "kafka_test_util.hpp"
#include "listener.hpp"
#include "process.hpp"

using namespace std::chrono_literals;

namespace {

using isitup::test::child_process;
using isitup::test::kafka_broker;
using isitup::test::kafka_broker_options;
using isitup::test::temp_dir;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;
constexpr int catalog_partitions = 12;
// Probes leave a group quickly when killed; the mock broker also waits session timeout - 1 s
// for the members of a rebalance, so a short one keeps the tests short.
constexpr int64_t session_timeout_ms = 3000;
const std::string catalog_properties =
    "{session.timeout.ms: \"3000\", heartbeat.interval.ms: \"300\", "
    "reconnect.backoff.max.ms: \"500\"}";

int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct result {
  std::string check, agent, location, target;
  int64_t scheduled_at = 0;
};

std::vector<result> read_results(const std::string& path) {
  std::vector<result> out;
  std::istringstream in(isitup::test::read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    isitup::record r;
    std::string error;
    if (!isitup::codec::decode(line, r, error)) continue;  // a torn last line
    out.push_back({r.check, r.agent, r.location, r.target, r.scheduled_at_ms});
  }
  return out;
}

// tcp_checks c<from>..c<to-1> every `interval` against `port`.
std::string checks_yaml(int from, int to, int port, const std::string& interval = "1s") {
  std::string out = "checks:\n";
  for (int i = from; i < to; ++i)
    out += "  - {name: c" + std::to_string(i) +
           ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(port) +
           "\", interval: " + interval + ", timeout: 500ms}\n";
  return out;
}

std::string catalog_yaml(const std::string& brokers, const std::string& group = "",
                         const std::string& properties = catalog_properties) {
  return "catalog:\n  plugin: kafka_sink\n  options: {brokers: \"" + brokers +
         "\", topic: isitup.checks" + (group.empty() ? "" : ", group: " + group) +
         ", properties: " + properties + "}\n";
}

isitup::test::run_result publish(const std::string& file, bool dry_run = false) {
  std::vector<std::string> argv{agent_bin, "--publish-checks", file, "-p", plugin_dir};
  if (dry_run) argv.push_back("--dry-run");
  return isitup::test::run(argv, 60s);
}

// key -> value of the catalog's last message per key ("" for a tombstone).
std::map<std::string, std::string> catalog_now(const std::string& brokers, size_t* messages) {
  std::map<std::string, std::string> out;
  const auto all =
      isitup::kafka_test::read_topic(brokers, "isitup.checks", 0, 20s, catalog_partitions, 1500ms);
  for (const auto& m : all) out[m.key] = m.value;
  if (messages) *messages = all.size();
  return out;
}

struct probe {
  probe(const temp_dir& dir, const std::string& brokers, const std::string& id,
        const std::string& location, const std::string& properties = catalog_properties) {
    output = (dir / (id + ".jsonl")).string();
    const std::string path =
        dir.write(id + ".yml", "agent: {id: " + id + ", location: " + location + "}\n" +
                                   catalog_yaml(brokers, "probes-" + location, properties) +
                                   "sinks:\n  - plugin: stdout_sink\n    options: {output: \"" +
                                   output + "\"}\n");
    proc = std::make_unique<child_process>(
        std::vector<std::string>{agent_bin, "-c", path, "-p", plugin_dir});
  }
  std::vector<result> results() const { return read_results(output); }
  std::string output;
  std::unique_ptr<child_process> proc;
};

template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
  return true;
}

// Every result of the probes, and how many (check, scheduled_at) two of them both produced.
std::vector<result> all_results(const std::vector<const probe*>& probes, int* produced_twice) {
  std::vector<result> out;
  std::map<std::pair<std::string, int64_t>, std::string> by_run;
  if (produced_twice) *produced_twice = 0;
  for (const probe* p : probes)
    for (result& r : p->results()) {
      auto [it, fresh] = by_run.emplace(std::make_pair(r.check, r.scheduled_at), r.agent);
      if (!fresh && produced_twice) ++*produced_twice;
      out.push_back(std::move(r));
    }
  return out;
}

std::set<std::string> checks_seen(const std::vector<result>& rs, int64_t scheduled_after = 0) {
  std::set<std::string> out;
  for (const result& r : rs)
    if (r.scheduled_at > scheduled_after) out.insert(r.check);
  return out;
}

class catalog_test : public ::testing::Test {
 protected:
  catalog_test() : broker_(kafka_broker_options{1, {"isitup.checks:12"}, 0}) {}
  std::string file(const std::string& name, const std::string& checks) {
    return dir_.write(name,
                      "agent: {id: publisher}\n" + catalog_yaml(broker_.bootstrap()) + checks);
  }
  temp_dir dir_;
  kafka_broker broker_;
  isitup::test::tcp_listener target_;
};

TEST_F(catalog_test, publish_makes_the_catalog_equal_to_the_file_and_is_idempotent) {
  const int port = target_.port();
  const std::string v1 = file("v1.yml", checks_yaml(0, 30, port));
  auto r = publish(v1, true);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, v1 + ": +30 ~0 -0 (0 unchanged); dry run: nothing written\n");
  size_t messages = 0;
  EXPECT_TRUE(catalog_now(broker_.bootstrap(), &messages).empty());

  r = publish(v1);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, v1 + ": +30 ~0 -0 (0 unchanged)\n");
  r = publish(v1);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, v1 + ": +0 ~0 -0 (30 unchanged)\n");
  catalog_now(broker_.bootstrap(), &messages);
  EXPECT_EQ(messages, 30u) << "publishing the same file again wrote something";

  // c0 removed, c1's interval and c2's target changed, c30 added.
  std::string v2_checks = checks_yaml(3, 31, port) + checks_yaml(1, 2, port, "2s").substr(8) +
                          checks_yaml(2, 3, port + 1).substr(8);
  const std::string v2 = file("v2.yml", v2_checks);
  r = publish(v2, true);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, v2 + ": +1 ~2 -1 (27 unchanged); dry run: nothing written\n");
  catalog_now(broker_.bootstrap(), &messages);
  EXPECT_EQ(messages, 30u) << "--dry-run wrote something";
  r = publish(v2);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, v2 + ": +1 ~2 -1 (27 unchanged)\n");
  const auto catalog = catalog_now(broker_.bootstrap(), &messages);
  EXPECT_EQ(messages, 34u);
  ASSERT_EQ(catalog.size(), 31u);
  EXPECT_EQ(catalog.at("c0"), "");  // a tombstone
  EXPECT_NE(catalog.at("c1").find("\"interval\":\"2000ms\""), std::string::npos)
      << catalog.at("c1");
  EXPECT_NE(catalog.at("c2").find(std::to_string(port + 1)), std::string::npos);
  EXPECT_NE(catalog.at("c30").find("\"plugin\":\"tcp_check\""), std::string::npos);
}

TEST_F(catalog_test, publish_refuses_an_invalid_file_at_its_line_and_writes_nothing) {
  const std::string bad =
      file("bad.yml", checks_yaml(0, 3, target_.port()) +
                          "  - {name: broken, plugin: tcp_check, target: \"127.0.0.1:1\", "
                          "options: {bogus: 1}}\n");
  const auto r = publish(bad);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(bad + ":9:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
  size_t messages = 0;
  catalog_now(broker_.bootstrap(), &messages);
  EXPECT_EQ(messages, 0u);

  const std::string no_catalog = dir_.write("plain.yml", checks_yaml(0, 1, target_.port()));
  const auto r2 = publish(no_catalog);
  EXPECT_EQ(r2.code, 2);
  EXPECT_NE(r2.err.find("needs a catalog: section"), std::string::npos) << r2.err;
}

// Three probes in group probes-eu and one in probes-us: every check runs once per location.
// Then a changed catalog (an added, a removed and two changed checks) is followed within 5 s,
// and poison messages are logged with their partition and offset and skipped.
TEST_F(catalog_test, probes_share_the_catalog_once_per_location_and_follow_its_changes) {
  constexpr int n = 40;
  const int port = target_.port();
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, port))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe eu1(dir_, bs, "eu1", "eu"), eu2(dir_, bs, "eu2", "eu"), eu3(dir_, bs, "eu3", "eu");
  probe us1(dir_, bs, "us1", "us");
  const std::vector<const probe*> eu{&eu1, &eu2, &eu3}, us{&us1};
  ASSERT_TRUE(eventually(
      [&] {
        return checks_seen(all_results(eu, nullptr)).size() == n &&
               checks_seen(all_results(us, nullptr)).size() == n;
      },
      45s))
      << "eu1: " << eu1.proc->err() << "\nus1: " << us1.proc->err();
  // The group settles (its members take their partitions) and every probe runs some checks.
  ASSERT_TRUE(eventually(
      [&] {
        const int64_t recent = epoch_ms() - 2000;
        for (const probe* p : eu)
          if (checks_seen(p->results(), recent).empty()) return false;
        return true;
      },
      30s))
      << "a probe of the group runs nothing";
  int twice = 0;
  all_results(eu, &twice);
  EXPECT_EQ(twice, 0) << "(check, scheduled_at) produced by two probes of one location";

  // Changes: c0 removed, c1 every 2 s, c2 at another port, c40 added.
  const int64_t published = epoch_ms();
  const std::string v2 =
      file("v2.yml", checks_yaml(3, n + 1, port) + checks_yaml(1, 2, port, "2s").substr(8) +
                         checks_yaml(2, 3, port + 1).substr(8));
  const auto r = publish(v2);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, v2 + ": +1 ~2 -1 (37 unchanged)\n");
  const std::string c40 = "c" + std::to_string(n);
  const std::string new_target = "127.0.0.1:" + std::to_string(port + 1);
  for (const auto* location : {&eu, &us}) {
    EXPECT_TRUE(eventually(
        [&] {
          bool added = false, moved = false;
          for (const result& res : all_results(*location, nullptr)) {
            added |= res.check == c40;
            moved |= res.check == "c2" && res.target == new_target;
          }
          return added && moved;
        },
        std::chrono::milliseconds(published + 5000 - epoch_ms() + 1000)))
        << "the added and the changed check did not start within 5 s (+1 s of interval)";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(published + 8000 - epoch_ms()));
  std::vector<int64_t> c1_runs;
  for (const result& res : all_results(eu, nullptr)) {
    EXPECT_FALSE(res.check == "c0" && res.scheduled_at > published + 5000)
        << "c0 still ran at " << res.scheduled_at << ", published at " << published;
    if (res.check == "c1" && res.scheduled_at > published + 5000)
      c1_runs.push_back(res.scheduled_at);
  }
  std::sort(c1_runs.begin(), c1_runs.end());
  ASSERT_GE(c1_runs.size(), 1u);
  for (size_t i = 1; i < c1_runs.size(); ++i) EXPECT_EQ(c1_runs[i] - c1_runs[i - 1], 2000);

  // Poison: not JSON, a plugin that does not exist, options tcp_check refuses.
  isitup::kafka_test::produce(bs, "isitup.checks", {"not json"}, "p1");
  isitup::kafka_test::produce(
      bs, "isitup.checks", {R"({"v":1,"name":"p2","plugin":"no_such_plugin","target":"x"})"}, "p2");
  isitup::kafka_test::produce(
      bs, "isitup.checks",
      {R"({"v":1,"name":"p3","plugin":"tcp_check","target":"127.0.0.1:1","options":{"bogus":"1"}})"},
      "p3");
  const auto logs = [&] {
    std::string all;
    for (const probe* p : eu) all += p->proc->err();
    return all;
  };
  const std::regex poison_line[] = {
      std::regex(R"(catalog partition \d+ offset \d+: not a JSON check definition.*; skipped)"),
      std::regex(R"(catalog partition \d+ offset \d+: plugin 'no_such_plugin'.*; skipped)"),
      std::regex(
          R"(catalog partition \d+ offset \d+: check 'p3' \(tcp_check\) options.*bogus.*; skipped)")};
  EXPECT_TRUE(eventually(
      [&] {
        const std::string text = logs();
        for (const auto& re : poison_line)
          if (!std::regex_search(text, re)) return false;
        return true;
      },
      10s))
      << logs();
  const int64_t after_poison = epoch_ms();
  EXPECT_TRUE(eventually(
      [&] { return checks_seen(all_results(eu, nullptr), after_poison).size() == n; }, 10s))
      << "the other checks stopped after the poison messages";

  all_results(eu, &twice);
  EXPECT_EQ(twice, 0) << "(check, scheduled_at) produced by two probes of one location";
  all_results(us, &twice);
  EXPECT_EQ(twice, 0);
  for (probe* p : {&eu1, &eu2, &eu3, &us1}) {
    p->proc->signal(SIGTERM);
    EXPECT_EQ(p->proc->wait(30s), 0) << p->proc->err();
  }
}

// kill -9 of one probe: its checks resume on the two others; the largest gap between two
// results of any check is bounded by the session timeout, the broker's rebalance and two
// intervals; no run is produced twice. Started again, it takes some partitions back while the
// checks that stay keep running every interval.
TEST_F(catalog_test, a_killed_probe_s_checks_move_to_the_others_and_back_when_it_returns) {
  constexpr int n = 30;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, target_.port()))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe eu1(dir_, bs, "eu1", "eu"), eu2(dir_, bs, "eu2", "eu"), eu3(dir_, bs, "eu3", "eu");
  const std::vector<const probe*> eu{&eu1, &eu2, &eu3};
  ASSERT_TRUE(eventually(
      [&] {
        const int64_t recent = epoch_ms() - 2000;
        if (checks_seen(all_results(eu, nullptr), recent).size() != n) return false;
        for (const probe* p : eu)
          if (checks_seen(p->results(), recent).empty()) return false;
        return true;
      },
      45s))
      << eu1.proc->err();
  const std::set<std::string> moved = checks_seen(eu3.results(), epoch_ms() - 2000);
  ASSERT_FALSE(moved.empty());
  const int64_t killed = epoch_ms();
  eu3.proc->signal(SIGKILL);
  eu3.proc->wait(10s);
  const std::vector<const probe*> survivors{&eu1, &eu2};
  ASSERT_TRUE(eventually(
      [&] { return checks_seen(all_results(survivors, nullptr), killed).size() == n; }, 40s))
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
  // here, with 3 s for the new owners to read their partitions and start the checks on a
  // loaded machine (measured: 7-10 s in all).
  const int64_t bound = session_timeout_ms + (session_timeout_ms - 1000) + 2 * 1000 + 4000;
  std::printf("kill -9: %zu checks moved, largest gap %lld ms (check %s), bound %lld ms\n",
              moved.size(), static_cast<long long>(largest_gap), worst.c_str(),
              static_cast<long long>(bound));
  EXPECT_LE(largest_gap, bound) << "check " << worst << " killed at " << killed << "\n"
                                << eu1.proc->err() << eu2.proc->err();
  EXPECT_TRUE(moved.contains(worst) || largest_gap <= 1000)
      << "a check that did not move (" << worst << ") had a gap of " << largest_gap << " ms";

  // It comes back: partitions move to it (cooperative-sticky: only those), and the checks that
  // stay where they are keep their grid, no gap longer than one interval.
  const int64_t back = epoch_ms();
  probe again(dir_, bs, "eu3b", "eu");
  ASSERT_TRUE(eventually([&] { return !checks_seen(again.results(), back).empty(); }, 40s))
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
  for (probe* p : {&eu1, &eu2, &again}) {
    p->proc->signal(SIGTERM);
    EXPECT_EQ(p->proc->wait(30s), 0) << p->proc->err();
  }
}

// The broker down for longer than the session timeout (until both probes said their
// partitions were lost, then the session timeout and two intervals more; the issue's 20 s is
// only a longer wait for the same): the probes keep running the checks they have, and once it
// is back every check runs on exactly one probe again.
TEST_F(catalog_test, probes_keep_their_checks_while_the_broker_is_down) {
  constexpr int n = 20;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, target_.port()))).code, 0);
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
      45s))
      << eu1.proc->err();
  const int64_t down_at = epoch_ms();
  ASSERT_EQ(broker_.command("down all").rfind("ok", 0), 0u);
  const auto lost = [](const probe& p) {
    return p.proc->err().find("keep running until it answers") != std::string::npos;
  };
  EXPECT_TRUE(eventually([&] { return lost(eu1) && lost(eu2); }, 30s))
      << "the outage did not outlast the session timeout: " << eu1.proc->err() << eu2.proc->err();
  // Then the session timeout and 2 s more: the broker expires both members while it is down,
  // as in a long outage (coming back sooner, the mock once left the group without an
  // assignment for 40 s).
  std::this_thread::sleep_for(std::chrono::milliseconds(session_timeout_ms + 2000));
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
      40s))
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
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, target_.port()))).code, 0);
  probe p(dir_, broker_.bootstrap(), "p1", "eu",
          "{session.timeout.ms: \"8000\", heartbeat.interval.ms: \"500\"}");
  const std::vector<const probe*> one{&p};
  const auto all_recent = [&] {
    return checks_seen(all_results(one, nullptr), epoch_ms() - 1500).size() == n;
  };
  ASSERT_TRUE(eventually(all_recent, 45s)) << p.proc->err();
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
  EXPECT_TRUE(eventually([&] { return p.proc->err().find(held) != std::string::npos; }, 5s))
      << p.proc->err();
  EXPECT_NE(p.proc->err().find("checks start again in 1000 ms"), std::string::npos)
      << p.proc->err();
  const int64_t resumed = epoch_ms();
  EXPECT_TRUE(
      eventually([&] { return checks_seen(all_results(one, nullptr), resumed).size() == n; }, 10s))
      << p.proc->err();
  EXPECT_EQ(p.proc->err().find("lost (session expired)"), std::string::npos) << p.proc->err();
  p.proc->signal(SIGTERM);
  EXPECT_EQ(p.proc->wait(30s), 0) << p.proc->err();
}

}  // namespace

// At the issue's size: 3,000 checks (every 2 s, at a closed port) over 3 probes of one group.
// Every check has results; over a window of 12 runs per check (the issue's 60 s at a 5 s
// interval) with the group settled no (check, scheduled_at) comes from two probes and each
// check from exactly one; then kill -9 of one probe: its checks resume on the two others
// within the session timeout, the broker's rebalance and two intervals, still never twice.
// About 45 s: its own ctest entry.
TEST_F(catalog_test, three_thousand_checks_run_once_each_across_three_probes_and_move_on_kill) {
  constexpr int n = 3000;
  constexpr int64_t interval_ms = 2000;
  constexpr int64_t window_ms = 12 * interval_ms;
  const int port = isitup::test::unused_port();
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, port, "2s"))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe p1(dir_, bs, "p1", "eu"), p2(dir_, bs, "p2", "eu"), p3(dir_, bs, "p3", "eu");
  const std::vector<const probe*> all{&p1, &p2, &p3};
  // Settled: the last interval's runs cover every check, each probe has a share.
  ASSERT_TRUE(eventually(
      [&] {
        const int64_t recent = epoch_ms() - interval_ms - 1000;
        if (checks_seen(all_results(all, nullptr), recent).size() != n) return false;
        for (const probe* p : all)
          if (checks_seen(p->results(), recent).empty()) return false;
        return true;
      },
      60s))
      << p1.proc->err();
  const int64_t window_start = epoch_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(window_ms));
  const int64_t window_end = epoch_ms() - 1000;  // runs still in flight or in a sink's batch
  // Each check's runs in the window, less one for where its grid falls: 10 here.
  const int64_t least_runs = (window_end - window_start) / interval_ms - 1;
  int twice = 0;
  std::map<std::string, std::set<std::string>> agents_of;
  std::map<std::string, int> runs_of;
  for (const result& r : all_results(all, &twice)) {
    if (r.scheduled_at < window_start || r.scheduled_at >= window_end) continue;
    agents_of[r.check].insert(r.agent);
    ++runs_of[r.check];
  }
  EXPECT_EQ(twice, 0) << "(check, scheduled_at) produced by two probes";
  EXPECT_EQ(agents_of.size(), static_cast<size_t>(n)) << "checks without a result in the window";
  int on_two = 0, short_of_runs = 0;
  for (const auto& [check, agents] : agents_of) on_two += agents.size() > 1;
  for (const auto& [check, runs] : runs_of) short_of_runs += runs < least_runs;
  EXPECT_EQ(on_two, 0) << "checks run by two probes of a settled group";
  EXPECT_EQ(short_of_runs, 0) << "checks that missed runs in the window";
  std::printf(
      "3000 checks, %lld s window (>= %lld runs each): %zu checks, %d on two probes, %d missed "
      "runs\n",
      static_cast<long long>(window_ms / 1000), static_cast<long long>(least_runs),
      agents_of.size(), on_two, short_of_runs);

  const std::set<std::string> moved = checks_seen(p3.results(), epoch_ms() - interval_ms);
  ASSERT_FALSE(moved.empty());
  const int64_t killed = epoch_ms();
  p3.proc->signal(SIGKILL);
  p3.proc->wait(10s);
  const std::vector<const probe*> survivors{&p1, &p2};
  ASSERT_TRUE(eventually(
      [&] { return checks_seen(all_results(survivors, nullptr), killed).size() == n; }, 60s))
      << "the survivors do not run every check: " << p1.proc->err();
  std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  std::map<std::string, std::vector<int64_t>> times_of;
  for (const result& r : all_results(all, &twice)) times_of[r.check].push_back(r.scheduled_at);
  EXPECT_EQ(twice, 0) << "(check, scheduled_at) produced by two probes";
  int64_t largest_gap = 0;
  for (auto& [check, times] : times_of) {
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i)
      if (times[i] > killed - interval_ms)
        largest_gap = std::max(largest_gap, times[i] - times[i - 1]);
  }
  // As in the kill test above: session timeout, the mock's rebalance hold (session - 1 s), two
  // intervals, and 3 s to read the partitions and start their checks on a loaded machine.
  const int64_t bound = session_timeout_ms + (session_timeout_ms - 1000) + 2 * interval_ms + 3000;
  std::printf("3000 checks, kill -9: %zu moved, largest gap %lld ms, bound %lld ms\n", moved.size(),
              static_cast<long long>(largest_gap), static_cast<long long>(bound));
  EXPECT_LE(largest_gap, bound);
  for (probe* p : {&p1, &p2}) {
    p->proc->signal(SIGTERM);
    EXPECT_EQ(p->proc->wait(30s), 0) << p->proc->err();
  }
}

// A probe that stalls past the session timeout (SIGSTOP: a frozen VM, a host out of CPU) has
// its partitions given to the others. When it resumes it must stop them at once, not keep
// them as through a broker outage (the brokers answered all along), and not run what came
// due during the stall before it hears that its session expired.
TEST_F(catalog_test, a_stalled_probe_gives_up_its_checks_when_it_resumes) {
  constexpr int n = 30;
  ASSERT_EQ(publish(file("v1.yml", checks_yaml(0, n, target_.port()))).code, 0);
  const auto& bs = broker_.bootstrap();
  probe eu1(dir_, bs, "eu1", "eu"), eu2(dir_, bs, "eu2", "eu"), eu3(dir_, bs, "eu3", "eu");
  const std::vector<const probe*> eu{&eu1, &eu2, &eu3};
  ASSERT_TRUE(eventually(
      [&] {
        const int64_t recent = epoch_ms() - 2000;
        if (checks_seen(all_results(eu, nullptr), recent).size() != n) return false;
        for (const probe* p : eu)
          if (checks_seen(p->results(), recent).empty()) return false;
        return true;
      },
      45s))
      << eu1.proc->err();
  const std::set<std::string> stalled = checks_seen(eu3.results(), epoch_ms() - 2000);
  eu3.proc->signal(SIGSTOP);
  const int64_t stopped = epoch_ms();
  const std::vector<const probe*> others{&eu1, &eu2};
  EXPECT_TRUE(eventually(
      [&] { return checks_seen(all_results(others, nullptr), stopped + 1000).size() == n; }, 30s))
      << "the others did not take the stalled probe's checks";
  eu3.proc->signal(SIGCONT);
  EXPECT_TRUE(eventually(
      [&] { return eu3.proc->err().find("lost (session expired)") != std::string::npos; }, 10s))
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
