// alert_tracker with a state sink (ISITUP_SINK_ALERT_STATE) faked in memory: it restores from
// the sink, an event reaches the notifiers only after the sink committed the batch that
// carries it, every delta carries the events that led to its state, a replayed batch carries
// nothing, and deliveries are reported back to the sink.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include <isitup/core/alert_event.hpp>
#include <isitup/core/alert_persist.hpp>
#include <isitup/core/alert_state.hpp>
#include <isitup/core/alert_tracker.hpp>
#include "eventually.hpp"

namespace isitup {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct notifier {
  std::mutex mu;
  std::vector<std::string> ids;
  static void write_events(void* self, const isitup_event_v1* const* events, size_t n,
                           isitup_batch_done_fn done, void* ctx) {
    auto& s = *static_cast<notifier*>(self);
    {
      std::lock_guard lock(s.mu);
      for (size_t i = 0; i < n; ++i) s.ids.emplace_back(events[i]->event_id);
    }
    done(ctx, ISITUP_OK, nullptr);
  }
  std::vector<std::string> got() {
    std::lock_guard lock(mu);
    return ids;
  }
};

// The state sink: what load_state hands back, and the delivery marks it is told.
struct store {
  std::vector<std::pair<std::string, std::string>> states;  // check, state_json
  int64_t version = 0;
  std::vector<alert::event> undelivered;  // each for sink "ops"
  std::mutex mu;
  std::vector<std::string> marks;  // "sink:event_id"

