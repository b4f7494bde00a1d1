// End-to-end tests of the built isitup-agent: real processes, real sockets on 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include <isitup/core/codec.hpp>
#include "listener.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using isitup::test::run;
using isitup::test::temp_dir;

namespace {

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

using isitup::test::tcp_listener;
using isitup::test::unused_port;

std::vector<isitup::record> parse_results(const std::string& out) {
  std::vector<isitup::record> results;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"event_id\"") != std::string::npos) continue;  // a transition
    isitup::record r;
    std::string error;
    EXPECT_TRUE(isitup::codec::decode(line, r, error)) << error << " in line: " << line;
    results.push_back(r);
  }
  return results;
}

TEST(agent, once_reports_up_and_down_as_v1_json) {
  tcp_listener open;
  const int closed = unused_port();
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(agent:
  id: test-agent
  location: lab
defaults:
  timeout: 2s
checks:
  - name: open
    plugin: tcp_check
    target: 127.0.0.1:)" + std::to_string(open.port()) +
                                                     R"(
  - name: closed
    plugin: tcp_check
    target: 127.0.0.1:)" + std::to_string(closed) + "\n");
  const int64_t before = isitup::sdk::wall_ms();
  auto r = run({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir, "--once"}, 20s);
  const int64_t after = isitup::sdk::wall_ms();
  EXPECT_EQ(r.code, 1) << r.err;  // one check was down
  auto results = parse_results(r.out);
  ASSERT_EQ(results.size(), 2u) << r.out << r.err;
  std::map<std::string, isitup::record> by_name;
  for (auto& x : results) by_name[x.check] = x;
  const auto& up = by_name.at("open");
  EXPECT_TRUE(up.up);
  EXPECT_EQ(up.agent, "test-agent");
  EXPECT_EQ(up.location, "lab");
  EXPECT_EQ(up.plugin, "tcp_check");
  EXPECT_EQ(up.ip, "127.0.0.1");
  EXPECT_GE(up.total_ms, 0.0);
  EXPECT_TRUE(up.error_kind.empty());
  const auto& down = by_name.at("closed");
  EXPECT_FALSE(down.up);
  EXPECT_EQ(down.error_kind, "connect");
  EXPECT_NE(down.error_message.find("refused"), std::string::npos) << down.error_message;
  for (const auto& x : results) {
    EXPECT_GE(x.scheduled_at_ms, before);
    EXPECT_LE(x.scheduled_at_ms, x.started_at_ms);
    EXPECT_LE(x.started_at_ms, after);
  }
}

TEST(agent, once_exits_zero_when_all_up_and_text_format_is_human) {
  tcp_listener open;
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(checks:
  - {name: web, plugin: tcp_check, target: "127.0.0.1:)" +
                                                     std::to_string(open.port()) + R"("}
sinks:
  - plugin: stdout_sink
    options: {format: text}
)");
  auto r = run({agent_bin, "-c", cfg, "-p", plugin_dir, "--once"}, 20s);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("web"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UP"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('{'), std::string::npos) << "text format printed JSON: " << r.out;
}

TEST(agent, runs_on_schedule_drift_free_and_flushes_on_sigterm) {
  tcp_listener open;
  temp_dir dir;
  const std::string cfg = dir.write("agent.yml", R"(defaults: {interval: 200ms, timeout: 1s}
checks:
  - {name: a, plugin: tcp_check, target: "127.0.0.1:)" +
                                                     std::to_string(open.port()) + R"("}
  - {name: b, plugin: tcp_check, target: "127.0.0.1:)" +
                                                     std::to_string(open.port()) + R"("}
)");
  isitup::test::child_process agent({agent_bin, "-c", cfg, "-p", plugin_dir});
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(agent.running()) << agent.err();
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(15s), 0) << agent.err();
  std::map<std::string, std::vector<int64_t>> scheduled;
  for (const auto& x : parse_results(agent.out())) scheduled[x.check].push_back(x.scheduled_at_ms);
  ASSERT_EQ(scheduled.size(), 2u) << agent.out() << agent.err();
  for (auto& [name, times] : scheduled) {
    EXPECT_GE(times.size(), 5u) << name;  // 2 s at 200 ms, after a splay of < 200 ms
    std::sort(times.begin(), times.end());
    // On the grid: every gap a whole number of intervals. A starved agent (a loaded CI machine)
    // skips a late slot rather than running it off the grid, so a gap may be 400 or 600 ms.
    for (std::size_t i = 1; i < times.size(); ++i) {
      const int64_t gap = times[i] - times[i - 1];
      EXPECT_TRUE(gap > 0 && gap % 200 == 0)
          << name << ": runs not on a 200 ms grid (gap " << gap << " ms)";
    }
  }
  EXPECT_NE(agent.err().find("stopping"), std::string::npos) << agent.err();
}

