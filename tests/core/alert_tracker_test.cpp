// alert_tracker with fake sinks: who gets which events, retries keep ids and order, and a
// journal under state_dir hands undelivered events to the next tracker.
#include <isitup/core/alert_tracker.hpp>
#include <isitup/core/completion_tickets.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "eventually.hpp"

namespace isitup {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::eventually;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A sink that records what it is given and answers `retries` times ISITUP_RETRY first.
struct fake_sink {
  std::mutex mu;
  std::vector<std::string> ids;      // event ids of accepted calls, in order
  std::vector<std::string> offered;  // every event id offered, retries included
  std::vector<std::string> checks;
  int retries = 0;
  bool twice = false;  // every completion is called twice

  static void write_events(void* self, const isitup_event_v1* const* events, size_t n,
                           isitup_batch_done_fn done, void* ctx) {
    auto& s = *static_cast<fake_sink*>(self);
    uint32_t status = ISITUP_OK;
    {
      std::lock_guard lock(s.mu);
      for (size_t i = 0; i < n; ++i) s.offered.emplace_back(events[i]->event_id);
      if (s.retries > 0) {
        --s.retries;
        status = ISITUP_RETRY;
      } else {
        for (size_t i = 0; i < n; ++i) {
          s.ids.emplace_back(events[i]->event_id);
          s.checks.emplace_back(events[i]->check);
        }
      }
    }
    done(ctx, status, status == ISITUP_OK ? nullptr : "not now");
    if (s.twice) done(ctx, ISITUP_OK, nullptr);
  }
  std::vector<std::string> delivered() {
    std::lock_guard lock(mu);
    return ids;
  }
};

isitup_sink_ops_v1 ops_with_events() {
  isitup_sink_ops_v1 ops{};
  ops.struct_size = sizeof ops;
  ops.write_events = &fake_sink::write_events;
  return ops;
}
const isitup_sink_ops_v1 event_ops = ops_with_events();

event_sink bind(const std::string& name, fake_sink& s, bool notifier = false) {
  return event_sink{name, &event_ops, &s, nullptr, notifier};
}

record result(const std::string& check, int64_t at, bool up) {
  record r;
  r.agent = "a1";
  r.location = "lab";
  r.check = check;
  r.plugin = "http_check";
  r.target = "https://" + check + ".example/";
  r.scheduled_at_ms = at;
  r.up = up;
  if (!up) {
    r.error_kind = "connect";
    r.error_message = "refused";
  }
  return r;
}

// Feeds `pattern` ('U'/'D') for `check` from `at`, one result a second; returns the next time.
int64_t feed(alert_tracker& t, const std::string& check, const std::string& pattern, int64_t at) {
  for (char c : pattern) {
    t.observe(result(check, at, c == 'U'));
    at += 1000;
  }
  return at;
}

config::agent agent_config(const std::string& state_dir = "") {
  config::agent cfg;
  cfg.state_dir = state_dir;
  return cfg;
}

TEST(alert_tracker, notifiers_get_only_the_checks_naming_them_others_get_all) {
  fake_sink all, pager, other;
  std::map<std::string, alert_settings> per_check;
  per_check["shop"].notify = {"pager"};
  alert_tracker t(agent_config(), per_check,
                  {bind("stdout", all), bind("pager", pager, true), bind("other", other, true)});
  t.start();
  feed(t, "shop", "DDD", 1'000'000);
  feed(t, "blog", "DDD", 1'000'000);  // not configured: defaults.alert, no notify
  ASSERT_TRUE(eventually([&] { return all.delivered().size() == 2; }));
  ASSERT_TRUE(eventually([&] { return pager.delivered().size() == 1; }));
  EXPECT_TRUE(t.stop(5s));
  EXPECT_THAT(pager.checks, ElementsAre("shop"));
  EXPECT_THAT(other.delivered(), IsEmpty());
  EXPECT_EQ(t.stats().transitions, 2u);
}

TEST(alert_tracker, open_and_recently_resolved_incidents_for_the_http_interface) {
  fake_sink all;
  alert_tracker t(agent_config(), {}, {bind("stdout", all)});
  t.start();
  feed(t, "shop", "DDD", 1'000'000);
  feed(t, "blog", "DDDUU", 1'000'000);
  const auto open = t.open_incidents();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].check, "shop");
  EXPECT_EQ(open[0].opened_at_ms, 1'000'000);
  EXPECT_EQ(open[0].resolved_at_ms, 0);
  EXPECT_EQ(open[0].error_message, "refused");
  const auto resolved = t.recently_resolved();
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].check, "blog");
  EXPECT_EQ(resolved[0].opened_at_ms, 1'000'000);
  EXPECT_EQ(resolved[0].resolved_at_ms, 1'003'000);  // the first up result of the recovery
  EXPECT_EQ(resolved[0].id.size(), 32u);
  // Bounded: only the newest are kept.
  for (std::size_t i = 0; i < alert_tracker::max_recent_resolved + 5; ++i)
    feed(t, "c" + std::to_string(i), "DDDUU", 2'000'000);
  EXPECT_EQ(t.recently_resolved().size(), alert_tracker::max_recent_resolved);
  EXPECT_EQ(t.recently_resolved().back().check,
            "c" + std::to_string(alert_tracker::max_recent_resolved + 4));
  EXPECT_TRUE(t.stop(5s));
}

