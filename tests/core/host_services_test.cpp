// The host's log filter for plugins: a warning repeated within a second is printed once, and
// the next line printed says how many were left out. submit_parsed: records the host decoded go
// on as they are, and stay the source's, unchanged, unless the host took them.
#include <isitup/core/host_services.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

TEST(host_log_filter, prints_a_repeated_warning_once_a_second_and_counts_the_rest) {
  isitup_host_ctx ctx{"p.i"};
  std::string suffix;
  EXPECT_TRUE(ctx.should_log(ISITUP_LOG_WARN, "broker down", suffix));
  int printed = 0;
  for (int i = 0; i < 50; ++i) printed += ctx.should_log(ISITUP_LOG_WARN, "broker down", suffix);
  EXPECT_EQ(printed, 0);
  EXPECT_TRUE(ctx.should_log(ISITUP_LOG_WARN, "broker back", suffix));
  EXPECT_EQ(suffix, " (50 similar suppressed)");
}

TEST(host_log_filter, never_holds_back_info_or_a_new_message) {
  isitup_host_ctx ctx{"p.i"};
  std::string suffix;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ctx.should_log(ISITUP_LOG_INFO, "same", suffix));
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(ctx.should_log(ISITUP_LOG_ERROR, "error " + std::to_string(i), suffix));
  EXPECT_EQ(suffix, "");
}

const std::string record_json =
    R"({"v":1,"agent":"probe-eu-1","location":"eu-west","check":"shop","plugin":"http_check",)"
    R"("target":"https://shop.example.com/a/path/long/enough/to/be/on/the/heap",)"
    R"("scheduled_at":"2026-11-27T18:00:00.000Z","started_at":"2026-11-27T18:00:00.002Z",)"
    R"("status":"up","error":null,"extra":{"cache":"HIT"}})";

isitup_parsed_record* parse(const std::string& json) {
  char err[256] = "";
  isitup_parsed_record* p =
      isitup::host_table()->record_parse(json.data(), json.size(), err, sizeof err);
  EXPECT_NE(p, nullptr) << err;
  return p;
}

// A source's ctx whose pipeline answers `answer`, keeping what it took.
struct source_ctx {
  explicit source_ctx(uint32_t answer) : ctx("kafka_sink.source0") {
    ctx.submit_records = [this, answer](std::vector<isitup::record>& batch, uint64_t,
                                        const isitup_positions_v1*) {
      ++calls;
      if (answer == ISITUP_OK) taken = std::move(batch);
      return answer;
    };
  }
  isitup_host_ctx ctx;
  int calls = 0;
  std::vector<isitup::record> taken;
};

TEST(submit_parsed, hands_the_decoded_records_over_as_they_are) {
  source_ctx s(ISITUP_OK);
  std::vector<isitup_parsed_record*> records{parse(record_json), parse(record_json)};
  ASSERT_EQ(isitup::host_table()->submit_parsed(&s.ctx, records.data(), records.size(), 7, nullptr),
            ISITUP_OK);  // the host owns (and freed) the parsed records now
  ASSERT_EQ(s.taken.size(), 2U);
  EXPECT_EQ(s.taken[1].check, "shop");
  EXPECT_EQ(s.taken[1].target, "https://shop.example.com/a/path/long/enough/to/be/on/the/heap");
  EXPECT_EQ(s.taken[1].extra_json, R"({"cache":"HIT"})");
}

TEST(submit_parsed, leaves_the_records_to_the_source_unchanged_when_the_pipeline_is_full) {
  source_ctx s(ISITUP_RETRY);
  std::vector<isitup_parsed_record*> records{parse(record_json), parse(record_json)};
  EXPECT_EQ(isitup::host_table()->submit_parsed(&s.ctx, records.data(), records.size(), 7, nullptr),
            ISITUP_RETRY);
  EXPECT_EQ(s.calls, 1);
  for (isitup_parsed_record* p : records) {  // views still point at the records' text
    const isitup_record_v1* v = isitup::host_table()->record_view(p);
    EXPECT_STREQ(v->check, "shop");
    EXPECT_STREQ(v->location, "eu-west");
    EXPECT_STREQ(v->target, "https://shop.example.com/a/path/long/enough/to/be/on/the/heap");
    isitup::host_table()->record_free(p);
  }
}

TEST(submit_parsed, refuses_a_record_given_twice_or_missing_and_leaves_the_others_intact) {
  source_ctx s(ISITUP_OK);
  isitup_parsed_record* p = parse(record_json);
  std::vector<isitup_parsed_record*> twice{p, p}, missing{p, nullptr};
  EXPECT_EQ(isitup::host_table()->submit_parsed(&s.ctx, twice.data(), twice.size(), 7, nullptr),
            ISITUP_ERROR);
  EXPECT_EQ(isitup::host_table()->submit_parsed(&s.ctx, missing.data(), missing.size(), 7, nullptr),
            ISITUP_ERROR);
  EXPECT_EQ(s.calls, 0);
  EXPECT_STREQ(isitup::host_table()->record_view(p)->check, "shop");
  isitup::host_table()->record_free(p);
}

TEST(submit_parsed, is_refused_to_a_plugin_that_is_not_a_source) {
  isitup_host_ctx ctx("pg_sink.sink0");
  isitup_parsed_record* p = parse(record_json);
  EXPECT_EQ(isitup::host_table()->submit_parsed(&ctx, &p, 1, 7, nullptr), ISITUP_ERROR);
  isitup::host_table()->record_free(p);
}

}  // namespace
