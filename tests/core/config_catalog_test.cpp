// Catalog values: a check written by catalog_value reads back the same through
// parse_catalog_value, and hostile messages are refused naming the message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config.hpp"
#include "reload_plan.hpp"

namespace {

using isitup::config::config_error;
using isitup::config::load_string;
using isitup::config::parse_catalog_value;
using ::testing::HasSubstr;

const std::string source = "catalog partition 3 offset 17";

isitup::config::agent file_config() {
  return load_string(
      "agent: {id: a}\n"
      "sinks: [{plugin: stdout_sink}, {name: pager, plugin: webhook_sink}]\n"
      "checks:\n"
      "  - {name: shop, target: \"https://user:secret@shop.example/\", interval: 10s,\n"
      "     options: {expect_status: [200, 301], headers: {X-A: \"1\"}, body_regex: \"ok|fine\"},\n"
      "     alert: {failure_threshold: 5, quorum: majority, renotify: 1h, notify: [pager]}}\n"
      "  - {name: db, plugin: tcp_check, target: \"127.0.0.1:5432\", timeout: 1s}\n",
      "f.yml");
}

std::string error_of(std::string_view key, std::string_view value) {
  try {
    parse_catalog_value(key, value, source, file_config());
  } catch (const config_error& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(catalog_value, reads_back_as_the_same_check) {
  const auto cfg = file_config();
  for (const auto& c : cfg.checks) {
    const std::string value = isitup::config::catalog_value(c);
    const auto back = parse_catalog_value(c.name, value, source, cfg);
    EXPECT_TRUE(isitup::same_check(c, back)) << value;
    EXPECT_EQ(back.alert, c.alert) << value;
    EXPECT_EQ(back.target, c.target);
    EXPECT_EQ(back.shown_target, c.shown_target);
    EXPECT_EQ(back.where.file, source);
    EXPECT_EQ(isitup::config::catalog_value(back), value) << "not the same bytes again";
  }
}

TEST(catalog_value, refuses_hostile_messages_naming_the_message) {
  EXPECT_EQ(error_of("x", "not json"),
            source + ": not a JSON check definition (parse error at byte 1)");
  EXPECT_THAT(error_of("x", "[1]"), HasSubstr("expected a JSON object"));
  EXPECT_THAT(error_of("x", R"({"name":"x","target":"t"})"), HasSubstr("\"v\": 1"));
  EXPECT_THAT(error_of("x", R"({"v":2,"name":"x","target":"t"})"), HasSubstr("\"v\": 1"));
  EXPECT_THAT(error_of("x", R"({"v":1,"target":"t"})"), HasSubstr("no name"));
  EXPECT_THAT(error_of("y", R"({"v":1,"name":"x","target":"t"})"),
              HasSubstr("differs from the message key 'y'"));
  EXPECT_THAT(error_of("x", R"({"v":1,"name":"x","target":"t","interval":"fast"})"),
              HasSubstr(source + ": check.interval: expected a duration"));
  EXPECT_THAT(error_of("x", R"({"v":1,"name":"x","target":"t","shell":"rm -rf /"})"),
              HasSubstr("unknown key 'shell'"));
  EXPECT_THAT(error_of("x", R"({"v":1,"name":"x","name":"x","target":"t"})"),
              HasSubstr("given twice"));
  EXPECT_THAT(error_of("x", R"({"v":1,"name":"x","target":"t","alert":{"notify":["nobody"]}})"),
              HasSubstr("notify names no sink 'nobody'"));
  EXPECT_THAT(
      error_of("x", R"({"v":1,"name":"x","target":"t","options":{"a":[[[[[[[[[1]]]]]]]]]}})"),
      HasSubstr("nested deeper than 8 levels"));
  EXPECT_THAT(error_of("x", std::string(70000, ' ')), HasSubstr("at most 64 KiB"));
}

TEST(catalog_value, expands_no_environment_variables) {
  setenv("ISITUP_CATALOG_SECRET", "s3cret", 1);
  const auto c = parse_catalog_value(
      "x", R"({"v":1,"name":"x","target":"https://h/${ISITUP_CATALOG_SECRET}"})", source,
      file_config());
  EXPECT_EQ(c.target, "https://h/${ISITUP_CATALOG_SECRET}");
}

}  // namespace