TEST(alert_tracker, a_check_with_alert_enabled_false_has_no_state_and_no_events) {
  fake_sink all;
  config::agent cfg = agent_config();
  cfg.alert.enabled = false;  // defaults.alert: every check a source feeds
  std::map<std::string, alert_settings> per_check;
  per_check["shop"].enabled = true;
  per_check["quiet"].enabled = false;
  alert_tracker t(cfg, per_check, {bind("stdout", all)});
  t.start();
  feed(t, "quiet", "DDDDD", 1'000'000);
  feed(t, "fed", "DDDDD", 1'000'000);
  feed(t, "shop", "DDD", 1'000'000);
  ASSERT_TRUE(eventually([&] { return all.delivered().size() == 1; }));
  EXPECT_EQ(t.stats().transitions, 1u);
  // Turned on by a reload: tracked from then on.
  t.configure("quiet", alert_settings{});
  feed(t, "quiet", "DDD", 2'000'000);
  ASSERT_TRUE(eventually([&] { return all.delivered().size() == 2; }));
  EXPECT_TRUE(t.stop(5s));
  EXPECT_THAT(all.checks, ElementsAre("shop", "quiet"));
  EXPECT_EQ(t.stats().transitions, 2u);
}

TEST(alert_tracker, results_fed_through_a_check_ref_decide_as_results_fed_by_name) {
  fake_sink s;
  alert_tracker t(agent_config(), {}, {bind("log", s)});
  t.start();
  alert_tracker::check_ref ref_a;
  int64_t at = 1'000'000;
  for (char c : std::string("UDDDUUU")) {
    t.observe(result("a", at, c == 'U'), ref_a);
    t.observe(result("b", at, c == 'U'));
    at += 1000;
  }
  ASSERT_TRUE(eventually([&] { return s.delivered().size() == 4; }));
  std::lock_guard lock(s.mu);
  EXPECT_THAT(s.checks, ElementsAre("a", "b", "a", "b"));  // opened both, then resolved both
  EXPECT_EQ(t.stats().transitions, 4u);
}

// Many checks configured at once (a catalog's checks as they start): the settings of each, a
// check already observed included; the caller's settings are copied.
TEST(alert_tracker, configuring_many_checks_at_once_sets_each_one) {
  fake_sink all;
  config::agent cfg = agent_config();
  cfg.alert.enabled = false;
  alert_tracker t(cfg, {}, {bind("stdout", all)});
  t.start();
  feed(t, "b", "DDDDD", 1'000'000);  // observed with the defaults: off
  {
    alert_settings on, off;
    off.enabled = false;
    on.failure_threshold = 2;
    const std::string a = "a", b = "b", c = "c";
    const std::vector<std::pair<std::string_view, const alert_settings*>> many = {
        {a, &on}, {b, &on}, {c, &off}};
    t.configure(many);
  }
  feed(t, "a", "DD", 2'000'000);
  feed(t, "b", "DD", 2'000'000);
  feed(t, "c", "DDDDD", 2'000'000);
  ASSERT_TRUE(eventually([&] { return all.delivered().size() == 2; }));
  EXPECT_TRUE(t.stop(5s));
  EXPECT_THAT(all.checks, ElementsAre("a", "b"));
  EXPECT_EQ(t.stats().transitions, 2u);
}

