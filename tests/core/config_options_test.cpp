// validate_options / validate_given_options / default_options: a plugin's declared options
// against a config section, every error at file:line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isitup/core/config.hpp>

namespace isitup::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

option_schema opt(std::string name, option_type type, bool required = false,
                  std::optional<std::string> default_yaml = std::nullopt,
                  std::string description = "") {
  return {std::move(name), type, required, std::move(default_yaml), std::move(description)};
}

const std::vector<option_schema> schema = {
    opt("url", option_type::string, true, std::nullopt, "where to go"),
    opt("regex", option_type::string),
    opt("expect_status", option_type::list, false, "[200, 301]"),
    opt("follow", option_type::boolean, false, "true"),
    opt("max_bytes", option_type::integer, false, "1048576"),
    opt("ratio", option_type::number),
    opt("timeout", option_type::duration, false, "5s"),
    opt("headers", option_type::map),
};

// The options of a check, in block style: option lines start at line 4, column 7.
raw_options options_of(const std::string& lines) {
  std::string yaml = "checks:\n  - target: https://a/\n    options:\n";
  std::size_t start = 0;
  while (start < lines.size()) {
    const std::size_t end = lines.find('\n', start);
    yaml += "      " + lines.substr(start, end - start) + "\n";
    start = end == std::string::npos ? lines.size() : end + 1;
  }
  return load_string(yaml, "o.yml").checks[0].options;
}

