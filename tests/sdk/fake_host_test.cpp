// The fake host (sdk/testing) is as strict as the agent: what the agent refuses, a plugin's
// unit test refuses too, and a completion called twice fails the test.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <fake_host.hpp>
#include <isitup/plugin.hpp>
#include <under_test.hpp>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "options.hpp"

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
            "option \"n\": its default \"many\" does not fit its type");
  EXPECT_NE(error_for({opt("t", ISITUP_OPT_DURATION, "5s5s")}), "");
  EXPECT_NE(error_for({opt("b", ISITUP_OPT_BOOL, "maybe")}), "");
  EXPECT_EQ(error_for({opt("t", ISITUP_OPT_DURATION, "1m30s"), opt("l", ISITUP_OPT_LIST, "[1]")}),
            "");
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

}  // namespace
