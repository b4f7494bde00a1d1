// The fake host (sdk/testing) is as strict as the agent: what the agent refuses, a plugin's
// unit test refuses too, and a completion called twice fails the test.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <fake_host.hpp>
#include <isitup/plugin.hpp>
#include <record_json.hpp>
#include <under_test.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <isitup/core/codec.hpp>
#include <isitup/core/config.hpp>
#include <isitup/core/options.hpp>
#include "sample_record.hpp"

namespace testing_ns = isitup::sdk::testing;
using namespace std::chrono_literals;

namespace {

isitup_option_v1 opt(const char* name, uint32_t type, const char* def) {
  return isitup_option_v1{sizeof(isitup_option_v1), name, type, 0, def, "d"};
}

std::string error_for(std::vector<isitup_option_v1> declared, testing_ns::option_map given = {}) {
  testing_ns::fake_options o(declared.data(), declared.size(), std::move(given));
  return o.error();
}

TEST(fake_host, durations_follow_the_agents_parser) {
  for (const char* text : {"5s5s", "30s1m", "5", "1.5s", "-5s", "5 s", "s", "",
                           "99999999999999999999d", "1m30s", "500ms", "1d2h3m4s5ms", "0s"}) {
    const bool agent = isitup::parse_duration_ms(text).has_value();
    const std::string err =
        error_for({opt("t", ISITUP_OPT_DURATION, nullptr)}, {{"t", std::string(text)}});
    EXPECT_EQ(err.empty(), agent) << "\"" << text << "\": " << err;
  }
  EXPECT_NE(error_for({opt("t", ISITUP_OPT_DURATION, nullptr)}, {{"t", std::string("5s5s")}}), "");
}

TEST(fake_host, refuses_an_option_declared_twice) {
  EXPECT_EQ(error_for({opt("a", ISITUP_OPT_STRING, nullptr), opt("a", ISITUP_OPT_INT, "1")}),
            "option \"a\" is declared twice");
}

TEST(fake_host, refuses_a_default_that_does_not_fit_its_type) {
  EXPECT_EQ(error_for({opt("n", ISITUP_OPT_INT, "many")}),
            "option 'n': the plugin's default 'many' is invalid: expected an integer, got 'many'");
  EXPECT_NE(error_for({opt("t", ISITUP_OPT_DURATION, "5s5s")}), "");
  EXPECT_NE(error_for({opt("b", ISITUP_OPT_BOOL, "maybe")}), "");
  EXPECT_EQ(error_for({opt("t", ISITUP_OPT_DURATION, "1m30s"), opt("l", ISITUP_OPT_LIST, "[1]")}),
            "");
}

// The agent's error for `yaml_value` given as option "v" of `type`, from its config reader.
std::string agent_error(isitup::option_type type, const std::string& yaml_value) {
  const std::string yaml = "checks:\n  - target: x\n    options:\n      v: " + yaml_value + "\n";
  try {
    const auto raw = isitup::config::load_string(yaml, "o.yml").checks[0].options;
    isitup::config::validate_options(raw, {{"v", type, false, std::nullopt, ""}}, "s");
  } catch (const isitup::config::config_error& e) {
    return e.what();
  }
  return "";
}

// YAML for a scalar: double-quoted, so the agent sees exactly `text`.
std::string quoted_yaml(const std::string& text) { return "\"" + text + "\""; }

TEST(fake_host, refuses_exactly_the_values_the_agent_refuses_with_its_words) {
  const std::pair<isitup::option_type, uint32_t> types[] = {
      {isitup::option_type::string, ISITUP_OPT_STRING},
      {isitup::option_type::integer, ISITUP_OPT_INT},
      {isitup::option_type::number, ISITUP_OPT_FLOAT},
      {isitup::option_type::boolean, ISITUP_OPT_BOOL},
      {isitup::option_type::duration, ISITUP_OPT_DURATION},
  };
  const char* texts[] = {
      "5",   "-5",  "+5",    " 5",  "0x10", "1e3", "1.5",   "-",    "",    "TRUE",
      "Yes", "off", "maybe", "nan", "inf",  "5s",  "1m30s", "5s5s", "abc", "99999999999999999999"};
  for (const auto& [type, abi] : types) {
    for (const char* text : texts) {
      const std::string agent = agent_error(type, quoted_yaml(text));
      const std::string fake = error_for({opt("v", abi, nullptr)}, {{"v", std::string(text)}});
      SCOPED_TRACE(std::string(isitup::to_string(type)) + " '" + text + "': agent: " + agent);
      EXPECT_EQ(fake.empty(), agent.empty()) << fake;
      if (!fake.empty()) {
        EXPECT_THAT(agent, ::testing::EndsWith("s: " + fake));
      }
    }
  }
}

TEST(fake_host, reads_lists_and_maps_as_the_agent_does) {
  using testing_ns::list_value;
  using testing_ns::map_value;
  // A scalar given for a list is a list of one.
  EXPECT_EQ(agent_error(isitup::option_type::list, "x"), "");
  EXPECT_EQ(error_for({opt("v", ISITUP_OPT_LIST, nullptr)}, {{"v", std::string("x")}}), "");
  const std::string seq = error_for({opt("v", ISITUP_OPT_INT, nullptr)}, {{"v", list_value{"1"}}});
  EXPECT_THAT(agent_error(isitup::option_type::integer, "[1]"), ::testing::EndsWith("s: " + seq));
  const std::string map =
      error_for({opt("v", ISITUP_OPT_LIST, nullptr)}, {{"v", map_value{{"a", "b"}}}});
  EXPECT_THAT(agent_error(isitup::option_type::list, "{a: b}"), ::testing::EndsWith("s: " + map));
  const std::string scalar =
      error_for({opt("v", ISITUP_OPT_MAP, nullptr)}, {{"v", std::string("x")}});
  EXPECT_THAT(agent_error(isitup::option_type::map, "x"), ::testing::EndsWith("s: " + scalar));
  EXPECT_EQ(
      error_for({opt("v", ISITUP_OPT_MAP, nullptr)}, {{"v", map_value{{"a", "1"}, {"a", "2"}}}}),
      "option 'v': duplicate key 'a'");
}

TEST(fake_host, names_the_missing_and_the_unknown_option_as_the_agent_does) {
  isitup_option_v1 required = opt("url", ISITUP_OPT_STRING, nullptr);
  required.required = 1;
  EXPECT_EQ(error_for({required}), "missing required option 'url'");
  EXPECT_EQ(error_for({opt("a", ISITUP_OPT_STRING, nullptr), opt("b", ISITUP_OPT_INT, "1")},
                      {{"zzz", std::string("1")}}),
            "unknown option 'zzz'; valid options: a, b");
  EXPECT_EQ(error_for({}, {{"zzz", std::string("1")}}),
            "unknown option 'zzz'; this plugin takes no options");
}

// An unknown option reads as in the agent, the near-name hint included (one implementation:
// isitup/option_text.hpp suggestion()).
TEST(fake_host, suggests_a_near_name_for_an_unknown_option_as_the_agent_does) {
  const std::vector<isitup::option_schema> schema = {
      {"timeout", isitup::option_type::duration, false, std::nullopt, ""},
      {"port", isitup::option_type::integer, false, std::nullopt, ""},
      {"ab", isitup::option_type::string, false, std::nullopt, ""}};
  const std::vector<isitup_option_v1> declared = {opt("timeout", ISITUP_OPT_DURATION, nullptr),
                                                  opt("port", ISITUP_OPT_INT, nullptr),
                                                  opt("ab", ISITUP_OPT_STRING, nullptr)};
  for (const char* key :
       {"timout", "tiemout", "prot", "portt", "a", "b", "ba", "xyz", "deadline"}) {
    std::string agent;
    try {
      const std::string yaml =
          std::string("checks:\n  - target: x\n    options:\n      ") + key + ": 1\n";
      const auto raw = isitup::config::load_string(yaml, "o.yml").checks[0].options;
      isitup::config::validate_options(raw, schema, "s");
    } catch (const isitup::config::config_error& e) {
      agent = e.what();
    }
    const std::string fake = error_for(declared, {{key, std::string("1")}});
    SCOPED_TRACE(std::string(key) + ": agent: " + agent);
    ASSERT_NE(fake, "");
    EXPECT_THAT(agent, ::testing::EndsWith("s: " + fake));
  }
  EXPECT_EQ(error_for(declared, {{"timout", std::string("1s")}}),
            "unknown option 'timout' (did you mean 'timeout'?); valid options: timeout, port, ab");
  EXPECT_EQ(error_for(declared, {{"deadline", std::string("1s")}}),
            "unknown option 'deadline'; valid options: timeout, port, ab");
}

TEST(fake_host, refuses_nameless_and_unknown_type_declarations) {
  EXPECT_NE(error_for({opt(nullptr, ISITUP_OPT_STRING, nullptr)}), "");
  EXPECT_NE(error_for({opt("x", 99, nullptr)}), "");
}

// A sink whose write() completes twice.
void write_twice(void*, const isitup_batch_v1*, isitup_batch_done_fn done, void* ctx) {
  done(ctx, ISITUP_OK, nullptr);
  done(ctx, ISITUP_OK, nullptr);
}
uint32_t create_sink(const isitup_host_v1*, isitup_host_ctx*, const isitup_options*, void** out,
                     char*, size_t) {
  static int instance;
  *out = &instance;
  return ISITUP_OK;
}
uint32_t flush_sink(void*, int64_t) { return ISITUP_OK; }
void destroy_sink(void*) {}

TEST(fake_host, a_completion_called_twice_fails_the_test_with_the_reason) {
  static const isitup_sink_ops_v1 ops = [] {
    isitup_sink_ops_v1 o{};
    o.struct_size = sizeof o;
    o.create = create_sink;
    o.write = write_twice;
    o.flush = flush_sink;
    o.destroy = destroy_sink;
    return o;
  }();
  static const isitup_plugin_v1 plugin{
      ISITUP_ABI_VERSION, sizeof plugin, "twice", "1",     "d",
      ISITUP_KIND_SINK,   nullptr,       &ops,    nullptr, nullptr};
  testing_ns::fake_host host;
  testing_ns::sink_under_test sink(host, &plugin);
  ASSERT_TRUE(sink.ok()) << sink.error();
  EXPECT_NONFATAL_FAILURE(sink.write({}), "called the completion of a batch write again");
  ASSERT_EQ(host.problems().size(), 1u);
}

class history_sink_plain : public isitup::sdk::sink {
 public:
  history_sink_plain(const isitup::sdk::host&, const isitup::sdk::options_view&) {}
  void write(const isitup::sdk::batch_view&, isitup::sdk::batch_done done) override {
    done(isitup::sdk::status::ok);
  }
  isitup::sdk::status flush(std::chrono::milliseconds) override { return isitup::sdk::status::ok; }
};

// A C++ sink answering history through the wrapper: the day its query starts at, for two
// checks, and one bucket outside the query that the fake host must name; throws when asked
// for hours.
class history_sink : public isitup::sdk::sink {
 public:
  history_sink(const isitup::sdk::host&, const isitup::sdk::options_view&) {}
  void write(const isitup::sdk::batch_view&, isitup::sdk::batch_done done) override {
    done(isitup::sdk::status::ok);
  }
  isitup::sdk::status flush(std::chrono::milliseconds) override { return isitup::sdk::status::ok; }
  void read_history(const isitup::sdk::history_query& q,
                    const std::function<void(const isitup::sdk::history_bucket&)>& emit) {
    if (q.length_ms != 86'400'000) throw std::runtime_error("hours are not kept");
    const std::string name = "shop";  // dies after emit(): the host copies
    isitup::sdk::history_bucket b;
    b.check = name;
    b.start_ms = q.from_ms;
    b.results = 288;
    b.up = 287;
    b.p50_total_ms = 41.5;
    emit(b);
    b.check = "blog";
    b.up = b.results;
    emit(b);
    b.start_ms = q.to_ms;  // outside [from_ms, to_ms)
    emit(b);
    timeout_seen = q.timeout;
  }
  std::chrono::milliseconds timeout_seen{0};
};

TEST(fake_host, a_cpp_sink_with_read_history_answers_through_the_wrapper) {
  static isitup::sdk::plugin_def def =
      isitup::sdk::plugin_def("history_sink", "1", "d").sink<history_sink>({});
  const isitup_plugin_v1* plugin = def.descriptor();
  EXPECT_TRUE(plugin->sink->sink_flags & ISITUP_SINK_HISTORY);
  testing_ns::fake_host host;
  testing_ns::sink_under_test sink(host, plugin);
  ASSERT_TRUE(sink.ok()) << sink.error();
  const int64_t day = 86'400'000, from = 20'000 * day;
  const testing_ns::history_answer a = sink.read_history(from, from + 90 * day, day, 1500ms);
  EXPECT_EQ(a.status, static_cast<uint32_t>(ISITUP_OK)) << a.error;
  ASSERT_EQ(a.rows.size(), 3u);
  EXPECT_EQ(a.rows[0].check, "shop");
  EXPECT_EQ(a.rows[0].start_ms, from);
  EXPECT_EQ(a.rows[0].length_ms, day);
  EXPECT_EQ(a.rows[0].results, 288u);
  EXPECT_EQ(a.rows[0].up, 287u);
  EXPECT_EQ(a.rows[0].p50_total_ms, 41.5);
  EXPECT_TRUE(std::isnan(a.rows[0].p95_total_ms));
  EXPECT_EQ(a.rows[1].check, "blog");
  ASSERT_EQ(host.problems().size(), 1u);
  EXPECT_NE(host.problems()[0].find("\"blog\" at " + std::to_string(from + 90 * day)),
            std::string::npos)
      << host.problems()[0];

  const testing_ns::history_answer hours = sink.read_history(from, from + day, 3'600'000);
  EXPECT_EQ(hours.status, static_cast<uint32_t>(ISITUP_RETRY));
  EXPECT_EQ(hours.error, "hours are not kept");
  EXPECT_TRUE(hours.rows.empty());
}

TEST(fake_host, a_sink_without_history_is_named_when_asked) {
  static isitup::sdk::plugin_def def =
      isitup::sdk::plugin_def("plain", "1", "d").sink<history_sink_plain>({});
  testing_ns::fake_host host;
  testing_ns::sink_under_test sink(host, def.descriptor());
  ASSERT_TRUE(sink.ok()) << sink.error();
  EXPECT_FALSE(def.descriptor()->sink->sink_flags & ISITUP_SINK_HISTORY);
  EXPECT_EQ(def.descriptor()->sink->read_history, nullptr);
  EXPECT_EQ(sink.read_history(0, 86'400'000, 86'400'000).status,
            static_cast<uint32_t>(ISITUP_ERROR));
  ASSERT_EQ(host.problems().size(), 1u);
}

// The fake host's record_to_json (record_json.hpp) against the agent's encoder.
std::string agent_json(const isitup::record& r) {
  std::string out;
  isitup::codec::encode(r, out);
  return out;
}

TEST(fake_host, writes_a_record_as_json_as_the_agent_does) {
  std::vector<isitup::record> records;
  records.push_back(isitup::test::sample_record());
  records.emplace_back();  // everything absent
  isitup::record down = isitup::test::sample_record();
  down.up = false;
  down.error_kind = "http_status";
  down.error_message = "503 \"busy\"\\ \n\t\x01 \xc3\xa9";
  down.location.clear();
  down.http_version.clear();
  down.tls_ms = ISITUP_ABSENT_MS;
  down.regex_match = 0;
  down.redirects = ISITUP_ABSENT_INT;
  down.ip.clear();
  down.extra_json = "{ \"a\" : [1, 2, {\"b\": \"x y\"}],\n \"c\": null }";
  records.push_back(down);
  isitup::record odd = isitup::test::sample_record();
  odd.up = true;
  odd.error_kind = "left";  // up with error text: still written, so decode can refuse it
  odd.dns_ms = -0.0;
  odd.connect_ms = 1e12 + 0.25;
  odd.tls_ms = 1.5e22;
  odd.ttfb_ms = -3e200;
  odd.total_ms = 123456.78949;
  odd.regex_match = 7;
  odd.tls_not_after_ms = ISITUP_ABSENT_TIME;
  odd.extra_json = "not an object";
  records.push_back(odd);
  std::mt19937_64 rng(15);
  std::uniform_real_distribution<double> ms(0, 100000);
  for (int i = 0; i < 200; ++i) {
    isitup::record r = isitup::test::sample_record();
    r.dns_ms = ms(rng);
    r.connect_ms = ms(rng) / 1000;
    r.tls_ms = static_cast<double>(static_cast<int64_t>(ms(rng)));
    r.ttfb_ms = ms(rng) * 10000;
    r.total_ms = ms(rng);
    r.scheduled_at_ms = static_cast<int64_t>(rng() % 253'402'300'799'999ULL);
    r.http_bytes = static_cast<int64_t>(rng() >> 1);
    records.push_back(r);
  }
  testing_ns::fake_host host;
  const isitup::sdk::host h(host.table(), host.ctx());
  for (const isitup::record& r : records) {
    const std::string agent = agent_json(r);
    EXPECT_EQ(testing_ns::record_json(r.view()), agent);
    EXPECT_EQ(h.to_json(r.view()), agent);
  }
  EXPECT_TRUE(host.problems().empty());
}

}  // namespace
