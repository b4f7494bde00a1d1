// stdout_sink against the SDK's fake host: the plugin source is compiled into this binary, so
// isitup_plugin_entry() is the plugin's own entry point.
#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <unistd.h>
#include <isitup/record.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "plugin_example.hpp"
#include "record_codec.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup {
namespace {

using sdk::record;
using sdk::testing::fake_host;
using sdk::testing::sink_under_test;
namespace fs = std::filesystem;

constexpr int64_t nov_27_2026_18h = 1'795'802'400'000;  // 2026-11-27T18:00:00.000Z

record up_record() {
  record r;
  r.agent = "probe-eu-1";
  r.check = "shop";
  r.plugin = "http_check";
  r.target = "https://shop.example.com/";
  r.scheduled_at_ms = nov_27_2026_18h;
  r.started_at_ms = nov_27_2026_18h + 2;
  r.up = true;
  r.http_code = 200;
  r.total_ms = 41.04;
  return r;
}

record down_record() {
  record r = up_record();
  r.check = "api.example.com";
  r.started_at_ms = nov_27_2026_18h + 5'000;
  r.up = false;
  r.http_code = ISITUP_ABSENT_INT;
  r.total_ms = ISITUP_ABSENT_MS;
  r.error_kind = "dns";
  r.error_message = "no such host";
  return r;
}

// A fresh path in the temp directory, removed at the end of the test.
class temp_file {
 public:
  temp_file() {
    static int n = 0;
    path_ = fs::temp_directory_path() /
            ("stdout_sink_test_" + std::to_string(getpid()) + "_" + std::to_string(++n) + ".log");
    fs::remove(path_);
  }
  ~temp_file() { fs::remove(path_); }
  std::string path() const { return path_.string(); }
  std::string contents() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  fs::path path_;
};

class stdout_sink_test : public ::testing::Test {
 protected:
  stdout_sink_test() {
    host_.to_json = [](const isitup_record_v1& r) { return test::encode_record(r); };
  }
  void TearDown() override {
    for (const std::string& p : host_.problems()) ADD_FAILURE() << "host misuse: " << p;
  }

  fake_host host_;
  temp_file file_;
};

TEST_F(stdout_sink_test, declares_its_options) {
  const isitup_plugin_v1* p = isitup_plugin_entry();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->abi_version, ISITUP_ABI_VERSION);
  EXPECT_STREQ(p->name, "stdout_sink");
  EXPECT_EQ(p->kinds, static_cast<uint32_t>(ISITUP_KIND_SINK));
  ASSERT_NE(p->sink, nullptr);
  ASSERT_EQ(p->sink->option_count, 2u);
  EXPECT_STREQ(p->sink->options[0].name, "format");
  EXPECT_STREQ(p->sink->options[0].default_value, "json");
  EXPECT_STREQ(p->sink->options[1].name, "output");
  EXPECT_STREQ(p->sink->options[1].default_value, "stdout");
}

