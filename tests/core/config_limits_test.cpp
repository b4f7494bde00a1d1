// What loading a config may cost: special files refused without blocking, sizes capped, YAML
// aliases bounded, durations bounded.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <isitup/core/config.hpp>

#include "process.hpp"

namespace isitup::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using isitup::test::temp_dir;

std::string file_error(const std::string& path, const load_limits& limits = {}) {
  try {
    load_file(path, limits);
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string text_error(const std::string& yaml) {
  try {
    load_string(yaml, "t.yml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

// Ten levels of ten aliases each: 10^10 scalars once expanded, under 1 KB of text.
std::string billion_laughs(const std::string& indent) {
  std::string yaml = indent + "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string p = "*l" + std::to_string(i - 1);
    yaml += indent + "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", " : "") + p;
    yaml += "]\n";
  }
  return yaml;
}

TEST(config_limits, a_fifo_config_is_refused_without_blocking) {
  const temp_dir dir;
  const std::string fifo = (dir / "agent.yml").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(file_error(fifo),
            fifo + ": cannot read the config file: it is a FIFO, not a regular file");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(config_limits, devices_and_directories_are_refused_as_configs) {
  const temp_dir dir;
  EXPECT_THAT(file_error("/dev/zero"), HasSubstr("it is a character device, not a regular file"));
  EXPECT_THAT(file_error("/dev/urandom"),
              HasSubstr("it is a character device, not a regular file"));
  EXPECT_THAT(file_error((dir / "").string()), HasSubstr("it is a directory, not a regular file"));
}

TEST(config_limits, special_domains_files_are_refused_at_the_key) {
  const temp_dir dir;
  const std::string fifo = (dir / "domains.txt").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string cfg = dir.write("agent.yml", "agent: {id: a}\ndomains_file: domains.txt\n");
  EXPECT_EQ(file_error(cfg), cfg + ":2:1: domains_file: cannot read '" + fifo +
                                 "': it is a FIFO, not a regular file");
  const std::string zero = dir.write("zero.yml", "agent: {id: a}\ndomains_file: /dev/zero\n");
  EXPECT_THAT(file_error(zero), HasSubstr("domains_file: cannot read '/dev/zero': it is a "
                                          "character device, not a regular file"));
}

TEST(config_limits, sizes_past_the_limit_are_refused_and_the_limit_is_named) {
  const temp_dir dir;
  const std::string domains = dir.write("domains.txt", std::string(2000, '#') + "\n");
  const std::string cfg = dir.write("agent.yml", "agent: {id: a}\ndomains_file: domains.txt\n");
  load_limits small;
  small.max_file_bytes = 1024;
  EXPECT_EQ(file_error(cfg, small),
            cfg + ":2:1: domains_file: cannot read '" + domains +
                "': it is larger than the limit of 1 KiB (see --max-config-bytes)");
  small.max_file_bytes = 20;
  EXPECT_EQ(file_error(cfg, small),
            cfg +
                ": cannot read the config file: it is larger than the limit of 20 bytes (see "
                "--max-config-bytes)");
  // Exactly at the limit is fine, and the default is 64 MiB.
  small.max_file_bytes = fs::file_size(cfg);
  EXPECT_EQ(file_error(cfg, small), cfg + ":2:1: domains_file: cannot read '" + domains +
                                        "': it is larger than the limit of " +
                                        std::to_string(small.max_file_bytes) +
                                        " bytes (see --max-config-bytes)");
  EXPECT_EQ(load_limits{}.max_file_bytes, std::size_t{64} << 20);
  EXPECT_EQ(load_file(cfg).checks.size(), 0u);
}

TEST(config_limits, a_file_past_the_default_limit_is_refused_before_it_is_read) {
  const temp_dir dir;
  const std::string big = (dir / "big.yml").string();
  { std::ofstream(big) << "agent: {id: a}\n"; }
  fs::resize_file(big, (std::size_t{64} << 20) + 1);  // sparse: nothing to write
  EXPECT_EQ(file_error(big), big +
                                 ": cannot read the config file: it is larger than the limit "
                                 "of 64 MiB (see --max-config-bytes)");
}

TEST(config_limits, billion_laughs_is_refused_in_well_under_a_second) {
#ifdef ISITUP_SANITIZED
  const auto budget = std::chrono::seconds(5);  // instrumented: several times slower
#else
  const auto budget = std::chrono::milliseconds(500);
#endif
  for (const std::string& yaml :
       {billion_laughs(""), "sources:\n  - plugin: x\n    options:\n" + billion_laughs("      "),
        "checks:\n  - target: https://a/\n    options:\n" + billion_laughs("      ")}) {
    SCOPED_TRACE(yaml);
    ASSERT_LT(yaml.size(), 1024u);
    const auto start = std::chrono::steady_clock::now();
    const std::string error = text_error(yaml);
    EXPECT_LT(std::chrono::steady_clock::now() - start, budget);
    EXPECT_THAT(error, StartsWith("t.yml:"));
    EXPECT_THAT(error, HasSubstr("YAML aliases expand this document past"));
  }
}

TEST(config_limits, aliases_within_the_budget_still_work) {
  const auto a = load_string(
      "agent: {id: a}\n"
      "checks:\n  - {target: https://a/, options: &o {method: HEAD}}\n"
      "  - {target: https://b/, options: *o}\n",
      "t.yml");
  EXPECT_EQ(a.checks.size(), 2u);
}

TEST(config_limits, durations_past_a_sane_maximum_are_refused_where_written) {
  EXPECT_EQ(text_error("checks:\n  - {target: https://a/, timeout: 1000000d}\n"),
            "t.yml:2:35: checks[0].timeout: '1000000d' is too long (at most 1d)");
  EXPECT_EQ(text_error("defaults:\n  timeout: 25h\n"),
            "t.yml:2:12: defaults.timeout: '25h' is too long (at most 1d)");
  EXPECT_EQ(text_error("defaults:\n  interval: 31d\n"),
            "t.yml:2:13: defaults.interval: '31d' is too long (at most 30d)");
  EXPECT_EQ(text_error("checks:\n  - {target: https://a/, interval: 99999d}\n"),
            "t.yml:2:36: checks[0].interval: '99999d' is too long (at most 30d)");
  EXPECT_EQ(text_error("defaults:\n  timeout: 99999999999999999999d\n"),
            "t.yml:2:12: defaults.timeout: '99999999999999999999d' is too long (at most 1d)");
  EXPECT_EQ(
      text_error("defaults:\n  timeout: 5s5s\n"),
      "t.yml:2:12: defaults.timeout: expected a duration like 500ms, 30s, 5m, 1h, got '5s5s'");
  EXPECT_EQ(text_error("pipeline:\n  shutdown_timeout: 2d\n"),
            "t.yml:2:21: pipeline.shutdown_timeout: '2d' is too long (at most 1d)");
  EXPECT_EQ(text_error("pipeline:\n  batch_delay: 2d\n"),
            "t.yml:2:16: pipeline.batch_delay: '2d' is too long (at most 1d)");
  const auto a = load_string(
      "agent: {id: a}\ndefaults: {interval: 30d, timeout: 1d}\n"
      "checks:\n  - {target: https://a/, timeout: 23h59m59s999ms}\n",
      "t.yml");
  EXPECT_EQ(a.checks[0].interval_ms, 30LL * 86'400'000);
  EXPECT_EQ(a.checks[0].timeout_ms, 86'400'000 - 1);
}

TEST(config_limits, long_values_in_errors_are_cut_and_the_reason_kept) {
  const std::string error =
      text_error("checks:\n  - {target: https://a/, interval: " + std::string(8000, 'x') + "}\n");
  EXPECT_EQ(error,
            "t.yml:2:36: checks[0].interval: expected a duration like 500ms, 30s, 5m, 1h, "
            "got '" +
                std::string(80, 'x') + "\u2026'");
}

TEST(config_limits, a_cancelled_load_stops_with_a_clear_error) {
  std::string yaml = "agent: {id: a}\nchecks:\n";
  for (int i = 0; i < 20000; ++i) yaml += "  - {target: https://c" + std::to_string(i) + "/}\n";
  const std::atomic<bool> cancel{true};
  load_limits limits;
  limits.cancel = &cancel;
  try {
    load_string(yaml, "t.yml", limits);
    FAIL() << "loaded";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "t.yml: loading was cancelled");
  }
  const std::atomic<bool> go_on{false};
  limits.cancel = &go_on;
  EXPECT_EQ(load_string(yaml, "t.yml", limits).checks.size(), 20000u);
}

}  // namespace
}  // namespace isitup::config
