// sdk::config_map: one declaration gives the option table, the config struct's values and the
// range checks; read through the fake host's options, which apply the agent's rules.
#include <isitup/config_map.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fake_host.hpp"

namespace sdk = isitup::sdk;
using namespace std::chrono_literals;
using sdk::testing::option_map;

namespace {

struct settings {
  std::string format = "json";
  std::string token;
  std::string note = "kept";
  int64_t port = 0;
  double ratio = 0;
  bool verify = false;
  std::chrono::milliseconds timeout{0};
  std::vector<std::string> codes;
  std::vector<std::pair<std::string, std::string>> headers;
};

const sdk::config_map<settings>& settings_map() {
  static const auto map =
      sdk::config_map<settings>()
          .string("format", &settings::format, "json", "json or text")
          .one_of({"json", "text"})
          .string("token", &settings::token, nullptr, "API token")
          .required()
          .string("note", &settings::note, nullptr, "free text")
          .integer("port", &settings::port, "443", "TCP port", 1, 65535)
          .number("ratio", &settings::ratio, "0.5", "share of runs", 0, 1)
          .boolean("verify", &settings::verify, "true", "verify certificates")
          .duration("timeout", &settings::timeout, "2s", "give up after this", 1ms, 1h)
          .list("codes", &settings::codes, "[200]", "accepted status codes")
          .map("headers", &settings::headers, nullptr, "extra request headers");
  return map;
}

// Reads `given` through `map` as the agent would (declared types, defaults, required); a
// refusal is std::invalid_argument, the agent's own or the map's.
template <class Config>
Config read_with(const sdk::config_map<Config>& map, const option_map& given) {
  sdk::testing::fake_host host;
  const std::vector<isitup_option_v1> declared = sdk::detail::to_c(map.options());
  sdk::testing::fake_options options(declared.data(), declared.size(), given);
  if (!options.error().empty()) throw std::invalid_argument(options.error());
  return map.read(sdk::options_view(host.table(), options.raw()));
}

// Why `map` refuses `given`, or "accepted".
template <class Config>
std::string refusal(const sdk::config_map<Config>& map, const option_map& given) {
  try {
    read_with(map, given);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

settings read(const option_map& given) { return read_with(settings_map(), given); }

TEST(config_map, declares_every_option_once_with_its_type_default_and_flags) {
  const std::vector<sdk::option>& o = settings_map().options();
  ASSERT_EQ(o.size(), 9u);
  EXPECT_STREQ(o[0].name, "format");
  EXPECT_EQ(o[0].type, ISITUP_OPT_STRING);
  EXPECT_STREQ(o[0].default_value, "json");
  EXPECT_STREQ(o[1].name, "token");
  EXPECT_TRUE(o[1].required);
  EXPECT_FALSE(o[0].required);
  EXPECT_EQ(o[4].type, ISITUP_OPT_FLOAT);
  EXPECT_EQ(o[6].type, ISITUP_OPT_DURATION);
  EXPECT_EQ(o[8].type, ISITUP_OPT_MAP);
  EXPECT_STREQ(o[6].description, "give up after this");
}

TEST(config_map, fills_the_struct_from_given_values_and_declared_defaults) {
  const settings s = read({{"token", "t0k"},
                           {"port", "8443"},
                           {"ratio", "0.25"},
                           {"timeout", "1m30s"},
                           {"headers", sdk::testing::map_value{{"X-A", "1"}}}});
  EXPECT_EQ(s.token, "t0k");
  EXPECT_EQ(s.port, 8443);
  EXPECT_DOUBLE_EQ(s.ratio, 0.25);
  EXPECT_EQ(s.timeout, 90s);
  EXPECT_EQ(s.format, "json");  // declared default
  EXPECT_TRUE(s.verify);        // declared default, not the struct's false
  EXPECT_EQ(s.codes, std::vector<std::string>{"200"});
  ASSERT_EQ(s.headers.size(), 1u);
  EXPECT_EQ(s.headers[0].first, "X-A");
  EXPECT_EQ(s.note, "kept") << "no value and no default: the struct's initializer stays";
}

TEST(config_map, refuses_a_value_outside_its_range_naming_the_option) {
  const auto error = [](const option_map& given) { return refusal(settings_map(), given); };
  EXPECT_EQ(error({{"token", "t"}, {"port", "0"}}), "port: expected 1..65535, got 0");
  EXPECT_EQ(error({{"token", "t"}, {"ratio", "1.5"}}), "ratio: expected 0..1, got 1.5");
  EXPECT_EQ(error({{"token", "t"}, {"timeout", "2h"}}), "timeout: expected 1ms..1h, got 2h");
  EXPECT_EQ(error({{"token", "t"}, {"timeout", "0s"}}), "timeout: expected 1ms..1h, got 0ms");
  EXPECT_EQ(error({{"token", "t"}, {"format", "xml"}}),
            "format: expected one of \"json\", \"text\", got \"xml\"");
  EXPECT_NE(error({{"port", "80"}}).find("token"), std::string::npos) << "required";
  EXPECT_EQ(error({{"token", "t"}, {"port", "65535"}, {"timeout", "1h"}}), "accepted");
}

// An optional string tells "not given" from "given empty" (an empty request body is sent).
struct request {
  std::optional<std::string> body, pattern, mode;
};

TEST(config_map, an_optional_string_is_set_only_when_the_option_has_a_value) {
  static const auto map = sdk::config_map<request>()
                              .string("body", &request::body, nullptr, "request body")
                              .string("pattern", &request::pattern, nullptr, "a pattern")
                              .string("mode", &request::mode, "fast", "fast or slow")
                              .one_of({"fast", "slow"});
  const request r = read_with(map, {{"body", ""}});
  ASSERT_TRUE(r.body.has_value());
  EXPECT_EQ(*r.body, "");
  EXPECT_FALSE(r.pattern.has_value());
  EXPECT_EQ(r.mode, std::optional<std::string>("fast")) << "declared default";
  EXPECT_EQ(read_with(map, {{"pattern", "a+"}}).pattern, std::optional<std::string>("a+"));
  EXPECT_EQ(refusal(map, {{"mode", "medium"}}),
            "mode: expected one of \"fast\", \"slow\", got \"medium\"");
}

TEST(config_map, a_non_empty_string_refuses_an_empty_value_naming_the_option) {
  static const auto map = sdk::config_map<request>()
                              .string("mode", &request::mode, "fast", "a mode")
                              .non_empty()
                              .string("body", &request::body, nullptr, "may be empty");
  EXPECT_EQ(refusal(map, {{"mode", ""}}), "mode: must not be empty");
  EXPECT_EQ(refusal(map, {{"mode", "slow"}, {"body", ""}}), "accepted");
  EXPECT_EQ(refusal(map, {}), "accepted") << "the default is not empty";
  static const auto hinted = sdk::config_map<request>()
                                 .string("pattern", &request::pattern, nullptr, "a pattern")
                                 .non_empty("leave it out to match anything");
  EXPECT_EQ(refusal(hinted, {{"pattern", ""}}),
            "pattern: must not be empty (leave it out to match anything)");
  EXPECT_THROW(
      sdk::config_map<settings>().integer("port", &settings::port, "1", "a", 1, 2).non_empty(),
      std::logic_error);
}

// given(): a plugin-wide limit changes only for the checks that name it, so its declared
// default must read apart from the same value given.
struct limits {
  int64_t in_flight = 0;
  bool in_flight_given = true;  // read() must clear it when the option is not given
  std::chrono::milliseconds pause{0};
  bool pause_given = false;
};

TEST(config_map, given_tells_an_option_the_config_names_from_its_default) {
  static const auto map =
      sdk::config_map<limits>()
          .integer("in_flight", &limits::in_flight, "64", "runs at once", 1, 1000)
          .given(&limits::in_flight_given)
          .duration("pause", &limits::pause, nullptr, "a pause", 0ms, 1h)
          .given(&limits::pause_given);
  const auto read_limits = [](const option_map& given) { return read_with(map, given); };
  const limits defaults = read_limits({});
  EXPECT_EQ(defaults.in_flight, 64) << "the member still gets the declared default";
  EXPECT_FALSE(defaults.in_flight_given);
  EXPECT_FALSE(defaults.pause_given);
  const limits same = read_limits({{"in_flight", "64"}});
  EXPECT_EQ(same.in_flight, 64);
  EXPECT_TRUE(same.in_flight_given) << "the default's value, but given";
  const limits both = read_limits({{"in_flight", "8"}, {"pause", "2s"}});
  EXPECT_EQ(both.in_flight, 8);
  EXPECT_TRUE(both.in_flight_given);
  EXPECT_EQ(both.pause, 2s);
  EXPECT_TRUE(both.pause_given);
  EXPECT_EQ(refusal(map, {{"in_flight", "0"}}), "in_flight: expected 1..1000, got 0")
      << "the range still applies";
}

TEST(config_map, a_name_declared_twice_is_a_programming_error) {
  EXPECT_THROW(sdk::config_map<settings>()
                   .integer("port", &settings::port, "1", "a", 1, 2)
                   .integer("port", &settings::port, "1", "b", 1, 2),
               std::logic_error);
  EXPECT_THROW(
      sdk::config_map<settings>().integer("port", &settings::port, "1", "a", 1, 2).one_of({"x"}),
      std::logic_error);
}

// Options two plugins share, declared once and included into each plugin's own map.
struct connection {
  std::chrono::milliseconds connect_timeout{0};
  bool verify = true;
};
struct plugin_settings {
  int64_t retries = 0;
  connection conn;
};

const sdk::config_map<connection>& connection_map() {
  static const auto map =
      sdk::config_map<connection>()
          .duration("connect_timeout", &connection::connect_timeout, "1s", "connect", 0ms, 1h)
          .boolean("verify", &connection::verify, "true", "verify");
  return map;
}

const sdk::config_map<plugin_settings>& plugin_map() {
  static const auto map = sdk::config_map<plugin_settings>()
                              .integer("retries", &plugin_settings::retries, "2", "retries", 0, 9)
                              .include(connection_map(), &plugin_settings::conn);
  return map;
}

plugin_settings read_plugin(const option_map& given) { return read_with(plugin_map(), given); }

TEST(config_map, include_declares_a_shared_part_once_and_fills_its_member) {
  const std::vector<sdk::option>& o = plugin_map().options();
  ASSERT_EQ(o.size(), 3u);
  EXPECT_STREQ(o[0].name, "retries");
  EXPECT_STREQ(o[1].name, "connect_timeout");
  EXPECT_STREQ(o[2].name, "verify");
  const plugin_settings defaults = read_plugin({});
  EXPECT_EQ(defaults.retries, 2);
  EXPECT_EQ(defaults.conn.connect_timeout, 1s);
  EXPECT_TRUE(defaults.conn.verify);
  const plugin_settings given =
      read_plugin({{"connect_timeout", "250ms"}, {"verify", "false"}, {"retries", "0"}});
  EXPECT_EQ(given.retries, 0);
  EXPECT_EQ(given.conn.connect_timeout, 250ms);
  EXPECT_FALSE(given.conn.verify);
  EXPECT_EQ(refusal(plugin_map(), {{"connect_timeout", "2h"}}),
            "connect_timeout: expected 0ms..1h, got 2h");
}

TEST(config_map, include_refuses_a_name_the_plugin_declares_too) {
  EXPECT_THROW(sdk::config_map<plugin_settings>()
                   .integer("verify", &plugin_settings::retries, "1", "clash", 0, 9)
                   .include(connection_map(), &plugin_settings::conn),
               std::logic_error);
}

}  // namespace