TEST(agent, check_config_accepts_good_and_reports_bad_with_location) {
  temp_dir dir;
  const std::string good =
      dir.write("good.yml", "checks:\n  - {plugin: tcp_check, target: \"127.0.0.1:1\"}\n");
  auto ok = run({agent_bin, "--check-config", good, "-p", plugin_dir}, 20s);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("OK (1 checks"), std::string::npos) << ok.out;

  const std::string bad = dir.write("bad.yml", "checks:\n  - plugin: tcp_check\n    target: x\n");
  auto e = run({agent_bin, "--check-config", bad, "-p", plugin_dir}, 20s);
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.err.find("bad.yml:2:5"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("host:port"), std::string::npos) << e.err;

  const std::string unknown =
      dir.write("unknown.yml", "checks:\n  - {plugin: nope_check, target: \"x:1\"}\n");
  auto u = run({agent_bin, "--check-config", unknown, "-p", plugin_dir}, 20s);
  EXPECT_EQ(u.code, 2);
  EXPECT_NE(u.err.find("unknown.yml:2:"), std::string::npos) << u.err;
  EXPECT_NE(u.err.find("nope_check.so"), std::string::npos) << u.err;
  EXPECT_NE(u.err.find("tcp_check"), std::string::npos) << "should list what is available";

  const std::string value =
      dir.write("value.yml", "sinks:\n  - plugin: stdout_sink\n    options: {format: xml}\n");
  auto v = run({agent_bin, "--check-config", value, "-p", plugin_dir}, 20s);
  EXPECT_EQ(v.code, 2) << "a bad option value must fail --check-config, not only the run";
  EXPECT_NE(v.err.find("value.yml:3:23: sink 'stdout_sink': format: "), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("xml"), std::string::npos) << v.err;

  const std::string opt = dir.write(
      "opt.yml", "checks:\n  - {plugin: tcp_check, target: \"a:1\", options: {port: 2}}\n");
  auto o = run({agent_bin, "--check-config", opt, "-p", plugin_dir}, 20s);
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("opt.yml:2:"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("port"), std::string::npos) << o.err;
}

// --check-config validates and does nothing else: no sink creates its file, and no plugin
// contacts a server, although each of these would when the agent runs.
TEST(agent, check_config_creates_no_file_and_connects_nowhere) {
  const int server = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(server, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  // A loopback address of its own: tests running at the same time probe ports of 127.0.0.1
  // they believe closed, and one of them once hit this listener.
  addr.sin_addr.s_addr = htonl(0x7f00004d);  // 127.0.0.77
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server, 64), 0);
  ASSERT_EQ(getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string at = "127.0.0.77:" + std::to_string(ntohs(addr.sin_port));
  temp_dir dir;
  const std::filesystem::path results = dir / "results.jsonl";
  std::string yml =
      "checks:\n  - {plugin: tcp_check, target: \"AT\"}\n"
      "sinks:\n"
      "  - {plugin: stdout_sink, options: {output: FILE}}\n"
      "  - {plugin: kafka_sink, options: {brokers: \"AT\", topic: r, events_topic: e}}\n"
      "  - {plugin: webhook_sink, options: {url: \"http://AT/hook\"}}\n"
      "  - {plugin: pg_sink, options: {connection: \"host=127.0.0.77 port=PORT\"}}\n"
      "sources:\n"
      "  - {plugin: kafka_sink, options: {brokers: \"AT\", topic: r, group: g}}\n";
  const auto put = [&yml](const std::string& name, const std::string& value) {
    for (std::size_t i; (i = yml.find(name)) != std::string::npos;)
      yml.replace(i, name.size(), value);
  };
  put("AT", at);
  put("FILE", results.string());
  put("PORT", std::to_string(ntohs(addr.sin_port)));
  const std::string cfg = dir.write("quiet.yml", yml);
  const auto r = run({agent_bin, "--check-config", cfg, "-p", plugin_dir}, 20s);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(results)) << "--check-config created the sink's file";
  pollfd waiting{server, POLLIN, 0};
  EXPECT_EQ(poll(&waiting, 1, 0), 0) << "a plugin connected to " << at << " during --check-config";
  close(server);
}

