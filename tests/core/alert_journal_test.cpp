// alert::journal: what is appended comes back after a reopen (a restart), delivered events do
// not, a torn last line is ignored, the file is compacted on open, one agent per directory.
// Also the event's documented JSON.
#include <isitup/core/alert_journal.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace isitup::alert {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class alert_journal : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("isitup_journal_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The state and the opened event after three down results of `check`.
  static std::pair<check_state, event> opened(const std::string& check) {
    check_state st;
    alert_settings s;
    std::optional<transition> t;
    for (int i = 0; i < 3; ++i)
      t = step(st, check, {"eu", 1'000'000 + i * 1000, false, "connect", "refused \"x\"\n"}, s);
    return {st, make_event(*t, check, "http_check", "https://u:secret@shop.example/a")};
  }

  fs::path dir_;
};

TEST_F(alert_journal, undelivered_events_and_states_survive_a_reopen) {
  auto [st, ev] = opened("shop");
  auto [st2, ev2] = opened("blog");
  {
    journal::contents c;
    auto j = journal::open(dir_.string(), c);
    EXPECT_TRUE(c.states.empty());
    j->append_event(st, ev, {"ops", "stdout_sink"});
    j->append_event(st2, ev2, {"stdout_sink"});
    j->append_delivered(ev.event_id, "stdout_sink");
    j->append_delivered(ev2.event_id, "stdout_sink");
  }
  journal::contents c;
  auto j = journal::open(dir_.string(), c);
  ASSERT_EQ(c.undelivered.size(), 1u);  // blog's event went everywhere
  EXPECT_EQ(c.undelivered[0].ev.event_id, ev.event_id);
  EXPECT_THAT(c.undelivered[0].sinks, ElementsAre("ops"));
  EXPECT_EQ(c.undelivered[0].ev.json, ev.json);  // rebuilt identically
  ASSERT_EQ(c.states.size(), 2u);
  ASSERT_TRUE(c.states.at("shop").open);
  EXPECT_EQ(c.states.at("shop").open->id, st.open->id);
  EXPECT_EQ(c.states.at("shop").locations.at("eu").last_ms, 1'002'000);
  EXPECT_TRUE(c.states.at("shop").locations.at("eu").down);
}

TEST_F(alert_journal, a_torn_last_line_is_ignored) {
  auto [st, ev] = opened("shop");
  {
    journal::contents c;
    auto j = journal::open(dir_.string(), c);
    j->append_event(st, ev, {"ops"});
  }
  std::ofstream(dir_ / "alerts.journal", std::ios::app) << "{\"k\":\"d\",\"id\":\"" << ev.event_id;
  journal::contents c;
  auto j = journal::open(dir_.string(), c);
  ASSERT_EQ(c.undelivered.size(), 1u);  // the torn mark did not count
  EXPECT_EQ(c.skipped_lines, 1u);
}

TEST_F(alert_journal, open_compacts_to_what_is_live) {
  auto [st, ev] = opened("shop");
  {
    journal::contents c;
    auto j = journal::open(dir_.string(), c);
    for (int i = 0; i < 200; ++i) {
      j->append_event(st, ev, {"ops"});
      j->append_delivered(ev.event_id, "ops");
    }
    EXPECT_GT(j->size(), 100'000u);
  }
  journal::contents c;
  auto j = journal::open(dir_.string(), c);
  EXPECT_TRUE(c.undelivered.empty());
  EXPECT_LT(fs::file_size(dir_ / "alerts.journal"), 2'000u);  // one state line
  EXPECT_EQ(j->size(), fs::file_size(dir_ / "alerts.journal"));
}

TEST_F(alert_journal, one_agent_per_directory) {
  journal::contents c;
  auto j = journal::open(dir_.string(), c);
  try {
    journal::open(dir_.string(), c);
    FAIL() << "a second open succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("is in use by another agent"));
  }
}

TEST_F(alert_journal, the_event_json_has_the_documented_fields) {
  auto [st, ev] = opened("shop");
  rapidjson::Document d;
  d.Parse(ev.json.c_str());
  ASSERT_TRUE(d.IsObject()) << ev.json;
  EXPECT_EQ(d["v"].GetInt(), 1);
  EXPECT_STREQ(d["type"].GetString(), "incident_opened");
  EXPECT_EQ(std::string(d["event_id"].GetString()), ev.event_id);
  EXPECT_EQ(std::string(d["incident_id"].GetString()), st.open->id);
  EXPECT_STREQ(d["check"].GetString(), "shop");
  EXPECT_STREQ(d["plugin"].GetString(), "http_check");
  EXPECT_STREQ(d["target"].GetString(), "https://shop.example/a");  // no userinfo
  EXPECT_STREQ(d["opened_at"].GetString(), "1970-01-01T00:16:40.000Z");
  EXPECT_STREQ(d["at"].GetString(), "1970-01-01T00:16:42.000Z");
  EXPECT_TRUE(d["resolved_at"].IsNull());
  EXPECT_TRUE(d["duration_s"].IsNull());
  EXPECT_STREQ(d["state"].GetString(), "down");
  EXPECT_STREQ(d["error"]["kind"].GetString(), "connect");
  EXPECT_STREQ(d["error"]["message"].GetString(), "refused \"x\"\n");
  ASSERT_TRUE(d["locations"].IsArray());
  EXPECT_STREQ(d["locations"][0].GetString(), "eu");
  EXPECT_EQ(ev.json.find('\n'), std::string::npos);
  EXPECT_EQ(ev.locations_json, "[\"eu\"]");
}

TEST(alert_event, without_userinfo) {
  EXPECT_EQ(without_userinfo("https://u:p@h/x@y"), "https://h/x@y");
  EXPECT_EQ(without_userinfo("https://h:8443/"), "https://h:8443/");
  EXPECT_EQ(without_userinfo("tcp://a@b:1"), "tcp://b:1");
  EXPECT_EQ(without_userinfo("h:1"), "h:1");
}

}  // namespace
}  // namespace isitup::alert
