// pg_sink's alert state step against a real PostgreSQL: stored with the rows in one
// transaction, idempotent when a batch or a whole replay comes again, a state never replaced
// by an older version, one incident row per incident, and the outbox handed back at start
// until each delivery is marked.
#include <gtest/gtest.h>

#include <map>

#include "pg_test_util.hpp"
#include "pg_writer.hpp"

namespace isitup::pg {
namespace {

using testing::batch;
using testing::server;

// An event as the agent hands it over, with the sinks that must get it.
struct test_event {
  std::string id, type, incident;
  int64_t at = 0, opened = 0, resolved = ISITUP_ABSENT_TIME;
  std::vector<const char*> sinks{"ops"};
  std::string json{};
  isitup_event_v1 view() {
    json = R"({"v":1,"event_id":")" + id + R"(","type":")" + type + R"("})";
    isitup_event_v1 v{};
    v.struct_size = sizeof v;
    v.event_id = id.c_str();
    v.type = type.c_str();
    v.incident_id = incident.c_str();
    v.check = "check-1";
    v.plugin = "tcp_check";
    v.target = "127.0.0.1:1001";
    v.at_ms = at;
    v.opened_at_ms = opened;
    v.resolved_at_ms = resolved;
    v.error_kind = "connect";
    v.error_message = "Connection refused";
    v.locations_json = R"(["lab"])";
    v.json = json.c_str();
    return v;
  }
};

// One batch's alert state: check-1 at `version`, and `events`.
struct delta {
  std::string state_json;
  isitup_check_state_v1 state{};
  std::vector<isitup_event_v1> views;
  std::vector<isitup_outbox_event_v1> outbox;
  isitup_alert_state_v1 c{};
  delta(int64_t version, std::vector<test_event>& events) {
    state_json = R"({"v":)" + std::to_string(version) + "}";
    state = {sizeof state, "check-1", version, state_json.c_str()};
    for (test_event& e : events) views.push_back(e.view());
    for (std::size_t i = 0; i < events.size(); ++i)
      outbox.push_back({sizeof(isitup_outbox_event_v1), &views[i], events[i].sinks.data(),
                        events[i].sinks.size()});
    c = {sizeof c, &state, 1, outbox.data(), outbox.size()};
  }
};

std::unique_ptr<pg_writer> writer(const std::string& table) {
  writer_options o;
  o.conninfo = build_conninfo(server().uri(), "", 2000);
  o.names.table = table;
  o.to_json = [](const isitup_record_v1&) { return std::string("{}"); };
  return std::make_unique<pg_writer>(std::move(o));
}

struct loaded {
  std::map<std::string, std::string> states;  // check -> "version:json"
  std::vector<std::string> events;            // "event_id:type:sinks"
};

loaded load(pg_writer& w) {
  loaded out;
  w.load_alert_state([&](const isitup_alert_state_v1& a) {
    for (std::size_t i = 0; i < a.state_count; ++i)
      out.states[a.states[i].check] =
          std::to_string(a.states[i].version) + ":" + a.states[i].state_json;
    for (std::size_t i = 0; i < a.event_count; ++i) {
      std::string sinks;
      for (std::size_t k = 0; k < a.events[i].sink_count; ++k)
        sinks += (k ? "," : "") + std::string(a.events[i].sinks[k]);
      out.events.push_back(std::string(a.events[i].event->event_id) + ":" +
                           a.events[i].event->type + ":" + sinks);
    }
  });
  return out;
}

constexpr int64_t t0 = testing::nov_27_2026_18h;

TEST(pg_alert, state_events_and_incident_go_with_the_rows_and_replays_change_nothing) {
  auto w = writer("alerts_a");
  const batch rows = batch::range(0, 20);
  std::vector<test_event> opened{{"e1", "incident_opened", "i1", t0 + 3000, t0 + 1000}};
  opened[0].sinks = {"ops", "pager"};
  delta d1(3, opened);
  w->write(rows.pointers, {&d1.c});
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_a"), "20\n");
  EXPECT_EQ(server().psql("SELECT check_name, version, state FROM alerts_a_alert_state"),
            "check-1|3|{\"v\":3}\n");
  EXPECT_EQ(server().psql("SELECT incident_id, opened_at, resolved_at IS NULL, error_kind, "
                          "locations, opened_event_id FROM alerts_a_incidents"),
            "i1|2026-11-27 18:00:01+00|t|connect|[\"lab\"]|e1\n");
  EXPECT_EQ(server().psql("SELECT incident_id, open_for > interval '0' FROM "
                          "alerts_a_incidents_open"),
            "i1|t\n");

  // The same batch again, and an older state arriving late: nothing changes.
  w->write(rows.pointers, {&d1.c});
  std::vector<test_event> none;
  delta old(2, none);
  w->write({}, {&old.c});
  EXPECT_EQ(server().psql("SELECT version FROM alerts_a_alert_state"), "3\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_a_events"), "1\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_a_incidents"), "1\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_a_outbox"), "2\n");

  // The resolution, in a delta that repeats the opening (not committed yet, as the agent
  // sees it): one incident row, resolved.
  std::vector<test_event> both{opened[0],
                               {"e2", "incident_resolved", "i1", t0 + 9000, t0 + 1000, t0 + 8000}};
  delta d2(9, both);
  const batch more = batch::range(20, 30);
  w->write(more.pointers, {&d2.c});
  EXPECT_EQ(server().psql("SELECT count(*), max(resolved_at), max(resolved_event_id) FROM "
                          "alerts_a_incidents"),
            "1|2026-11-27 18:00:08+00|e2\n");
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_a_incidents_open"), "0\n");
  EXPECT_EQ(server().psql("SELECT string_agg(event_id || ':' || type, ',' ORDER BY seq) FROM "
                          "alerts_a_events"),
            "e1:incident_opened,e2:incident_resolved\n");
}