  static uint32_t load(void* self, int64_t, isitup_alert_load_fn loaded, void* ctx, char*, size_t) {
    auto& s = *static_cast<store*>(self);
    std::vector<isitup_check_state_v1> cs;
    for (auto& [check, json] : s.states)
      cs.push_back({sizeof(isitup_check_state_v1), check.c_str(), s.version, json.c_str()});
    std::vector<isitup_event_v1> views;
    for (auto& e : s.undelivered) {
      std::lock_guard lock(s.mu);  // a marked event is no longer handed back
      if (std::find(s.marks.begin(), s.marks.end(), "ops:" + e.event_id) == s.marks.end())
        views.push_back(e.view());
    }
    static const char* const ops_name[] = {"ops"};
    std::vector<isitup_outbox_event_v1> out;
    out.reserve(views.size());
    for (auto& v : views) out.push_back({sizeof(isitup_outbox_event_v1), &v, ops_name, 1});
    const isitup_alert_state_v1 all{sizeof all, cs.data(), cs.size(), out.data(), out.size()};
    loaded(ctx, &all);
    return ISITUP_OK;
  }
  static void delivered(void* self, const char* sink, const char* const* ids, size_t n) {
    auto& s = *static_cast<store*>(self);
    std::lock_guard lock(s.mu);
    for (size_t i = 0; i < n; ++i) s.marks.push_back(std::string(sink) + ":" + ids[i]);
  }
  std::vector<std::string> got_marks() {
    std::lock_guard lock(mu);
    return marks;
  }
};

isitup_sink_ops_v1 make_notifier_ops() {
  isitup_sink_ops_v1 o{};
  o.struct_size = sizeof o;
  o.sink_flags = ISITUP_SINK_NOTIFIER;
  o.write_events = &notifier::write_events;
  return o;
}
isitup_sink_ops_v1 make_store_ops() {
  isitup_sink_ops_v1 o{};
  o.struct_size = sizeof o;
  o.sink_flags = ISITUP_SINK_ALERT_STATE;
  o.load_state = &store::load;
  o.events_delivered = &store::delivered;
  return o;
}
const isitup_sink_ops_v1 notifier_ops = make_notifier_ops();
const isitup_sink_ops_v1 store_ops = make_store_ops();

record result(int64_t at, bool up) {
  record r;
  r.agent = "a1";
  r.location = "lab";
  r.check = "shop";
  r.plugin = "http_check";
  r.target = "https://shop.example/";
  r.scheduled_at_ms = at;
  r.up = up;
  if (!up) r.error_kind = "connect", r.error_message = "refused";
  return r;
}

std::vector<record> batch(const std::string& pattern, int64_t& at) {
  std::vector<record> out;
  for (char c : pattern) out.push_back(result(at += 1000, c == 'U'));
  return out;
}

struct fixture {
  notifier ops_sink;
  store db;
  std::unique_ptr<alert_tracker> make() {
    std::map<std::string, alert_settings> per_check;
    per_check["shop"].notify = {"ops"};
    auto t = std::make_unique<alert_tracker>(
        config::agent{}, per_check,
        std::vector<event_sink>{event_sink{"ops", &notifier_ops, &ops_sink, nullptr, true}},
        event_sink{"db", &store_ops, &db, nullptr, false});
    t->start();
    return t;
  }
};

std::vector<std::string> event_ids(const batch_state& s) {
  std::vector<std::string> out;
  const isitup_alert_state_v1& v = *s.view();
  for (size_t i = 0; i < v.event_count; ++i) out.emplace_back(v.events[i].event->event_id);
  return out;
}

TEST(alert_tracker_state, an_event_goes_out_only_after_its_batch_committed) {
  fixture f;
  auto t = f.make();
  int64_t at = 1'000'000;
  std::vector<record> b = batch("DDD", at);
  for (const record& r : b) t->observe(r);
  const auto delta = t->make_batch_state(b);
  ASSERT_NE(delta, nullptr);
  const isitup_alert_state_v1& v = *delta->view();
  ASSERT_EQ(v.state_count, 1u);
  EXPECT_STREQ(v.states[0].check, "shop");
  EXPECT_EQ(v.states[0].version, 3);  // one per result taken
  ASSERT_EQ(v.event_count, 1u);
  EXPECT_STREQ(v.events[0].event->type, "incident_opened");
  ASSERT_EQ(v.events[0].sink_count, 1u);
  EXPECT_STREQ(v.events[0].sinks[0], "ops");
  std::this_thread::sleep_for(100ms);
  EXPECT_THAT(f.ops_sink.got(), IsEmpty());  // not committed yet

  // A second batch before the first committed carries the same event and state. One more down
  // result of a down location changes only its last_ms: it does not count as a change.
  std::vector<record> b2 = batch("D", at);
  for (const record& r : b2) t->observe(r);
  const auto delta2 = t->make_batch_state(b2);
  ASSERT_NE(delta2, nullptr);
  EXPECT_EQ(delta2->view()->states[0].version, 3);
  EXPECT_EQ(event_ids(*delta2), event_ids(*delta));

  delta2->committed();  // the later batch commits first: its event goes out once
  ASSERT_TRUE(eventually([&] { return f.ops_sink.got().size() == 1; }));
  delta->committed();
  ASSERT_TRUE(eventually([&] { return f.db.got_marks().size() == 1; }));
  EXPECT_THAT(f.db.got_marks(), ElementsAre("ops:" + event_ids(*delta)[0]));
  EXPECT_TRUE(t->stop(2s));
  EXPECT_EQ(f.ops_sink.got().size(), 1u);

  // Nothing new for the check: a batch of it carries nothing.
  EXPECT_EQ(t->make_batch_state(b2), nullptr);
}

TEST(alert_tracker_state, a_steady_check_is_stored_again_only_every_quarter_location_ttl) {
  fixture f;
  auto t = f.make();
  int64_t at = 1'000'000;
  std::vector<record> first = batch("U", at);
  for (const record& r : first) t->observe(r);
  auto d = t->make_batch_state(first);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->view()->states[0].version, 1);  // a new location counts
  d->committed();
  // Up results every second: nothing changes but last_ms, until 150 s (600 s / 4) later.
  for (int i = 0; i < 149; ++i) {
    std::vector<record> b = batch("U", at);
    for (const record& r : b) t->observe(r);
    ASSERT_EQ(t->make_batch_state(b), nullptr) << "result " << i;
  }
  std::vector<record> b = batch("U", at);
  for (const record& r : b) t->observe(r);
  d = t->make_batch_state(b);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->view()->states[0].version, 2);
  EXPECT_TRUE(t->stop(1s));
}

