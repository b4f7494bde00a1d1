// alert::step: hysteresis per (check, location), quorum over locations, incidents, reminders
// and stable ids, as a pure function fed sequences of results.
#include <isitup/core/alert_state.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace isitup::alert {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t t0 = 1'780'000'000'000;  // an epoch ms; results every 10 s from here
constexpr int64_t every = 10'000;

struct feeder {
  alert_settings settings;
  check_state state;
  std::string check = "shop";
  std::map<std::string, int64_t> next_ms;  // per location
  std::vector<transition> seen;

  // Feeds one result per character: 'U' up, 'D' down (error "connect: refused #<i>"), ' ' is
  // skipped. Returns the transitions caused, in order.
  std::vector<transition> feed(const std::string& pattern, const std::string& where = "eu") {
    std::vector<transition> out;
    int64_t& at = next_ms.try_emplace(where, t0).first->second;
    for (char c : pattern) {
      if (c == ' ') continue;
      const std::string message = "refused #" + std::to_string((at - t0) / every);
      // observation holds views: `message` must outlive it, not a temporary copy of it.
      const observation o{where, at, c == 'U', c == 'U' ? "" : "connect",
                          c == 'U' ? std::string_view() : std::string_view(message)};
      if (auto t = step(state, check, o, settings)) out.push_back(*t);
      at += every;
    }
    seen.insert(seen.end(), out.begin(), out.end());
    return out;
  }
};

std::vector<transition_type> types(const std::vector<transition>& ts) {
  std::vector<transition_type> out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(t.type);
  return out;
}

const auto opened = transition_type::opened;
const auto resolved = transition_type::resolved;
const auto reminder = transition_type::reminder;

// ---------------------------------------------------------------- thresholds

TEST(alert_state, two_of_three_failing_never_alerts_at_threshold_three) {
  feeder f;
  EXPECT_THAT(f.feed("DDU DDU DDU DDU UDD UDD UDD U"), IsEmpty());
  EXPECT_FALSE(f.state.open);
  EXPECT_FALSE(f.state.locations.at("eu").down);
}

TEST(alert_state, three_in_a_row_alerts_once) {
  feeder f;
  const auto ts = f.feed("UU DDD DDDDDD");
  ASSERT_THAT(types(ts), ElementsAre(opened));
  const transition& t = ts[0];
  EXPECT_EQ(t.at_ms, t0 + 4 * every);             // decided by the third down result
  EXPECT_EQ(t.inc.opened_at_ms, t0 + 2 * every);  // the first down result of that run
  EXPECT_EQ(t.inc.error_kind, "connect");
  EXPECT_EQ(t.inc.error_message, "refused #2");  // the error of that first result
  EXPECT_THAT(t.inc.locations, ElementsAre("eu"));
  EXPECT_FALSE(t.resolved_at_ms);
  ASSERT_TRUE(f.state.open);
  EXPECT_EQ(f.state.open->id, t.inc.id);
}

TEST(alert_state, opened_at_is_the_start_of_the_run_that_crossed_not_an_earlier_blip) {
  feeder f;
  const auto ts = f.feed("DDU DDDD");
  ASSERT_THAT(types(ts), ElementsAre(opened));
  EXPECT_EQ(ts[0].inc.opened_at_ms, t0 + 3 * every);
  EXPECT_EQ(ts[0].inc.error_message, "refused #3");
}

TEST(alert_state, recovers_after_two_ups_with_resolved_at_the_first_up) {
  feeder f;
  f.feed("DDD");
  EXPECT_THAT(f.feed("U"), IsEmpty());
  EXPECT_THAT(f.feed("D"), IsEmpty());  // breaks the up run
  const auto ts = f.feed("UU");
  ASSERT_THAT(types(ts), ElementsAre(resolved));
  EXPECT_EQ(ts[0].resolved_at_ms, t0 + 5 * every);
  EXPECT_EQ(ts[0].at_ms, t0 + 6 * every);
  EXPECT_EQ(ts[0].inc.opened_at_ms, t0);
  EXPECT_FALSE(f.state.open);
  EXPECT_THAT(f.feed("UUUU"), IsEmpty());
}

TEST(alert_state, flapping_while_down_keeps_one_incident) {
  feeder f;
  EXPECT_THAT(types(f.feed("DDD UDUDUDUD DUD")), ElementsAre(opened));
  EXPECT_THAT(types(f.feed("UU")), ElementsAre(resolved));
}

