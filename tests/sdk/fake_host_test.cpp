// The fake host (sdk/testing) is as strict as the agent: what the agent refuses, a plugin's
// unit test refuses too, and a completion called twice fails the test.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <fake_host.hpp>
#include <under_test.hpp>

#include "options.hpp"

namespace testing_ns = isitup::sdk::testing;

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

}  // namespace