// Many checks with a timeout longer than their interval are one warning line with a count and
// the first few names, not a line per check.
TEST(agent, long_timeout_warning_is_one_line_for_many_checks) {
  temp_dir dir;
  std::string yml = "defaults: {interval: 1s, timeout: 5s}\nchecks:\n";
  for (int i = 0; i < 50; ++i)
    yml += "  - {name: c" + std::to_string(i) + ", plugin: tcp_check, target: \"127.0.0.1:1\"}\n";
  yml += "  - {name: fine, plugin: tcp_check, target: \"127.0.0.1:1\", timeout: 500ms}\n";
  const std::string file = dir.write("many.yml", yml);
  auto r = run({agent_bin, "--check-config", file, "-p", plugin_dir}, 20s);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string all = r.out + r.err;
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = all.find("longer than", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 1u) << all;
  EXPECT_NE(all.find("50 checks have a timeout longer than their interval"), std::string::npos)
      << all;
  EXPECT_NE(all.find("many.yml:3 'c0'"), std::string::npos) << all;
  EXPECT_NE(all.find("and 47 more"), std::string::npos) << all;
  EXPECT_EQ(all.find("'fine'"), std::string::npos) << all;
}

// Every example config in the repository validates, plugin options included.
TEST(agent, every_example_config_validates) {
  std::vector<std::filesystem::path> files;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(ISITUP_SOURCE_DIR) + "/config"))
    if (e.path().extension() == ".yml") files.push_back(e.path());
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(ISITUP_SOURCE_DIR) + "/plugins")) {
    const auto example = e.path() / "example.yml";
    if (!std::filesystem::exists(example)) continue;
    // A plugin's example can only be validated once the plugin is built.
    ASSERT_TRUE(std::filesystem::exists(plugin_dir + "/" + e.path().filename().string() + ".so"))
        << example << " exists but its plugin was not built";
    files.push_back(example);
  }
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    auto r = run({agent_bin, "--check-config", f.string(), "-p", plugin_dir}, 20s,
                 {"KAFKA_BROKERS=127.0.0.1:9092", "PGPASSWORD=example"});
    EXPECT_EQ(r.code, 0) << f << ": " << r.err;
  }
}