TEST(alert_state, other_thresholds) {
  feeder f;
  f.settings.failure_threshold = 1;
  f.settings.success_threshold = 1;
  EXPECT_THAT(types(f.feed("D")), ElementsAre(opened));
  EXPECT_THAT(types(f.feed("U")), ElementsAre(resolved));
  EXPECT_THAT(types(f.feed("DUDU")), ElementsAre(opened, resolved, opened, resolved));
  feeder g;
  g.settings.failure_threshold = 5;
  g.settings.success_threshold = 3;
  EXPECT_THAT(g.feed("DDDD U DDDD UU"), IsEmpty());
  EXPECT_THAT(types(g.feed("DDDDD UU D UUU")), ElementsAre(opened, resolved));
}

TEST(alert_state, a_second_incident_gets_its_own_id) {
  feeder f;
  const auto a = f.feed("DDD UU");
  const auto b = f.feed("DDD UU");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a[0].inc.id, a[1].inc.id);
  EXPECT_EQ(b[0].inc.id, b[1].inc.id);
  EXPECT_NE(a[0].inc.id, b[0].inc.id);
  EXPECT_NE(a[0].event_id, a[1].event_id);
}

// ---------------------------------------------------------------- duplicates and order

TEST(alert_state, a_result_not_newer_than_the_last_is_ignored) {
  feeder f;
  f.feed("DD");
  const observation old{"eu", t0 + every, false, "connect", "again"};
  EXPECT_FALSE(step(f.state, "shop", old, f.settings));  // a replayed result
  EXPECT_FALSE(step(f.state, "shop", old, f.settings));
  EXPECT_EQ(f.state.locations.at("eu").streak, 2);
  EXPECT_THAT(types(f.feed("D")), ElementsAre(opened));
}

// ---------------------------------------------------------------- quorum over 3 locations

struct quorum_case {
  alert_settings::quorum_rule rule;
  int count;
  int needed;  // of 3 locations
};

class quorum : public ::testing::TestWithParam<quorum_case> {};

TEST_P(quorum, opens_when_enough_locations_are_down_and_resolves_below) {
  const quorum_case c = GetParam();
  feeder f;
  f.settings.rule = c.rule;
  f.settings.quorum = c.count;
  const std::vector<std::string> where = {"ap", "eu", "us"};
  for (const auto& w : where) f.feed("UU", w);  // all three known
  std::vector<transition> ts;
  for (int i = 0; i < 3; ++i) {
    ts = f.feed("DDD", where[i]);
    if (i + 1 < c.needed) {
      EXPECT_THAT(ts, IsEmpty()) << i + 1 << " down";
    } else if (i + 1 == c.needed) {
      ASSERT_THAT(types(ts), ElementsAre(opened)) << i + 1 << " down";
      EXPECT_EQ(ts[0].inc.opened_at_ms, t0 + 2 * every);  // the earliest location's run
      EXPECT_EQ(ts[0].inc.locations.size(), static_cast<size_t>(c.needed));
    } else {
      EXPECT_THAT(ts, IsEmpty()) << "already open";
    }
  }
  ASSERT_TRUE(f.state.open);
  EXPECT_THAT(f.state.open->locations, ElementsAre("ap", "eu", "us"));
  // Recover one location at a time: resolved once fewer than `needed` are down.
  for (int i = 0; i < 3; ++i) {
    ts = f.feed("UU", where[i]);
    const int still_down = 2 - i;
    if (still_down + 1 == c.needed) {
      ASSERT_THAT(types(ts), ElementsAre(resolved)) << still_down << " down";
    } else {
      EXPECT_THAT(ts, IsEmpty()) << still_down << " down";
    }
  }
  EXPECT_FALSE(f.state.open);
  EXPECT_EQ(std::count_if(f.seen.begin(), f.seen.end(),
                          [](const transition& t) { return t.type == opened; }),
            1);
}

INSTANTIATE_TEST_SUITE_P(alert_state, quorum,
                         ::testing::Values(quorum_case{alert_settings::quorum_rule::count, 1, 1},
                                           quorum_case{alert_settings::quorum_rule::count, 2, 2},
                                           quorum_case{alert_settings::quorum_rule::count, 3, 3},
                                           quorum_case{alert_settings::quorum_rule::majority, 0, 2},
                                           quorum_case{alert_settings::quorum_rule::all, 0, 3}),
                         [](const auto& info) {
                           const quorum_case& c = info.param;
                           switch (c.rule) {
                             case alert_settings::quorum_rule::majority:
                               return std::string("majority");
                             case alert_settings::quorum_rule::all:
                               return std::string("all");
                             default:
                               return "count_" + std::to_string(c.count);
                           }
                         });