std::string options_error(const std::string& lines, const std::vector<option_schema>& s = schema) {
  try {
    validate_options(options_of(lines), s, "checks[0] (http_check) options");
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(validate_options_test, values_of_every_type) {
  const option_values v = validate_options(options_of("url: https://x/\n"
                                                      "regex: 42\n"
                                                      "expect_status: [200, '204']\n"
                                                      "follow: No\n"
                                                      "max_bytes: -9223372036854775808\n"
                                                      "ratio: 2.5e-1\n"
                                                      "timeout: 1m30s\n"
                                                      "headers: {X-B: 2, X-A: one}\n"),
                                           schema, "options");
  ASSERT_EQ(v.items().size(), schema.size());
  for (std::size_t i = 0; i < schema.size(); ++i) {
    EXPECT_EQ(v.items()[i].first, schema[i].name);
    EXPECT_EQ(v.items()[i].second.type, schema[i].type);
    EXPECT_TRUE(v.items()[i].second.is_set);
    EXPECT_TRUE(v.items()[i].second.has_value);
  }
  EXPECT_EQ(v.find("url")->text, "https://x/");
  EXPECT_EQ(v.find("regex")->text, "42");
  EXPECT_THAT(v.find("expect_status")->list, ::testing::ElementsAre("200", "204"));
  EXPECT_EQ(v.find("follow")->integer, 0);
  EXPECT_EQ(v.find("follow")->text, "No");
  EXPECT_EQ(v.find("max_bytes")->integer, std::numeric_limits<int64_t>::min());
  EXPECT_DOUBLE_EQ(v.find("ratio")->number, 0.25);
  EXPECT_EQ(v.find("timeout")->integer, 90000);
  EXPECT_EQ(v.find("timeout")->text, "1m30s");
  using kv = std::pair<std::string, std::string>;
  EXPECT_THAT(v.find("headers")->map, ::testing::ElementsAre(kv{"X-B", "2"}, kv{"X-A", "one"}));
  EXPECT_EQ(v.find("nope"), nullptr);

  for (const char* text : {"true", "YES", "on", "On"}) {
    const option_values b = validate_options(options_of(std::string("follow: ") + text),
                                             {opt("follow", option_type::boolean)}, "o");
    EXPECT_EQ(b.find("follow")->integer, 1) << text;
  }
  const option_values one =
      validate_options(options_of("expect_status: 200"), {schema[2]}, "o");  // scalar: one item
  EXPECT_THAT(one.find("expect_status")->list, ::testing::ElementsAre("200"));
}

TEST(validate_options_test, defaults_and_nulls) {
  const option_values v =
      validate_options(options_of("url: https://x/\nfollow: ~\nregex:\n"), schema, "options");
  const option_value* follow = v.find("follow");  // null counts as not given
  EXPECT_FALSE(follow->is_set);
  EXPECT_TRUE(follow->has_value);
  EXPECT_EQ(follow->integer, 1);
  EXPECT_THAT(v.find("expect_status")->list, ::testing::ElementsAre("200", "301"));
  EXPECT_EQ(v.find("max_bytes")->integer, 1048576);
  EXPECT_EQ(v.find("timeout")->integer, 5000);
  for (const char* name : {"regex", "ratio", "headers"}) {
    EXPECT_FALSE(v.find(name)->has_value) << name;
    EXPECT_FALSE(v.find(name)->is_set) << name;
  }

  const agent a = load_string("sinks:\n  - plugin: stdout_sink\n", "s.yml");
  const option_values none =
      validate_options(a.sinks[0].options, {schema[3], schema[5]}, "sinks[0] options");
  EXPECT_EQ(none.items().size(), 2u);
  EXPECT_TRUE(none.find("follow")->has_value);
  EXPECT_FALSE(none.find("ratio")->has_value);
}

TEST(validate_options_test, given_options_and_shared_defaults_split_the_same_values) {
  const raw_options raw = options_of("url: https://x/\nfollow: ~\nmax_bytes: 7\n");
  const option_values given = validate_given_options(raw, schema, "options");
  EXPECT_EQ(given.find("follow"), nullptr) << "null counts as not given";
  ASSERT_NE(given.find("max_bytes"), nullptr);
  EXPECT_EQ(given.find("max_bytes")->integer, 7);
  EXPECT_EQ(given.find("timeout"), nullptr) << "defaults are not copied into every section";
  for (const auto& [name, v] : given.items()) EXPECT_TRUE(v.is_set) << name;

  const option_values defaults = default_options(schema, "options", raw.where());
  EXPECT_EQ(defaults.items().size(), schema.size());
  EXPECT_EQ(defaults.find("timeout")->integer, 5000);
  EXPECT_EQ(defaults.find("max_bytes")->integer, 1048576);
  EXPECT_FALSE(defaults.find("regex")->has_value);

  // Together they answer exactly what validate_options answers.
  const option_values full = validate_options(raw, schema, "options");
  for (const auto& [name, v] : full.items()) {
    const option_value* g = given.find(name);
    const option_value* merged = g ? g : defaults.find(name);
    EXPECT_EQ(merged->has_value, v.has_value) << name;
    EXPECT_EQ(merged->text, v.text) << name;
    EXPECT_EQ(merged->integer, v.integer) << name;
    EXPECT_EQ(merged->list, v.list) << name;
  }
  EXPECT_THROW(validate_given_options(options_of("bogus: 1\n"), schema, "options"), config_error);
}

TEST(validate_options_test, errors_name_file_line_column) {
  const struct {
    const char* name;
    std::string lines;
    std::string expected;  // the whole what()
  } cases[] = {
      {"unknown", "url: x\nregexp: a\n",
       "o.yml:5:7: checks[0] (http_check) options: unknown option 'regexp' (did you mean "
       "'regex'?); valid options: url, regex, expect_status, follow, max_bytes, ratio, timeout, "
       "headers"},
      {"missing required", "regex: a\n",
       "o.yml:4:7: checks[0] (http_check) options: missing required option 'url' (string: where "
       "to go)"},
      {"required but null", "regex: a\nurl: ~\n",
       "o.yml:5:7: checks[0] (http_check) options: missing required option 'url' (string: where "
       "to go)"},
      {"int", "url: x\nmax_bytes: lots\n",
       "o.yml:5:18: checks[0] (http_check) options: option 'max_bytes': expected an integer, got "
       "'lots'"},
      {"int range", "url: x\nmax_bytes: 9223372036854775808\n",
       "o.yml:5:18: checks[0] (http_check) options: option 'max_bytes': '9223372036854775808' is "
       "out of range for a 64-bit integer"},
      {"float", "url: x\nratio: half\n",
       "o.yml:5:14: checks[0] (http_check) options: option 'ratio': expected a number, got "
       "'half'"},
      {"bool", "url: x\nfollow: maybe\n",
       "o.yml:5:15: checks[0] (http_check) options: option 'follow': expected true or false, got "
       "'maybe'"},
      {"duration", "url: x\ntimeout: fast\n",
       "o.yml:5:16: checks[0] (http_check) options: option 'timeout': expected a duration like "
       "500ms, 30s, 5m, 1h, got 'fast'"},
      {"list item", "url: x\nexpect_status: [200, {a: b}]\n",
       "o.yml:5:28: checks[0] (http_check) options: option 'expect_status': item 1: expected a "
       "scalar, got a mapping"},
      {"map given list", "url: x\nheaders: [a]\n",
       "o.yml:5:16: checks[0] (http_check) options: option 'headers': expected a mapping of "
       "names to scalars, got a sequence"},
      {"map value", "url: x\nheaders: {a: [1]}\n",
       "o.yml:5:20: checks[0] (http_check) options: option 'headers': value of 'a': expected a "
       "scalar, got a sequence"},
      {"string given map", "url: {a: b}\n",
       "o.yml:4:12: checks[0] (http_check) options: option 'url': expected a string, got a "
       "mapping"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(options_error(c.lines), c.expected) << c.name;
  }
}

TEST(validate_options_test, missing_options_and_bad_defaults_point_at_the_owner) {
  const agent a = load_string("checks:\n  - target: https://a/\n", "o.yml");
  try {
    validate_options(a.checks[0].options, schema, "checks[0] (http_check) options");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_THAT(e.what(), StartsWith("o.yml:2:5: checks[0] (http_check) options: missing "
                                     "required option 'url'"));
  }
  EXPECT_EQ(options_error("a: 1\n", {opt("n", option_type::integer, false, "abc")}),
            "o.yml:4:7: checks[0] (http_check) options: unknown option 'a'; valid options: n");
  EXPECT_EQ(options_error("a: 1\n", {}),
            "o.yml:4:7: checks[0] (http_check) options: unknown option 'a'; this plugin takes no "
            "options");
  EXPECT_EQ(options_error("n: 1\n", {opt("n", option_type::integer, false, "abc")}), "(no error)");
  EXPECT_EQ(options_error("m: 1\n", {opt("m", option_type::integer),
                                     opt("n", option_type::integer, false, "abc")}),
            "o.yml:4:7: checks[0] (http_check) options: option 'n': the plugin's default 'abc' is "
            "invalid: expected an integer, got 'abc'");
  EXPECT_THAT(options_error("m: 1\n", {opt("m", option_type::integer),
                                       opt("n", option_type::list, false, "[1,")}),
              HasSubstr("option 'n': the plugin's default '[1,' is invalid: "));
}

}  // namespace
}  // namespace isitup::config
