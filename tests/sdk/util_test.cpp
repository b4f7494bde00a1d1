// The SDK's header-only utilities (sdk/include/isitup/util): each against an independent
// reference where one exists (the C library's gmtime_r, a code-point decoder).
#include <isitup/util/backoff.hpp>
#include <isitup/util/civil_time.hpp>
#include <isitup/util/clock.hpp>
#include <isitup/util/error_text.hpp>
#include <isitup/util/log_limit.hpp>
#include <isitup/util/utf8.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace sdk = isitup::sdk;

namespace {

TEST(backoff, doubles_from_the_first_wait_up_to_the_cap) {
  std::vector<int64_t> waits;
  waits.reserve(8);
  for (int attempt = 0; attempt < 8; ++attempt)
    waits.push_back(sdk::backoff_ms(attempt, 100, 5000));
  EXPECT_EQ(waits, (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 5000, 5000}));
}

TEST(backoff, never_overflows_and_stays_at_the_cap) {
  EXPECT_EQ(sdk::backoff_ms(INT_MAX, 250, 5000), 5000);
  EXPECT_EQ(sdk::backoff_ms(200, INT64_MAX / 3, INT64_MAX), INT64_MAX);
  EXPECT_EQ(sdk::backoff(70, std::chrono::seconds(1), std::chrono::hours(1)),
            std::chrono::hours(1));
}

TEST(backoff, odd_arguments_give_sane_waits) {
  EXPECT_EQ(sdk::backoff_ms(-3, 100, 5000), 100);
  EXPECT_EQ(sdk::backoff_ms(0, 0, 5000), 1);
  EXPECT_EQ(sdk::backoff_ms(4, 1000, 300), 300);
}

TEST(monotonic_clock, never_goes_back) {
  int64_t last = sdk::monotonic_ms();
  for (int i = 0; i < 1000; ++i) {
    const int64_t now = sdk::monotonic_ms();
    ASSERT_GE(now, last);
    last = now;
  }
}

TEST(rate_gate, lets_one_caller_through_per_interval) {
  sdk::rate_gate gate(1000);
  EXPECT_TRUE(gate.pass(5000));
  EXPECT_FALSE(gate.pass(5000));
  EXPECT_FALSE(gate.pass(5999));
  EXPECT_TRUE(gate.pass(6000));
  EXPECT_FALSE(gate.pass(6500));
}

TEST(rate_gate, lets_exactly_one_of_many_threads_through) {
  sdk::rate_gate gate(60'000);
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (gate.pass(1'000'000 + i)) passed.fetch_add(1);
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(passed.load(), 1);
}

TEST(log_budget, allows_a_burst_then_one_per_interval_and_counts_the_rest) {
  sdk::log_budget budget(3, 1000);
  int logged = 0;
  for (int i = 0; i < 10; ++i) logged += budget.take(0) ? 1 : 0;
  EXPECT_EQ(logged, 3);
  EXPECT_FALSE(budget.take(999));
  ASSERT_TRUE(budget.take(1000));
  EXPECT_EQ(budget.refused_since_last(), 8u);
  EXPECT_EQ(budget.refused_since_last(), 0u);
  EXPECT_FALSE(budget.take(1500));
  EXPECT_TRUE(budget.take(2000));
}

TEST(log_budget, refills_to_at_most_the_burst) {
  sdk::log_budget budget(2, 100);
  EXPECT_TRUE(budget.take(0));
  EXPECT_TRUE(budget.take(0));
  int logged = 0;
  for (int i = 0; i < 5; ++i) logged += budget.take(1'000'000) ? 1 : 0;
  EXPECT_EQ(logged, 2);
}

TEST(log_budget, reset_forgets_refusals_and_refills) {
  sdk::log_budget budget(1, 1000);
  EXPECT_TRUE(budget.take(0));
  EXPECT_FALSE(budget.take(1));
  budget.reset();
  EXPECT_TRUE(budget.take(2));
  EXPECT_EQ(budget.refused_since_last(), 0u);
}

std::string gmtime_text(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(sdk::split_epoch_ms(ms).days * 86400 +
                                                    sdk::split_epoch_ms(ms).ms_of_day / 1000);
  std::tm tm{};
  char buf[64];
  if (!gmtime_r(&secs, &tm)) return "gmtime_r failed";
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(sdk::split_epoch_ms(ms).ms_of_day % 1000));
  return buf;
}