TEST(alert_state, required_down_by_rule_and_known_locations) {
  alert_settings s;
  s.rule = alert_settings::quorum_rule::majority;
  EXPECT_EQ(required_down(s, 1), 1u);
  EXPECT_EQ(required_down(s, 2), 2u);
  EXPECT_EQ(required_down(s, 3), 2u);
  EXPECT_EQ(required_down(s, 4), 3u);
  EXPECT_EQ(required_down(s, 5), 3u);
  s.rule = alert_settings::quorum_rule::all;
  EXPECT_EQ(required_down(s, 0), 1u);
  EXPECT_EQ(required_down(s, 4), 4u);
  s.rule = alert_settings::quorum_rule::count;
  s.quorum = 2;
  EXPECT_EQ(required_down(s, 1), 2u);
  EXPECT_EQ(required_down(s, 7), 2u);
}

TEST(alert_state, a_quorum_larger_than_the_known_locations_is_not_met) {
  feeder f;
  f.settings.quorum = 2;
  EXPECT_THAT(f.feed("DDDDDD", "eu"), IsEmpty());
  EXPECT_THAT(types(f.feed("DDD", "us")), ElementsAre(opened));
}

TEST(alert_state, a_location_joining_an_open_incident_is_listed) {
  feeder f;
  f.feed("DDD", "eu");
  f.feed("UU", "us");
  EXPECT_THAT(f.feed("DDD", "us"), IsEmpty());
  const auto ts = f.feed("UU", "eu");
  EXPECT_THAT(ts, IsEmpty());  // us is still down: quorum 1 holds
  const auto r = f.feed("UU", "us");
  ASSERT_THAT(types(r), ElementsAre(resolved));
  EXPECT_THAT(r[0].inc.locations, ElementsAre("eu", "us"));
}

// ---------------------------------------------------------------- reminders

TEST(alert_state, renotify_reminds_while_open) {
  feeder f;
  f.settings.renotify_ms = 3 * every;
  EXPECT_THAT(types(f.feed("DDD")), ElementsAre(opened));
  EXPECT_THAT(types(f.feed("DD D DD D")), ElementsAre(reminder, reminder));
  ASSERT_TRUE(f.state.open);
  EXPECT_EQ(f.state.open->reminders, 2u);
  EXPECT_THAT(types(f.feed("UU")), ElementsAre(resolved));
  std::set<std::string> ids;
  for (const auto& t : f.seen) ids.insert(t.event_id);
  EXPECT_EQ(ids.size(), f.seen.size());  // every event its own id
}

TEST(alert_state, no_reminder_without_renotify) {
  feeder f;
  EXPECT_THAT(types(f.feed(std::string(100, 'D'))), ElementsAre(opened));
}

// ---------------------------------------------------------------- stable ids