TEST(pg_alert, load_hands_back_the_state_and_each_undelivered_event_until_marked) {
  auto w = writer("alerts_b");
  std::vector<test_event> evs{{"e1", "incident_opened", "i1", t0 + 3000, t0 + 1000},
                              {"e2", "incident_resolved", "i1", t0 + 9000, t0 + 1000, t0 + 8000}};
  evs[0].sinks = {"ops", "pager"};
  delta d(9, evs);
  const batch rows = batch::range(0, 5);
  w->write(rows.pointers, {&d.c});

  auto reader = writer("alerts_b");  // a new start reads with a connection of its own
  loaded l = load(*reader);
  EXPECT_EQ(l.states["check-1"], "9:{\"v\":9}");
  EXPECT_EQ(l.events,
            (std::vector<std::string>{"e1:incident_opened:ops,pager", "e2:incident_resolved:ops"}));
  w->mark_delivered({{"ops", {"e1", "e2"}}});
  l = load(*reader);
  EXPECT_EQ(l.events, (std::vector<std::string>{"e1:incident_opened:pager"}));
  w->mark_delivered({{"pager", {"e1"}}, {"nobody", {"e1"}}});
  EXPECT_TRUE(load(*reader).events.empty());
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_b_outbox WHERE delivered_at IS NULL"),
            "0\n");
}

TEST(pg_alert, an_event_rebuilt_from_a_load_keeps_its_times_to_the_millisecond) {
  auto w = writer("alerts_c");
  std::vector<test_event> evs{{"e1", "incident_opened", "i1", t0 + 3007, t0 + 1999}};
  delta d(1, evs);
  w->write({}, {&d.c});
  int64_t at = 0, opened = 0, resolved = 0;
  w->load_alert_state([&](const isitup_alert_state_v1& a) {
    ASSERT_EQ(a.event_count, 1u);
    at = a.events[0].event->at_ms;
    opened = a.events[0].event->opened_at_ms;
    resolved = a.events[0].event->resolved_at_ms;
  });
  EXPECT_EQ(at, t0 + 3007);
  EXPECT_EQ(opened, t0 + 1999);
  EXPECT_EQ(resolved, ISITUP_ABSENT_TIME);
}

// The states go to PostgreSQL as array literals: names and JSON with the literal's own
// syntax (quotes, backslashes, braces, commas, NULL, spaces, newlines) each stay one element.
TEST(pg_alert, hostile_check_names_and_state_text_are_stored_as_given) {
  auto w = writer("alerts_d");
  const std::vector<std::string> names{"a\"b", "back\\slash", "{brace}",   "comma,name",
                                       "NULL", " spaced ",    "new\nline", "\"",
                                       "\\",   "é,{\"}"};
  std::vector<std::string> jsons;
  std::vector<isitup_check_state_v1> states;
  jsons.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i)
    jsons.push_back(R"({"s":"q\" \\ {x,y} NULL )" + std::to_string(i) + R"("})");
  for (std::size_t i = 0; i < names.size(); ++i)
    states.push_back({sizeof(isitup_check_state_v1), names[i].c_str(), static_cast<int64_t>(i + 1),
                      jsons[i].c_str()});
  const isitup_alert_state_v1 d{sizeof d, states.data(), states.size(), nullptr, 0};
  w->write({}, {&d});
  const loaded back = load(*w);
  ASSERT_EQ(back.states.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(back.states.count(names[i])) << names[i];
    EXPECT_EQ(back.states.at(names[i]), std::to_string(i + 1) + ":" + jsons[i]) << names[i];
  }
}