TEST(alert_tracker_state, restores_state_and_resends_undelivered_events_with_their_ids) {
  fixture f;
  // The state the first tracker committed, down with an open incident at version 3.
  int64_t at = 1'000'000;
  std::string opened_id;
  {
    fixture first;
    auto t = first.make();
    std::vector<record> b = batch("DDD", at);
    for (const record& r : b) t->observe(r);
    const auto delta = t->make_batch_state(b);
    ASSERT_NE(delta, nullptr);
    const isitup_alert_state_v1& v = *delta->view();
    f.db.states.emplace_back("shop", v.states[0].state_json);
    f.db.version = v.states[0].version;
    alert::event e;
    ASSERT_TRUE(alert::event_from_view(*v.events[0].event, e));
    EXPECT_EQ(e.json, v.events[0].event->json);  // rebuilt exactly
    opened_id = e.event_id;
    f.db.undelivered.push_back(e);
    t->stop(0ms);
  }
  auto t = f.make();
  ASSERT_TRUE(eventually([&] { return f.ops_sink.got().size() == 1; }));
  EXPECT_THAT(f.ops_sink.got(), ElementsAre(opened_id));
  ASSERT_TRUE(eventually([&] { return f.db.got_marks().size() == 1; }));

  // The batch read again (its offset was not committed): no-ops, nothing to carry.
  int64_t replay_at = 1'000'000;
  std::vector<record> again = batch("DDD", replay_at);
  for (const record& r : again) t->observe(r);
  EXPECT_EQ(t->make_batch_state(again), nullptr);

  // Recovery goes on from the restored state: one resolution, of the same incident.
  std::vector<record> up = batch("UU", at);
  for (const record& r : up) t->observe(r);
  const auto delta = t->make_batch_state(up);
  ASSERT_NE(delta, nullptr);
  EXPECT_EQ(delta->view()->states[0].version, 5);
  ASSERT_EQ(delta->view()->event_count, 1u);
  EXPECT_STREQ(delta->view()->events[0].event->type, "incident_resolved");
  delta->committed();
  ASSERT_TRUE(eventually([&] { return f.ops_sink.got().size() == 2; }));
  EXPECT_TRUE(t->stop(2s));
  EXPECT_EQ(t->stats().transitions, 1u);
}

// Another writer's stored state (down, an incident open, its event not delivered yet), as the
// state sink hands it back.
void store_state_of(const std::string& pattern, int64_t& at, store& db, std::string& incident) {
  fixture other;
  auto t = other.make();
  std::vector<record> b = batch(pattern, at);
  for (const record& r : b) t->observe(r);
  const auto delta = t->make_batch_state(b);
  ASSERT_NE(delta, nullptr);
  const isitup_alert_state_v1& v = *delta->view();
  db.states.assign({{"shop", v.states[0].state_json}});
  db.version = v.states[0].version;
  db.undelivered.clear();
  for (size_t i = 0; i < v.event_count; ++i) {
    alert::event e;
    ASSERT_TRUE(alert::event_from_view(*v.events[i].event, e));
    incident = e.incident_id;
    db.undelivered.push_back(e);
  }
  t->stop(0ms);
}

// The state sink stores a state as the agent encoded it (pg_sink: text) and hands it back as
// stored: one the agent cannot read is dropped and counted (logged at restore), and names no
// other check; the others are restored.
TEST(alert_tracker_state, a_state_handed_back_that_is_not_the_agents_encoding_is_dropped_alone) {
  store db;
  db.version = 2;
  alert::check_state down;
  down.locations["lab"].down = true;
  down.locations["lab"].streak = 3;
  db.states = {{"shop", alert::encode_state(down)},
               {"odd", R"({}, {"check_name": "injected", "version": 99, "state": {}})"},
               {"bad", "not json"},
               {"shape", R"({"loc": [], "open": null})"}};
  const alert::loaded_state l = alert::load_from_sink(store_ops, &db, 1s);
  EXPECT_EQ(l.unreadable, 3);
  ASSERT_EQ(l.checks.size(), 1u);
  ASSERT_EQ(l.checks.count("shop"), 1u);
  EXPECT_EQ(l.checks.at("shop").version, 2);
  EXPECT_TRUE(l.checks.at("shop").state.locations.at("lab").down);
  EXPECT_EQ(l.checks.at("shop").state.locations.at("lab").streak, 3);
}

