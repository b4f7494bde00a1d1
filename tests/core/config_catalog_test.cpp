// Catalog values: a check written by catalog_value reads back the same through
// parse_catalog_value, and hostile messages are refused naming the message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isitup/core/config.hpp>
#include <isitup/core/reload_plan.hpp>

#include "scoped_env.hpp"

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

// catalog_reader reuses what it read from a value of the same shape: the result must be what
// parse_catalog_value gives, with this message's name, target and place in errors.
TEST(catalog_reader, reads_what_parse_catalog_value_reads) {
  const auto cfg = file_config();
  isitup::config::catalog_reader reader(cfg);
  for (int round = 0; round < 2; ++round)
    for (const auto& c : cfg.checks) {
      const std::string value = isitup::config::catalog_value(c);
      const auto back = reader.read(c.name, value, source);
      EXPECT_TRUE(isitup::same_check(c, back)) << value;
      EXPECT_EQ(back.alert, c.alert);
      EXPECT_EQ(back.shown_target, c.shown_target);
    }
  // Same shape as "shop", another name and target (with other credentials).
  auto other = cfg.checks[0];
  other.name = "shop2";
  other.target = "https://bob:pw2@other.example/x";
  const std::string other_source = "catalog partition 5 offset 99";
  const auto got = reader.read("shop2", isitup::config::catalog_value(other), other_source);
  EXPECT_EQ(got.name, "shop2");
  EXPECT_EQ(got.target, other.target);
  EXPECT_EQ(got.shown_target, "https://bob:***@other.example/x");
  EXPECT_EQ(got.where.file, other_source);
  EXPECT_EQ(got.options.where().file, other_source) << "plugin errors would name another message";
  EXPECT_TRUE(isitup::config::same_options(got.options, cfg.checks[0].options));
  EXPECT_EQ(got.alert, cfg.checks[0].alert);
}

TEST(catalog_reader, refuses_what_parse_catalog_value_refuses_once_the_shape_is_known) {
  const auto cfg = file_config();
  isitup::config::catalog_reader reader(cfg);
  reader.read("x", R"({"v":1,"name":"x","target":"t"})", source);  // the shape is known now
  const auto refused = [&](std::string_view key, std::string_view value) -> std::string {
    try {
      reader.read(key, value, source);
    } catch (const config_error& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_THAT(refused("x", R"({"v":1,"name":"x","name":"x","target":"t"})"),
              HasSubstr("given twice"));
  EXPECT_THAT(refused("y", R"({"v":1,"name":"x","target":"t"})"),
              HasSubstr("differs from the message key 'y'"));
  EXPECT_THAT(refused("x", R"({"v":1,"name":"x","target":""})"), HasSubstr("must not be empty"));
  EXPECT_THAT(refused("x", "{\"v\":1,\"name\":\"x\",\"target\":\"t\\u0001\"}"),
              HasSubstr("control character"));
  EXPECT_THAT(refused("x", R"({"v":1,"name":"x","target":["t"]})"), HasSubstr("check.target"));
}

TEST(catalog_value, expands_no_environment_variables) {
  const isitup::test::scoped_env secret("ISITUP_CATALOG_SECRET", "s3cret");
  const auto c = parse_catalog_value(
      "x", R"({"v":1,"name":"x","target":"https://h/${ISITUP_CATALOG_SECRET}"})", source,
      file_config());
  EXPECT_EQ(c.target, "https://h/${ISITUP_CATALOG_SECRET}");
}

}  // namespace