// A state is stored as the agent encoded it (text since migration 9; the agent parses it when
// it loads it and drops one it cannot read). One that is not JSON, shaped to break out of a
// JSON document of states, is stored as given and names nothing else; one PostgreSQL refuses
// (not UTF-8) is left out alone: the checks before and after it are stored, the writer says
// which check was left out.
TEST(pg_alert, a_state_is_stored_as_given_and_one_postgresql_refuses_is_left_out_alone) {
  auto w = writer("alerts_e");
  const std::string odd = R"({}, {"check_name": "injected", "version": 99, "state": {}})";
  const std::string bad = "{\"s\":\"\xc3\x28\"}";  // an invalid UTF-8 sequence
  const std::string good = R"({"ok":1})";
  const std::vector<isitup_check_state_v1> states{
      {sizeof(isitup_check_state_v1), "a-good", 1, good.c_str()},
      {sizeof(isitup_check_state_v1), "b-odd", 1, odd.c_str()},
      {sizeof(isitup_check_state_v1), "c-bad", 1, bad.c_str()},
      {sizeof(isitup_check_state_v1), "d-good", 1, good.c_str()}};
  const isitup_alert_state_v1 d{sizeof d, states.data(), states.size(), nullptr, 0};
  const batch rows = batch::range(0, 5);
  w->write(rows.pointers, {&d});
  EXPECT_EQ(server().psql("SELECT count(*) FROM alerts_e"), "5\n");
  EXPECT_EQ(server().psql("SELECT string_agg(check_name || '=' || state, ';' ORDER BY "
                          "check_name) FROM alerts_e_alert_state"),
            "a-good=" + good + ";b-odd=" + odd + ";d-good=" + good + "\n");
  ASSERT_EQ(w->alert_rejects().size(), 1u);
  EXPECT_EQ(w->alert_rejects()[0].first, "c-bad");
  const loaded back = load(*w);
  EXPECT_EQ(back.states.size(), 3u);
  EXPECT_EQ(back.states.at("b-odd"), "1:" + odd);
}

// A writer rewrites every check's state in each transaction: the table keeps room on its pages
// (fillfactor 50, migration 9) so that each update stays on its page and the page prunes the
// old versions itself. With full pages every update went to a new page: 20 rewrites of 1,000
// states made the table about 20 times its live size until autovacuum came.
TEST(pg_alert, rewriting_every_state_again_and_again_keeps_the_table_small) {
  auto w = writer("alerts_f");
  std::vector<std::string> names, jsons;
  for (int i = 0; i < 1000; ++i) names.push_back("site-" + std::to_string(i) + ".example.com");
  std::vector<isitup_check_state_v1> states(names.size());
  int64_t live = 0;
  for (int64_t version = 1; version <= 20; ++version) {
    jsons.clear();
    for (std::size_t i = 0; i < names.size(); ++i)
      jsons.push_back(R"({"loc":{"":{"down":false,"streak":)" + std::to_string(version) +
                      R"(,"since":1795802400000,"sek":"","sem":"","last":)" +
                      std::to_string(t0 + version * 60'000) + R"(}},"open":null})");
    for (std::size_t i = 0; i < names.size(); ++i)
      states[i] = {sizeof(isitup_check_state_v1), names[i].c_str(), version, jsons[i].c_str()};
    const isitup_alert_state_v1 d{sizeof d, states.data(), states.size(), nullptr, 0};
    w->write({}, {&d});
    if (version == 1)
      live = std::stoll(server().psql("SELECT pg_relation_size('alerts_f_alert_state')"));
  }
  EXPECT_EQ(server().psql("SELECT count(*), min(version), max(version) FROM alerts_f_alert_state"),
            "1000|20|20\n");
  EXPECT_EQ(server().psql("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid IN "
                          "('alerts_f_alert_state'::regclass, 'alerts_f_offsets'::regclass)"),
            "fillfactor=50\nfillfactor=50\n");
  const int64_t after =
      std::stoll(server().psql("SELECT pg_relation_size('alerts_f_alert_state')"));
  EXPECT_LE(after, 3 * live) << "one version: " << live << " bytes, after 20: " << after;
}

}  // namespace
}  // namespace isitup::pg
