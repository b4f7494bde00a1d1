// isitup-kafka-dev as its users see it: --help, the bootstrap line and file, fault commands.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "kafka_broker.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using isitup::test::kafka_broker;
using isitup::test::kafka_dev_binary;

TEST(kafka_dev, help_says_development_and_tests_only_and_lists_commands) {
  const auto r = isitup::test::run({kafka_dev_binary(), "--help"}, 10s);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("DEVELOPMENT AND TESTS ONLY, NOT FOR PRODUCTION"), std::string::npos)
      << r.out;
  for (const char* cmd : {"down <broker|all>", "up <broker|all>", "rtt <broker|all> <ms>",
                          "error <api> <error>", "leader <topic> <partition> <broker>"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
}

TEST(kafka_dev, prints_bootstrap_writes_the_file_and_answers_commands) {
  isitup::test::temp_dir dir;
  const auto file = dir / "bootstrap.txt";
  isitup::test::child_process p(
      {kafka_dev_binary(), "--brokers", "3", "--topic", "t:2", "--bootstrap-file", file.string()});
  for (int i = 0; i < 100 && !std::filesystem::exists(file); ++i) std::this_thread::sleep_for(50ms);
  const std::string text = isitup::test::read_file(file);
  EXPECT_EQ(std::count(text.begin(), text.end(), ','), 2) << "three brokers: " << text;
  EXPECT_EQ(text.rfind("127.0.0.1:", 0), 0u) << text;
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s), 0) << p.err();
  EXPECT_EQ(p.out(), text) << "stdout's first line is the same list";
  EXPECT_FALSE(std::filesystem::exists(file)) << "the file is removed on exit";

  kafka_broker broker({.brokers = 2, .topics = {}, .port = 0});
  EXPECT_EQ(broker.command("down 2"), "ok");
  EXPECT_EQ(broker.command("up all"), "ok");
  EXPECT_EQ(broker.command("rtt all 5"), "ok");
  EXPECT_EQ(broker.command("error Produce NOT_LEADER_FOR_PARTITION 2"),
            "ok 2 x NOT_LEADER_FOR_PARTITION");
  EXPECT_EQ(broker.command("broker-error 1 Fetch _TRANSPORT 10 2"), "ok");
  EXPECT_EQ(broker.command("clear Produce"), "ok");
  EXPECT_EQ(broker.command("create x 3"), "ok");
  EXPECT_EQ(broker.command("leader x 0 2"), "ok");
  EXPECT_EQ(broker.command("down 3").rfind("error: broker must be 1..2", 0), 0u);
  EXPECT_EQ(broker.command("error Nope 1").rfind("error: unknown api", 0), 0u);
  EXPECT_EQ(broker.command("bogus").rfind("error: unknown", 0), 0u);
}