TEST(civil_time, formats_as_the_c_library_does_from_year_0_to_9999) {
  // Every 997th day (all months, leap days, centuries) at an odd time of day, both signs.
  for (int64_t day = sdk::earliest_utc_text_ms / sdk::ms_per_day;
       day <= sdk::latest_utc_text_ms / sdk::ms_per_day; day += 997) {
    const int64_t ms = day * sdk::ms_per_day + 45'296'789;  // 12:34:56.789
    ASSERT_EQ(sdk::utc_text(ms), gmtime_text(ms)) << "day " << day;
  }
  EXPECT_EQ(sdk::utc_text(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(sdk::utc_text(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(sdk::utc_text(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(sdk::utc_text(sdk::earliest_utc_text_ms), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(sdk::utc_text(sdk::latest_utc_text_ms), "9999-12-31T23:59:59.999Z");
}

TEST(civil_time, whole_seconds_text_is_the_second_the_time_falls_in) {
  for (int64_t day = sdk::earliest_utc_text_ms / sdk::ms_per_day;
       day <= sdk::latest_utc_text_ms / sdk::ms_per_day; day += 997) {
    const int64_t ms = day * sdk::ms_per_day + 45'296'789;  // 12:34:56.789
    const std::string full = gmtime_text(ms);
    ASSERT_EQ(sdk::utc_seconds_text(ms), full.substr(0, 19) + "Z") << "day " << day;
  }
  EXPECT_EQ(sdk::utc_seconds_text(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(sdk::utc_seconds_text(999), "1970-01-01T00:00:00Z");
  EXPECT_EQ(sdk::utc_seconds_text(sdk::latest_utc_text_ms), "9999-12-31T23:59:59Z");
  EXPECT_EQ(sdk::utc_seconds_text(sdk::latest_utc_text_ms + 1), "");
}

TEST(civil_time, refuses_times_outside_years_0_to_9999) {
  EXPECT_EQ(sdk::utc_text(sdk::earliest_utc_text_ms - 1), "");
  EXPECT_EQ(sdk::utc_text(sdk::latest_utc_text_ms + 1), "");
  EXPECT_EQ(sdk::utc_text(INT64_MIN), "");
}

TEST(civil_time, parses_what_it_formats) {
  for (int64_t ms : {int64_t{0}, int64_t{-1}, int64_t{1'764'266'400'123}, sdk::earliest_utc_text_ms,
                     sdk::latest_utc_text_ms}) {
    const std::string text = sdk::utc_text(ms);
    int64_t back = 42;
    ASSERT_TRUE(sdk::parse_utc_ms(text.data(), text.size(), back)) << text;
    EXPECT_EQ(back, ms);
  }
  int64_t ms = 0;
  const std::string whole = "2026-11-27T18:00:00Z";
  ASSERT_TRUE(sdk::parse_utc_ms(whole.data(), whole.size(), ms));
  EXPECT_EQ(sdk::utc_text(ms), "2026-11-27T18:00:00.000Z");
}

TEST(civil_time, parse_refuses_impossible_dates_and_other_shapes) {
  for (const std::string bad :
       {"2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-27T24:00:00Z",
        "2026-11-27T18:60:00Z", "2026-11-27 18:00:00Z", "2026-11-27T18:00:00.00Z",
        "2026-11-27T18:00:00+00", "+026-11-27T18:00:00Z", ""}) {
    int64_t ms = 7;
    EXPECT_FALSE(sdk::parse_utc_ms(bad.data(), bad.size(), ms)) << bad;
    EXPECT_EQ(ms, 7);
  }
  int64_t ms = 0;
  const std::string leap = "2024-02-29T00:00:00Z";
  EXPECT_TRUE(sdk::parse_utc_ms(leap.data(), leap.size(), ms));
}

// The reference: decode a code point and apply RFC 3629's rules to it.
std::size_t decoded_length(const std::string& s) {
  const auto c = static_cast<unsigned char>(s[0]);
  std::size_t n;
  uint32_t cp, min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1Fu, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0Fu, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

TEST(utf8, agrees_with_a_code_point_decoder_on_every_one_to_three_byte_sequence) {
  for (unsigned a = 0; a < 256; ++a) {
    const std::string one(1, static_cast<char>(a));
    ASSERT_EQ(sdk::utf8_sequence_length(one, 0), decoded_length(one)) << a;
    for (unsigned b = 0; b < 256; ++b) {
      const std::string two = one + static_cast<char>(b);
      ASSERT_EQ(sdk::utf8_sequence_length(two, 0), decoded_length(two)) << a << ' ' << b;
      if (a < 0xE0 || a > 0xEF) continue;
      for (unsigned c = 0x70; c < 0xC8; ++c) {
        const std::string three = two + static_cast<char>(c);
        ASSERT_EQ(sdk::utf8_sequence_length(three, 0), decoded_length(three));
      }
    }
  }
}

TEST(utf8, refuses_overlong_surrogate_and_out_of_range_four_byte_forms) {
  EXPECT_EQ(sdk::utf8_sequence_length("\xF0\x9F\x98\x80", 0), 4u);  // U+1F600
  EXPECT_EQ(sdk::utf8_sequence_length("\xF4\x8F\xBF\xBF", 0), 4u);  // U+10FFFF
  EXPECT_EQ(sdk::utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(sdk::utf8_sequence_length("\xF0\x8F\xBF\xBF", 0), 0u);  // overlong
  EXPECT_EQ(sdk::utf8_sequence_length("\xF0\x9F\x98", 0), 0u);      // cut short
}

TEST(utf8, prefix_finds_the_first_bad_byte_past_the_ascii_fast_path) {
  const std::string ascii(37, 'a');
  EXPECT_EQ(sdk::utf8_prefix(ascii), ascii.size());
  EXPECT_TRUE(sdk::is_utf8(ascii + "caf\xC3\xA9" + ascii));
  for (std::size_t at : {0u, 7u, 8u, 15u, 16u, 17u, 36u}) {
    std::string s = ascii;
    s[at] = '\xC0';
    EXPECT_EQ(sdk::utf8_prefix(s), at);
  }
  EXPECT_EQ(sdk::utf8_prefix(ascii + "\xED\xA0\x80"), ascii.size());  // a surrogate
  EXPECT_TRUE(sdk::is_utf8(""));
}

TEST(utf8, repair_replaces_each_bad_byte_and_keeps_the_good_ones) {
  EXPECT_EQ(sdk::repaired_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(sdk::repaired_utf8("a\xFF"
                               "b\xE2\x82"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(sdk::is_utf8(sdk::repaired_utf8("\x80\xC0\xAF\xED\xA0\x80 tail")));
}

TEST(error_text, names_an_errno_value_from_any_thread) {
  EXPECT_EQ(sdk::error_text(ECONNREFUSED), "Connection refused");
  EXPECT_EQ(sdk::error_text(ENOENT), "No such file or directory");
  std::string other;
  std::thread t([&] { other = sdk::error_text(EACCES); });
  t.join();
  EXPECT_EQ(other, "Permission denied");
  EXPECT_NE(sdk::error_text(99999).find("99999"), std::string::npos) << sdk::error_text(99999);
}

}  // namespace