// Catalog checks deleted or moved to another probe: their settings and state go (a probe whose
// catalog changes all day does not keep every name it ever ran), except the state of an open
// incident, which stays with the default settings until it resolves.
TEST(alert_tracker, forgotten_checks_leave_nothing_behind_but_an_open_incident) {
  fake_sink all;
  alert_tracker t(agent_config(), {}, {bind("stdout", all)});
  t.start();
  alert_settings two;
  two.failure_threshold = 2;
  std::vector<std::string> names;
  names.reserve(100);
  for (int i = 0; i < 100; ++i) names.push_back("c" + std::to_string(i));
  std::vector<std::pair<std::string_view, const alert_settings*>> many;
  many.reserve(names.size());
  for (const std::string& n : names) many.emplace_back(n, &two);
  t.configure(many);
  alert_tracker::check_ref ref1;
  feed(t, "c0", "DD", 1'000'000);  // opens at the configured threshold of 2
  t.observe(result("c1", 1'000'000, true), ref1);
  for (std::size_t i = 2; i < names.size(); ++i) feed(t, names[i], "U", 1'000'000);
  ASSERT_TRUE(eventually([&] { return all.delivered().size() == 1; }));
  EXPECT_EQ(t.stats().checks, 100u);
  EXPECT_EQ(t.stats().configured, 100u);

  const std::vector<std::string_view> gone(names.begin(), names.end());
  t.forget(gone);
  EXPECT_EQ(t.stats().checks, 1u);  // c0: its incident is open
  EXPECT_EQ(t.stats().configured, 0u);
  t.observe(result("c1", 1'001'000, true), ref1);  // a result still out: the ref looks again
  EXPECT_EQ(t.stats().checks, 2u);

  feed(t, "c0", "UU", 1'002'000);  // default success_threshold 2 resolves it
  ASSERT_TRUE(eventually([&] { return all.delivered().size() == 2; }));
  const std::string_view c0_c1[] = {"c0", "c1"};
  t.forget(c0_c1);
  EXPECT_EQ(t.stats().checks, 0u);
  EXPECT_TRUE(t.stop(5s));
  EXPECT_THAT(all.checks, ElementsAre("c0", "c0"));
}

TEST(alert_tracker, a_retried_sink_gets_the_same_events_in_order) {
  fake_sink s;
  s.retries = 2;
  alert_tracker t(agent_config(), {}, {bind("hook", s)});
  t.start();
  feed(t, "shop", "DDD UU DDD", 1'000'000);  // opened, resolved, opened
  ASSERT_TRUE(eventually([&] { return s.delivered().size() == 3; }));
  EXPECT_TRUE(t.stop(5s));
  const auto ids = s.delivered();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);
  // Every offer before the first acceptance was of the first event, with its id.
  EXPECT_EQ(s.offered.front(), ids.front());
  const alert_stats st = t.stats();
  EXPECT_EQ(st.retries, 2u);
  EXPECT_EQ(st.delivered, 3u);
  EXPECT_EQ(st.pending, 0u);
}

TEST(alert_tracker, a_second_completion_of_write_events_is_refused_and_counted) {
  fake_sink s;
  s.twice = true;
  const uint64_t before = completion_tickets::instance().refused_count();
  alert_tracker t(agent_config(), {}, {bind("hook", s)});
  t.start();
  feed(t, "shop", "DDD UU", 1'000'000);  // opened, resolved
  ASSERT_TRUE(eventually([&] { return s.delivered().size() == 2; }));
  EXPECT_TRUE(t.stop(5s));
  EXPECT_EQ(t.stats().delivered, 2u) << "each call counted once";
  EXPECT_GE(completion_tickets::instance().refused_count() - before, 1u);
}

TEST(alert_tracker, undelivered_events_go_to_the_next_tracker_with_their_ids) {
  const fs::path dir =
      fs::temp_directory_path() / ("isitup_tracker_test_" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::vector<std::string> offered;
  int64_t at = 1'000'000;
  {
    fake_sink down, fine;
    down.retries = 1'000'000;  // its receiver never answers
    alert_tracker t(agent_config(dir.string()), {}, {bind("hook", down), bind("log", fine)});
    t.start();
    at = feed(t, "shop", "DDDD", at);
    ASSERT_TRUE(eventually([&] { return fine.delivered().size() == 1; }));
    EXPECT_FALSE(t.stop(100ms));  // "hook" still owes the event
    offered = down.offered;
  }
  ASSERT_FALSE(offered.empty());
  fake_sink hook, log;
  alert_tracker t(agent_config(dir.string()), {}, {bind("hook", hook), bind("log", log)});
  t.start();
  ASSERT_TRUE(eventually([&] { return hook.delivered().size() == 1; }));
  EXPECT_EQ(hook.delivered()[0], offered[0]);  // the same id as before the restart
  at = feed(t, "shop", "DDD", at);             // still down: the restored incident stays open
  feed(t, "shop", "UU", at);                   // recovers: resolved once, to both
  ASSERT_TRUE(eventually([&] { return log.delivered().size() == 1; }));
  ASSERT_TRUE(eventually([&] { return hook.delivered().size() == 2; }));
  EXPECT_TRUE(t.stop(5s));
  EXPECT_THAT(log.delivered(), ElementsAre(hook.delivered()[1]));  // "log" had the opening
  fs::remove_all(dir);
}

}  // namespace
}  // namespace isitup
