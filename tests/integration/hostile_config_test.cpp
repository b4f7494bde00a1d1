// The built isitup-agent against configs that try to hang, stall or blow it up: special files,
// huge files, alias bombs, stop signals while a config loads. Real processes on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "listener.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using isitup::test::run;
using isitup::test::temp_dir;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

// A config of `count` tcp_check checks: a few MB of YAML that takes seconds to load.
std::string many_checks(int count) {
  std::string yaml = "agent: {id: a}\ndefaults: {interval: 60s, timeout: 1s}\nchecks:\n";
  for (int i = 0; i < count; ++i)
    yaml += "  - {name: c" + std::to_string(i) +
            ", plugin: tcp_check, target: \"127.0.0.1:" + std::to_string(1 + i % 60000) + "\"}\n";
  return yaml;
}

TEST(hostile_config, a_fifo_or_device_config_is_refused_at_once) {
  temp_dir dir;
  const std::string fifo = (dir / "agent.yml").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& file : {fifo, std::string("/dev/zero"), std::string("/dev/urandom")}) {
    SCOPED_TRACE(file);
    for (const std::string& mode : {std::string("--check-config"), std::string("-c")}) {
      const auto r = run({agent_bin, mode, file, "-p", plugin_dir}, 5s);
      EXPECT_EQ(r.code, 2) << r.err;
      EXPECT_NE(r.err.find(file + ": cannot read the config file: it is a "), std::string::npos)
          << r.err;
    }
  }
}

TEST(hostile_config, a_special_domains_file_is_refused_at_its_key) {
  temp_dir dir;
  const std::string fifo = (dir / "domains.txt").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string cfg = dir.write("agent.yml", "agent: {id: a}\ndomains_file: domains.txt\n");
  auto r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 5s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("agent.yml:2:1: domains_file: cannot read '" + fifo +
                       "': it is a FIFO, not a regular file"),
            std::string::npos)
      << r.err;
  const std::string zero = dir.write("zero.yml", "agent: {id: a}\ndomains_file: /dev/zero\n");
  r = run({agent_bin, "--check-config", zero, "-p", plugin_dir}, 5s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot read '/dev/zero': it is a character device"), std::string::npos)
      << r.err;
}

TEST(hostile_config, max_config_bytes_bounds_the_config_and_its_domains_file) {
  temp_dir dir;
  dir.write("domains.txt", "example.com\n" + std::string(200, '#') + "\n");
  const std::string cfg = dir.write("agent.yml", "agent: {id: a}\ndomains_file: domains.txt\n");
  auto r =
      run({agent_bin, "--check-config", cfg, "-p", plugin_dir, "--max-config-bytes", "100"}, 5s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("agent.yml:2:1: domains_file: cannot read"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("larger than the limit of 100 bytes (see --max-config-bytes)"),
            std::string::npos)
      << r.err;
  r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir, "--max-config-bytes", "20"}, 5s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("agent.yml: cannot read the config file: it is larger than the limit of "
                       "20 bytes"),
            std::string::npos)
      << r.err;
  r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 5s);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(hostile_config, an_alias_bomb_is_refused_in_under_a_second) {
  temp_dir dir;
  std::string yaml = "sources:\n  - plugin: stdout_sink\n    options:\n";
  yaml += "      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string p = "*l" + std::to_string(i - 1);
    yaml += "      l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", " : "") + p;
    yaml += "]\n";
  }
  ASSERT_LT(yaml.size(), 1024u);
  const std::string cfg = dir.write("agent.yml", yaml);
  const auto start = std::chrono::steady_clock::now();
  const auto r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("YAML aliases expand this document past"), std::string::npos) << r.err;
}

TEST(hostile_config, sigterm_while_the_config_loads_exits_at_once) {
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", many_checks(200000));
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(agent.running()) << agent.err();
  const auto start = std::chrono::steady_clock::now();
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(20s), 0) << agent.err();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << agent.err();
  EXPECT_NE(agent.err().find("received while loading the config: exiting"), std::string::npos)
      << agent.err();
  EXPECT_EQ(agent.out(), "");
}

TEST(hostile_config, sigterm_stops_a_long_check_config) {
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", many_checks(200000));
  isitup::test::child_process check({agent_bin, "--check-config", cfg, "-p", plugin_dir});
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(check.running()) << check.err();
  const auto start = std::chrono::steady_clock::now();
  check.signal(SIGTERM);
  EXPECT_EQ(check.wait(20s), 128 + SIGTERM) << check.err();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(hostile_config, a_timeout_that_would_overflow_is_refused_where_written) {
  isitup::test::tcp_listener open;
  temp_dir dir;
  const std::string cfg =
      dir.write("agent.yml",
                "agent: {id: a}\nchecks:\n  - {name: t, plugin: tcp_check, target: \"127.0.0.1:" +
                    std::to_string(open.port()) + "\", timeout: 1000000d}\n");
  const auto r = run({agent_bin, "-c", cfg, "-p", plugin_dir, "--once"}, 10s);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("agent.yml:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checks[0].timeout: '1000000d' is too long (at most 1d)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(hostile_config, a_user_agent_with_cr_lf_cannot_inject_headers) {
  temp_dir dir;
  const std::string cfg =
      dir.write("agent.yml",
                "agent: {id: a}\nchecks:\n  - name: ua\n    target: http://127.0.0.1:1/\n"
                "    options: {user_agent: \"probe\\r\\nX-Injected: 1\"}\n");
  const auto r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 10s);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("agent.yml:5:27: check 'ua' (http_check): user_agent: contains the control "
                       "character \\x0d at offset 5; header values may not"),
            std::string::npos)
      << r.err;
}

}  // namespace
