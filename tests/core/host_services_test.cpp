// The host's log filter for plugins: a warning repeated within a second is printed once, and
// the next line printed says how many were left out.
#include "host_services.hpp"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