TEST(agent, lists_and_describes_plugins) {
  auto l = run({agent_bin, "--list-plugins", "-p", plugin_dir}, 20s);
  EXPECT_EQ(l.code, 0) << l.err;
  EXPECT_NE(l.out.find("tcp_check"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("stdout_sink"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("ABI 1"), std::string::npos) << l.out;

  auto d = run({agent_bin, "--describe-plugin", "stdout_sink", "-p", plugin_dir}, 20s);
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.out.find("format"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("json"), std::string::npos) << d.out;

  auto bad = run({agent_bin, "--describe-plugin", "../etc", "-p", plugin_dir}, 20s);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("not a bare name"), std::string::npos) << bad.err;
}

// A file in the plugin directory that is not a plugin is listed as refused, and the listing
// exits non-zero so that a packaging script notices.
TEST(agent, list_plugins_exits_2_when_a_file_is_refused) {
  temp_dir dir;
  std::filesystem::copy_file(std::filesystem::path(plugin_dir) / "stdout_sink.so",
                             dir.path() / "stdout_sink.so");
  auto good = run({agent_bin, "--list-plugins", "-p", dir.path().string()}, 20s);
  EXPECT_EQ(good.code, 0) << good.out << good.err;
  dir.write("broken.so", "not an ELF file");
  auto l = run({agent_bin, "--list-plugins", "-p", dir.path().string()}, 20s);
  EXPECT_EQ(l.code, 2) << l.out << l.err;
  EXPECT_NE(l.out.find("stdout_sink"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("broken.so"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("refused"), std::string::npos) << l.out;
}

TEST(agent, usage_errors_exit_2) {
  EXPECT_EQ(run({agent_bin}, 10s).code, 2);
  EXPECT_EQ(run({agent_bin, "--no-such-flag"}, 10s).code, 2);
  auto missing = run({agent_bin, "-c", "/nonexistent/agent.yml", "--once"}, 10s);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/agent.yml"), std::string::npos) << missing.err;
  auto v = run({agent_bin, "--version"}, 10s);
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("isitup-agent"), std::string::npos);
}

}  // namespace

namespace {

// The example plugin built as an outside author would: a separate CMake project that sees only
// the SDK installed into a prefix (its unit test too, on the installed fake host), then loaded
// by the agent.
TEST(sdk, example_plugin_builds_out_of_tree_and_runs) {
  temp_dir dir;
  const std::string prefix = (dir / "prefix").string();
  auto inst = run({"/usr/bin/cmake", "--install", ISITUP_BINARY_DIR, "--prefix", prefix}, 120s);
  ASSERT_EQ(inst.code, 0) << inst.out << inst.err;
  ASSERT_TRUE(std::filesystem::exists(prefix + "/include/isitup/plugin.h"));
  // The installed agent finds the installed plugins without --plugins-dir, under any prefix.
  auto listed = run({prefix + "/bin/isitup-agent", "--list-plugins"}, 20s);
  EXPECT_EQ(listed.code, 0) << listed.err;
  EXPECT_NE(listed.out.find(prefix + "/lib/isitup/plugins"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("stdout_sink"), std::string::npos) << listed.out;
  const std::string build = (dir / "build").string();
  auto cfg =
      run({"/usr/bin/cmake", "-S", std::string(ISITUP_SOURCE_DIR) + "/sdk/examples/tcp_check", "-B",
           build, "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_BUILD_TYPE=Release"},
          120s);
  ASSERT_EQ(cfg.code, 0) << cfg.out << cfg.err;
  auto b = run({"/usr/bin/cmake", "--build", build}, 300s);
  ASSERT_EQ(b.code, 0) << b.out << b.err;
  // Its unit test, built with the exported isitup::sdk_testing (the installed fake host).
  ASSERT_TRUE(std::filesystem::exists(build + "/tcp_check_test")) << b.out;
  auto unit = run({build + "/tcp_check_test"}, 60s);
  EXPECT_EQ(unit.code, 0) << unit.out << unit.err;
  EXPECT_NE(unit.out.find("[  PASSED  ] 3 tests"), std::string::npos) << unit.out;

  const auto plugins = dir / "plugins";
  std::filesystem::create_directory(plugins);
  std::filesystem::copy_file(build + "/tcp_check.so", plugins / "tcp_check.so");
  std::filesystem::copy_file(plugin_dir + "/stdout_sink.so", plugins / "stdout_sink.so");
  tcp_listener open;
  const std::string config =
      dir.write("agent.yml", "checks:\n  - {plugin: tcp_check, target: \"127.0.0.1:" +
                                 std::to_string(open.port()) + "\"}\n");
  auto r = run({agent_bin, "-c", config, "-p", plugins.string(), "--once"}, 20s);
  EXPECT_EQ(r.code, 0) << r.err;
  auto results = parse_results(r.out);
  ASSERT_EQ(results.size(), 1u) << r.out;
  EXPECT_TRUE(results[0].up);
  EXPECT_EQ(results[0].check, "127.0.0.1:" + std::to_string(open.port()));
}

}  // namespace