TEST(alert_state, replaying_the_same_results_gives_the_same_ids) {
  const std::string pattern = "UDDDD UDUU DDDDDD DDUUU";
  feeder a, b;
  a.settings.renotify_ms = b.settings.renotify_ms = 2 * every;
  a.feed(pattern);
  b.feed(pattern);
  ASSERT_EQ(a.seen.size(), b.seen.size());
  ASSERT_FALSE(a.seen.empty());
  for (size_t i = 0; i < a.seen.size(); ++i) {
    EXPECT_EQ(a.seen[i].event_id, b.seen[i].event_id);
    EXPECT_EQ(a.seen[i].inc.id, b.seen[i].inc.id);
    EXPECT_EQ(a.seen[i].event_id.size(), 32u);
    EXPECT_EQ(a.seen[i].event_id.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  feeder other;
  other.check = "blog";
  other.feed(pattern);
  EXPECT_NE(other.seen[0].inc.id, a.seen[0].inc.id);  // ids depend on the check
}

TEST(alert_state, a_state_copied_mid_incident_resumes_with_the_same_ids) {
  feeder a;
  a.feed("DDD D");
  feeder b = a;  // what a restored journal holds
  const auto ra = a.feed("UU");
  const auto rb = b.feed("UU");
  ASSERT_EQ(ra.size(), 1u);
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(ra[0].event_id, rb[0].event_id);
}

TEST(alert_state, stable_id_separates_its_parts) {
  EXPECT_NE(stable_id({"ab", "c"}), stable_id({"a", "bc"}));
  EXPECT_EQ(stable_id({"x", "y"}), stable_id({"x", "y"}));
}

// ---------------------------------------------------------------- forgetting silent locations

// One result of `where` at t0 + k * every; the transition it caused, if any.
std::optional<transition> at_step(feeder& f, const std::string& where, int k, bool up) {
  const observation o{where, t0 + k * every, up, up ? "" : "connect", up ? "" : "refused"};
  return step(f.state, f.check, o, f.settings);
}

// Quorum 2 of eu, us, ap; eu and us down (opened at step 4), then us falls silent while eu
// stays down and ap up.
feeder two_down_then_us_silent(int64_t ttl_ms) {
  feeder f;
  f.settings.quorum = 2;
  f.settings.location_ttl_ms = ttl_ms;
  for (int k = 0; k < 5; ++k) {
    for (const char* w : {"eu", "us"}) {
      const auto t = at_step(f, w, k, k < 2);
      EXPECT_EQ(t.has_value(), k == 4 && std::string(w) == "us") << w << " at " << k;
    }
    EXPECT_FALSE(at_step(f, "ap", k, true));
  }
  EXPECT_TRUE(f.state.open);
  return f;
}

TEST(alert_state, a_silent_location_stops_counting_once_older_than_location_ttl) {
  feeder f = two_down_then_us_silent(5 * every);  // us's last result: step 4
  // Up to 5 intervals after us's last result it still counts: the incident stays open.
  for (int k = 5; k <= 9; ++k) {
    EXPECT_FALSE(at_step(f, "eu", k, false)) << k;
    EXPECT_FALSE(at_step(f, "ap", k, true)) << k;
  }
  EXPECT_TRUE(f.state.locations.count("us"));
  // One more: us is forgotten, one location down is below quorum, the incident resolves.
  const auto t = at_step(f, "eu", 10, false);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type, resolved);
  EXPECT_EQ(t->resolved_at_ms, t0 + 10 * every);
  EXPECT_THAT(t->inc.locations, ElementsAre("eu", "us"));  // the incident keeps who saw it
  EXPECT_FALSE(f.state.locations.count("us"));
  EXPECT_EQ(f.state.forgotten, 1u);
  EXPECT_FALSE(f.state.open);
  EXPECT_FALSE(at_step(f, "ap", 10, true));
}

TEST(alert_state, a_forgotten_location_reporting_again_starts_up) {
  feeder f = two_down_then_us_silent(5 * every);
  for (int k = 5; k <= 10; ++k) at_step(f, "eu", k, false);
  ASSERT_FALSE(f.state.open);
  // us is back, still down: a fresh location needs failure_threshold down results again.
  EXPECT_FALSE(at_step(f, "us", 11, false));
  EXPECT_FALSE(f.state.locations.at("us").down);
  EXPECT_FALSE(at_step(f, "us", 12, false));
  const auto t = at_step(f, "us", 13, false);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->type, opened);
  EXPECT_EQ(t->inc.opened_at_ms, t0 + 2 * every);  // eu has been down since step 2
}

TEST(alert_state, a_forgotten_locations_old_result_read_again_is_ignored) {
  feeder f = two_down_then_us_silent(5 * every);
  for (int k = 5; k <= 10; ++k) at_step(f, "eu", k, false);
  ASSERT_FALSE(f.state.locations.count("us"));
  const check_state before = f.state;
  // us's results of steps 3 and 4 again (Kafka read them again after a restart): not new.
  EXPECT_FALSE(at_step(f, "us", 3, false));
  EXPECT_FALSE(at_step(f, "us", 4, false));
  EXPECT_FALSE(f.state.locations.count("us"));
  EXPECT_EQ(f.state.locations.size(), before.locations.size());
  // Within location_ttl of the newest result it is a location reporting (late, or new).
  EXPECT_FALSE(at_step(f, "us", 6, false));
  EXPECT_TRUE(f.state.locations.count("us"));
  EXPECT_TRUE(too_old_for_a_new_location(f.state, t0, f.settings));
  EXPECT_FALSE(too_old_for_a_new_location(f.state, t0 + 6 * every, f.settings));
  f.settings.location_ttl_ms = 0;
  EXPECT_FALSE(too_old_for_a_new_location(f.state, t0, f.settings));
  EXPECT_FALSE(too_old_for_a_new_location(check_state{}, t0, f.settings));
}

TEST(alert_state, location_ttl_0_never_forgets) {
  feeder f = two_down_then_us_silent(0);
  for (int k = 5; k < 1000; ++k) ASSERT_FALSE(at_step(f, "eu", k, false)) << k;
  EXPECT_TRUE(f.state.open);
  EXPECT_TRUE(f.state.locations.at("us").down);
}