TEST_F(stdout_sink_test, writes_one_json_record_per_line) {
  sink_under_test sink(host_, isitup_plugin_entry(), {{"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const record up = up_record(), down = down_record();
  const isitup_record_v1 a = up.view(), b = down.view();
  const auto outcome = sink.write({&a, &b});
  ASSERT_TRUE(outcome.done);
  EXPECT_EQ(outcome.status, ISITUP_OK) << outcome.message;
  EXPECT_EQ(file_.contents(),
            R"({"v":1,"agent":"probe-eu-1","location":null,"check":"shop","plugin":"http_check",)"
            R"("target":"https://shop.example.com/","scheduled_at":"2026-11-27T18:00:00.000Z",)"
            R"("started_at":"2026-11-27T18:00:00.002Z","status":"up","error":null,)"
            R"("http":{"code":200,"version":null,"bytes":null},"timing_ms":{"dns":null,)"
            R"("connect":null,"tls":null,"ttfb":null,"total":41.04},"regex_match":null,)"
            R"("tls":null})"
            "\n"
            R"({"v":1,"agent":"probe-eu-1","location":null,"check":"api.example.com",)"
            R"("plugin":"http_check","target":"https://shop.example.com/",)"
            R"("scheduled_at":"2026-11-27T18:00:00.000Z","started_at":"2026-11-27T18:00:05.000Z",)"
            R"("status":"down","error":{"kind":"dns","message":"no such host"},"http":null,)"
            R"("timing_ms":null,"regex_match":null,"tls":null})"
            "\n");
  EXPECT_EQ(host_.counter("lines"), 2);
}

TEST_F(stdout_sink_test, json_lines_of_any_length) {
  sink_under_test sink(host_, isitup_plugin_entry(), {{"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  record big = down_record();
  big.error_message = std::string(5000, 'x');
  const isitup_record_v1 v = big.view();
  ASSERT_EQ(sink.write({&v}).status, ISITUP_OK);
  EXPECT_EQ(file_.contents(), test::encode_record(big) + "\n");
}

TEST_F(stdout_sink_test, writes_aligned_text_lines) {
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"format", "text"}, {"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const record up = up_record(), down = down_record();
  record status = down_record();
  status.check = "caf\xC3\xA9";  // padded by characters, not bytes
  status.http_code = 503;
  status.total_ms = 1234.56;
  status.error_kind = "http_status";
  status.error_message = "HTTP 503\nService Unavailable";
  record long_name = up_record();
  long_name.check = "a-check-name-longer-than-24-chars";
  long_name.started_at_ms = ISITUP_ABSENT_TIME;
  long_name.total_ms = 0.04;
  const isitup_record_v1 a = up.view(), b = down.view(), c = status.view(), d = long_name.view();
  ASSERT_EQ(sink.write({&a, &b}).status, ISITUP_OK);
  ASSERT_EQ(sink.write({&c, &d}).status, ISITUP_OK);
  EXPECT_EQ(file_.contents(),
            "2026-11-27T18:00:00Z shop                     UP   200    41.0ms\n"
            "2026-11-27T18:00:05Z api.example.com          DOWN   -         -  dns: no such host\n"
            "2026-11-27T18:00:05Z caf\xC3\xA9                     DOWN 503  1234.6ms  "
            "http_status: HTTP 503 Service Unavailable\n"
            "2026-11-27T18:00:00Z a-check-name-longer-than-24-chars UP   200     0.0ms\n");
}

// DNS, ping and certificate checks show their key figures (from `extra`) after the time; other
// plugins' extra is not looked into, and a malformed one is ignored.
TEST_F(stdout_sink_test, text_lines_show_dns_ping_and_certificate_figures) {
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"format", "text"}, {"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  record dns = up_record();
  dns.check = "www-a";
  dns.plugin = "dns_check";
  dns.http_code = ISITUP_ABSENT_INT;
  dns.total_ms = 0.446;
  dns.extra_json = R"({"rcode":"NOERROR","type":"A","answer_count":2,"matching_answers":1})";
  record nx = down_record();
  nx.plugin = "dns_check";
  nx.total_ms = 0.5;
  nx.error_message = "rcode NXDOMAIN";
  nx.extra_json = R"({"rcode":"NXDOMAIN","matching_answers":0})";
  record ping = up_record();
  ping.check = "gateway";
  ping.plugin = "icmp_check";
  ping.http_code = ISITUP_ABSENT_INT;
  ping.total_ms = 0.048;
  ping.extra_json =
      R"({"packets_sent":3,"packets_received":2,"loss_percent":33.333,"rtt_min_ms":0.024,)"
      R"("rtt_avg_ms":0.048,"rtt_max_ms":0.061})";
  record lost = ping;
  lost.up = false;
  lost.total_ms = ISITUP_ABSENT_MS;
  lost.error_kind = "packet_loss";
  lost.error_message = "3 of 3 lost";
  lost.extra_json =
      R"({"loss_percent":100.0,"rtt_min_ms":null,"rtt_avg_ms":null,"rtt_max_ms":null})";
  record other = up_record();
  other.extra_json = R"({"rcode":"NOERROR"})";
  record broken = dns;
  broken.extra_json = "{\"rcode\":";
  record cert = up_record();
  cert.check = "shop-cert";
  cert.plugin = "tls_check";
  cert.http_code = ISITUP_ABSENT_INT;
  cert.total_ms = 7.5;
  cert.tls_days_left = 89;
  cert.extra_json = R"({"verified":true,"chain_days_left":11})";
  record leaf_first = cert;
  leaf_first.tls_days_left = 5;
  leaf_first.extra_json = R"({"chain_days_left":5})";
  const isitup_record_v1 a = dns.view(), b = nx.view(), c = ping.view(), d = lost.view(),
                         e = other.view(), f = broken.view(), g = cert.view(),
                         h = leaf_first.view();
  ASSERT_EQ(sink.write({&a, &b, &c, &d, &e, &f, &g, &h}).status, ISITUP_OK);
  EXPECT_EQ(file_.contents(),
            "2026-11-27T18:00:00Z www-a                    UP     -     0.4ms  NOERROR, 1 answer\n"
            "2026-11-27T18:00:05Z api.example.com          DOWN   -     0.5ms  NXDOMAIN, 0 answers"
            "  dns: rcode NXDOMAIN\n"
            "2026-11-27T18:00:00Z gateway                  UP     -     0.0ms  loss 33.3%, rtt "
            "0.024/0.048/0.061 ms\n"
            "2026-11-27T18:00:00Z gateway                  DOWN   -         -  loss 100%  "
            "packet_loss: 3 of 3 lost\n"
            "2026-11-27T18:00:00Z shop                     UP   200    41.0ms\n"
            "2026-11-27T18:00:00Z www-a                    UP     -     0.4ms\n"
            "2026-11-27T18:00:00Z shop-cert                UP     -     7.5ms  cert 89 days, "
            "chain 11 days\n"
            "2026-11-27T18:00:00Z shop-cert                UP     -     7.5ms  cert 5 days\n");
}

isitup_event_v1 opened_event() {
  isitup_event_v1 e{};
  e.struct_size = sizeof e;
  e.event_id = "0123456789abcdef0123456789abcdef";
  e.type = "incident_opened";
  e.incident_id = "fedcba9876543210fedcba9876543210";
  e.check = "shop";
  e.at_ms = nov_27_2026_18h + 20'000;
  e.opened_at_ms = nov_27_2026_18h;
  e.resolved_at_ms = ISITUP_ABSENT_TIME;
  e.error_kind = "connect";
  e.error_message = "refused\nby peer";
  e.json = R"({"v":1,"event_id":"0123456789abcdef0123456789abcdef"})";
  return e;
}

TEST_F(stdout_sink_test, prints_transitions_as_marked_text_lines) {
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"format", "text"}, {"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const isitup_event_v1 opened = opened_event();
  isitup_event_v1 reminder = opened, resolved = opened;
  reminder.type = "incident_reminder";
  resolved.type = "incident_resolved";
  resolved.resolved_at_ms = nov_27_2026_18h + 190'000;
  const auto outcome = sink.write_events({&opened, &reminder, &resolved});
  ASSERT_TRUE(outcome.done);
  EXPECT_EQ(outcome.status, ISITUP_OK) << outcome.message;
  EXPECT_EQ(file_.contents(),
            "!! INCIDENT OPENED shop down (connect: refused by peer) since 2026-11-27T18:00:00Z\n"
            "!! INCIDENT STILL OPEN shop down (connect: refused by peer) since "
            "2026-11-27T18:00:00Z\n"
            "!! INCIDENT RESOLVED shop up since 2026-11-27T18:03:10Z after 190s (connect: "
            "refused by peer)\n");
  EXPECT_EQ(host_.counter("events"), 3);
}

TEST_F(stdout_sink_test, prints_transitions_as_their_json_object) {
  sink_under_test sink(host_, isitup_plugin_entry(), {{"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const isitup_event_v1 e = opened_event();
  ASSERT_EQ(sink.write_events({&e}).status, ISITUP_OK);
  EXPECT_EQ(file_.contents(), std::string(e.json) + "\n");
}

TEST_F(stdout_sink_test, appends_to_an_existing_file) {
  std::ofstream(file_.path()) << "earlier line\n";
  {
    sink_under_test sink(host_, isitup_plugin_entry(),
                         {{"format", "text"}, {"output", file_.path()}});
    ASSERT_TRUE(sink.ok()) << sink.error();
    const record up = up_record();
    const isitup_record_v1 v = up.view();
    ASSERT_EQ(sink.write({&v}).status, ISITUP_OK);
    ASSERT_EQ(sink.write({}).status, ISITUP_OK);  // an empty batch writes nothing
    EXPECT_EQ(sink.flush(), static_cast<uint32_t>(ISITUP_OK));
  }
  EXPECT_EQ(file_.contents(),
            "earlier line\n2026-11-27T18:00:00Z shop                     UP   200    41.0ms\n");
}

TEST_F(stdout_sink_test, writes_to_stdout_by_default) {
  sink_under_test sink(host_, isitup_plugin_entry());
  ASSERT_TRUE(sink.ok()) << sink.error();
  const record up = up_record();
  const isitup_record_v1 v = up.view();
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  FILE* capture = std::fopen(file_.path().c_str(), "w");
  ASSERT_NE(capture, nullptr);
  dup2(fileno(capture), STDOUT_FILENO);
  const auto outcome = sink.write({&v});
  std::fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  std::fclose(capture);
  EXPECT_EQ(outcome.status, ISITUP_OK) << outcome.message;
  EXPECT_EQ(file_.contents(), test::encode_record(up) + "\n");
}

TEST_F(stdout_sink_test, refuses_an_unknown_format) {
  sink_under_test sink(host_, isitup_plugin_entry(), {{"format", "xml"}});
  EXPECT_FALSE(sink.ok());
  EXPECT_EQ(sink.error(), "format: expected one of \"json\", \"text\", got \"xml\"");
}

TEST_F(stdout_sink_test, refuses_an_output_it_cannot_open) {
  sink_under_test sink(host_, isitup_plugin_entry(),
                       {{"output", "/nonexistent-dir/isitup/results.log"}});
  EXPECT_FALSE(sink.ok());
  EXPECT_EQ(sink.error(),
            "output: cannot open /nonexistent-dir/isitup/results.log: No such file or directory");
}

TEST_F(stdout_sink_test, creates_its_file_at_the_first_write_not_when_created) {
  sink_under_test sink(host_, isitup_plugin_entry(), {{"output", file_.path()}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  EXPECT_FALSE(fs::exists(file_.path())) << "--check-config creates sinks: it must leave no file";
  const record up = up_record();
  const isitup_record_v1 v = up.view();
  EXPECT_EQ(sink.write({&v}).status, ISITUP_OK);
  EXPECT_TRUE(fs::exists(file_.path()));
}

TEST_F(stdout_sink_test, refuses_a_directory) {
  sink_under_test dir(host_, isitup_plugin_entry(),
                      {{"output", fs::temp_directory_path().string()}});
  EXPECT_EQ(dir.error(),
            "output: cannot open " + fs::temp_directory_path().string() + ": Is a directory");
}

TEST_F(stdout_sink_test, reports_a_full_disk_as_an_error) {
  sink_under_test sink(host_, isitup_plugin_entry(), {{"output", "/dev/full"}});
  ASSERT_TRUE(sink.ok()) << sink.error();
  const record up = up_record();
  const isitup_record_v1 v = up.view();
  for (int i = 0; i < 2; ++i) {  // the stream recovers its state after a failure
    const auto outcome = sink.write({&v});
    ASSERT_TRUE(outcome.done);
    EXPECT_EQ(outcome.status, ISITUP_ERROR);
    EXPECT_EQ(outcome.message, "write to /dev/full failed: No space left on device");
  }
  EXPECT_EQ(host_.counter("write_errors"), 2);
  EXPECT_EQ(host_.counter("lines"), 0);
}

TEST_F(stdout_sink_test, reports_a_closed_pipe_as_an_error) {
  std::signal(SIGPIPE, SIG_IGN);  // as the agent does
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  const std::string path = "/dev/fd/" + std::to_string(fds[1]);
  {
    sink_under_test sink(host_, isitup_plugin_entry(), {{"output", path}});
    ASSERT_TRUE(sink.ok()) << sink.error();
    const record up = up_record();
    const isitup_record_v1 v = up.view();
    const auto outcome = sink.write({&v});
    EXPECT_EQ(outcome.status, ISITUP_ERROR);
    EXPECT_EQ(outcome.message, "write to " + path + " failed: Broken pipe");
  }
  close(fds[1]);
}

// example.yml is a config the agent loads, naming every option with its default.
TEST(stdout_sink_example, loads_and_shows_every_option_with_its_default) {
  const test::example_config example =
      test::read_example_file(std::string(ISITUP_SOURCE_DIR) + "/plugins/stdout_sink/example.yml",
                              test::declared_by("stdout_sink", *isitup_plugin_entry()->sink));
  ASSERT_EQ(example.sinks.size(), 1u);
  EXPECT_EQ(example.sinks[0].plugin, "stdout_sink");
  EXPECT_FALSE(example.checks.empty());

  const std::vector<test::shown_option>& options = example.sinks[0].options;
  EXPECT_EQ(options.size(), isitup_plugin_entry()->sink->option_count);
  for (const test::shown_option& o : options) {
    EXPECT_TRUE(o.is_set) << o.name << " is not shown in example.yml";
    ASSERT_TRUE(o.default_yaml.has_value()) << o.name << " has no default";
    EXPECT_EQ(o.text, *o.default_yaml) << o.name;
  }
}

}  // namespace
}  // namespace isitup