TEST(alert_tracker_state, after_an_assignment_a_state_another_writer_stored_is_taken) {
  fixture f;
  auto t = f.make();  // read at start: nothing stored
  int64_t at = 1'000'000;
  std::vector<record> up = batch("U", at);
  for (const record& r : up) t->observe(r);
  t->make_batch_state(up)->committed();  // this writer had the check once, at version 1
  // Another writer owned it since and stored it down with an open incident (version 3).
  std::string incident;
  store_state_of("DDD", at, f.db, incident);
  ASSERT_FALSE(incident.empty());
  ASSERT_TRUE(t->reload_from_sink(1s));
  ASSERT_EQ(t->open_incidents().size(), 1u);
  EXPECT_EQ(t->open_incidents()[0].id, incident);
  // The other writer's undelivered event is sent (it may have died mid-delivery).
  ASSERT_TRUE(eventually([&] { return f.ops_sink.got().size() == 1; }));
  // More downs change nothing; the recovery resolves that same incident.
  std::vector<record> more = batch("DDDDUU", at);
  for (const record& r : more) t->observe(r);
  const auto delta = t->make_batch_state(more);
  ASSERT_NE(delta, nullptr);
  EXPECT_GT(delta->view()->states[0].version, 3);  // goes on from the stored version
  ASSERT_EQ(delta->view()->event_count, 1u);
  EXPECT_STREQ(delta->view()->events[0].event->type, "incident_resolved");
  EXPECT_EQ(std::string(delta->view()->events[0].event->incident_id), incident);
  // Read again once marked: nothing is sent twice.
  ASSERT_TRUE(eventually([&] { return f.db.got_marks().size() == 1; }));
  ASSERT_TRUE(t->reload_from_sink(1s));
  EXPECT_TRUE(t->stop(2s));
  EXPECT_EQ(f.ops_sink.got().size(), 1u);
  EXPECT_EQ(t->stats().transitions, 1u);
}

TEST(alert_tracker_state, after_an_assignment_a_state_not_newer_than_memory_is_kept) {
  fixture f;
  auto t = f.make();
  int64_t at = 1'000'000;
  std::vector<record> down = batch("DDD", at);
  for (const record& r : down) t->observe(r);
  t->make_batch_state(down)->committed();  // version 3, an incident open
  int64_t other_at = 1'000'000;
  std::string incident;
  store_state_of("UU", other_at, f.db, incident);  // an older state (version 1)
  ASSERT_TRUE(t->reload_from_sink(1s));
  EXPECT_EQ(t->open_incidents().size(), 1u);
  // Every partition revoked: the check, committed and fed by a source, is forgotten here...
  t->forget_source_checks();
  EXPECT_EQ(t->open_incidents().size(), 1u);  // ...but "shop" is configured here: kept
  EXPECT_TRUE(t->stop(2s));
}

TEST(alert_tracker_state, a_check_ref_kept_while_its_check_is_forgotten_finds_it_again) {
  fixture f;
  auto t = f.make();
  alert_tracker::check_ref ref;
  int64_t at = 1'000'000;
  auto from_source = [](std::vector<record> b) {
    for (record& r : b) r.check = "fed";  // not configured here: forgotten when revoked
    return b;
  };
  std::vector<record> down = from_source(batch("DDD", at));
  for (const record& r : down) t->observe(r, ref);
  ASSERT_EQ(t->open_incidents().size(), 1u);
  t->make_batch_state(down)->committed();
  t->forget_source_checks();  // the entry `ref` pointed to is freed
  EXPECT_TRUE(t->open_incidents().empty());
  // Looked up again: a new state, which a down streak opens again.
  for (const record& r : from_source(batch("DDD", at))) t->observe(r, ref);
  ASSERT_EQ(t->open_incidents().size(), 1u);
  EXPECT_EQ(t->open_incidents()[0].check, "fed");
  EXPECT_EQ(t->stats().transitions, 2u);
  EXPECT_TRUE(t->stop(2s));
}

TEST(alert_tracker_state, events_the_state_sink_never_commits_are_bounded_per_check) {
  fixture f;
  auto t = f.make();
  int64_t at = 1'000'000;
  std::string pattern;
  for (int i = 0; i < 101; ++i) pattern += "DDDUU";  // 202 transitions, no commit
  for (const record& r : batch(pattern, at)) t->observe(r);
  const alert_stats s = t->stats();
  EXPECT_EQ(s.transitions, 202u);
  EXPECT_EQ(s.uncommitted, 100u);
  EXPECT_EQ(s.uncommitted_dropped, 102u);
  EXPECT_TRUE(t->stop(1s));
}

}  // namespace
}  // namespace isitup