TEST(alert_state, all_counts_only_the_locations_still_reporting) {
  feeder f;
  f.settings.rule = alert_settings::quorum_rule::all;
  f.settings.location_ttl_ms = 3 * every;
  EXPECT_FALSE(at_step(f, "ap", 0, true));  // ap reports once, then falls silent
  std::vector<transition> ts;
  for (int k = 0; k < 6; ++k)
    for (const char* w : {"eu", "us"})
      if (auto t = at_step(f, w, k, false)) ts.push_back(*t);
  // ap counted (as up) until step 3; from step 4 all of eu and us down is "all".
  ASSERT_THAT(types(ts), ElementsAre(opened));
  EXPECT_EQ(ts[0].at_ms, t0 + 4 * every);
  EXPECT_THAT(ts[0].inc.locations, ElementsAre("eu", "us"));
}

TEST(alert_state, forget_silent_locations_drops_only_those_older_than_the_silence) {
  check_state st;
  st.locations["a"].last_ms = 100;
  st.locations["b"].last_ms = 150;
  st.locations["c"].last_ms = 200;
  EXPECT_EQ(forget_silent_locations(st, 200, 50), 1u);  // a: 100 < 150; b at exactly 50 stays
  EXPECT_FALSE(st.locations.count("a"));
  EXPECT_TRUE(st.locations.count("b"));
  EXPECT_EQ(forget_silent_locations(st, 1'000'000, 0), 0u);
  EXPECT_EQ(forget_silent_locations(st, INT64_MIN, 1), 0u);  // no overflow
  EXPECT_EQ(st.locations.size(), 2u);
}

TEST(alert_state, forget_after_is_location_ttl_or_three_intervals_when_longer) {
  alert_settings s;
  s.location_ttl_ms = 600'000;                                    // 10 min
  EXPECT_EQ(forget_after(s, INT64_MIN, t0), 600'000);             // a first result: no interval yet
  EXPECT_EQ(forget_after(s, t0 - 30'000, t0), 600'000);           // every 30 s
  EXPECT_EQ(forget_after(s, t0 - 3'600'000, t0), 3 * 3'600'000);  // every hour
  EXPECT_EQ(forget_after(s, INT64_MIN + 1, INT64_MAX), INT64_MAX);  // no overflow
  s.location_ttl_ms = 0;
  EXPECT_EQ(forget_after(s, t0 - 3'600'000, t0), 0);  // never
}

TEST(alert_state, hourly_checks_keep_their_locations_past_location_ttl) {
  feeder f;
  f.settings.quorum = 2;
  f.settings.location_ttl_ms = 600'000;  // 10 min; the check runs every hour at each location
  constexpr int64_t hour = 3'600'000;
  std::vector<transition> ts;
  for (int k = 0; k < 5; ++k)
    for (const char* w : {"eu", "us"}) {
      const observation o{w, t0 + k * hour + (w[0] == 'u' ? 60'000 : 0), k < 1, "connect",
                          "refused"};
      if (auto t = step(f.state, f.check, o, f.settings)) ts.push_back(*t);
    }
  ASSERT_THAT(types(ts), ElementsAre(opened));  // both down from hour 1, third down at hour 3
  EXPECT_EQ(f.state.locations.size(), 2u);
  // us falls silent: forgotten once 3 hours older than eu's newest result, not before.
  for (int k = 5; k <= 8; ++k) {
    const observation o{"eu", t0 + k * hour, false, "connect", "refused"};
    const auto t = step(f.state, f.check, o, f.settings);
    EXPECT_EQ(t.has_value(), k == 8) << k;
  }
  EXPECT_FALSE(f.state.locations.count("us"));
}

TEST(alert_state, a_probe_and_a_writer_over_more_locations_open_different_incidents) {
  // The probe in eu sees only eu; the writer sees eu, us and ap at quorum 1: eu's same results
  // open an incident at the same opened_at on both, which must not share ids (a receiver
  // deduplicating on event_id would drop one of two different events).
  feeder probe, writer;
  for (const char* w : {"ap", "us"}) writer.feed("UUUU", w);
  const auto p = probe.feed("UDDD", "eu");
  const auto w = writer.feed("UDDD", "eu");
  ASSERT_EQ(p.size(), 1u);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(p[0].inc.opened_at_ms, w[0].inc.opened_at_ms);
  EXPECT_NE(p[0].inc.id, w[0].inc.id);
  EXPECT_NE(p[0].event_id, w[0].event_id);
  // Two writers fed the same results agree.
  feeder other;
  for (const char* l : {"ap", "us"}) other.feed("UUUU", l);
  EXPECT_EQ(other.feed("UDDD", "eu")[0].event_id, w[0].event_id);
}

}  // namespace
}  // namespace isitup::alert
