// End to end: the built isitup-agent runs tcp_check against sockets on 127.0.0.1 and writes
// through pg_sink (and stdout_sink, as the witness of what was produced) into a PostgreSQL
// server started by the fixture.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "listener.hpp"
#include "pg_server.hpp"
#include "process.hpp"
#include "record_codec.hpp"

namespace {

using namespace std::chrono_literals;
using isitup::test::child_process;
using isitup::test::pg_server;
using isitup::test::temp_dir;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

pg_server& server() {
  static std::unique_ptr<pg_server> s;
  if (!s) s = std::make_unique<pg_server>();
  return *s;
}

using isitup::test::tcp_listener;
using isitup::test::unused_port;

std::string config(const std::string& table, int open, int closed, const char* interval) {
  return "agent: {id: e2e-agent, location: lab}\n"
         "defaults: {interval: " +
         std::string(interval) +
         ", timeout: 1s}\n"
         "pipeline: {batch_size: 20, batch_delay: 50ms}\n"
         "checks:\n"
         "  - {name: open, plugin: tcp_check, target: \"127.0.0.1:" +
         std::to_string(open) +
         "\"}\n"
         "  - {name: closed, plugin: tcp_check, target: \"127.0.0.1:" +
         std::to_string(closed) +
         "\"}\n"
         "sinks:\n"
         "  - plugin: pg_sink\n"
         "    options: {connection: \"${TEST_PG}\", table: " +
         table +
         ", connect_timeout: 2s, reconnect_backoff_max: 500ms}\n"
         "  - plugin: stdout_sink\n"
         "    options: {format: json}\n";
}

using key = std::tuple<std::string, std::string, int64_t, bool>;  // agent, check, ms, up

std::set<key> from_stdout(const std::string& out, std::size_t& lines) {
  std::set<key> keys;
  std::istringstream in(out);
  std::string line;
  lines = 0;
  while (std::getline(in, line)) {
    if (line.find("\"event_id\"") != std::string::npos) continue;  // a transition
    isitup::sdk::record r;
    std::string error;
    EXPECT_TRUE(isitup::test::decode_record(line, r, error)) << error << ": " << line;
    keys.emplace(r.agent, r.check, r.scheduled_at_ms, r.up);
    ++lines;
  }
  return keys;
}

std::set<key> from_table(const std::string& table, long& rows) {
  pqxx::connection c(server().conninfo());
  pqxx::read_transaction tx(c);
  std::set<key> keys;
  const pqxx::result r = tx.exec(
      "SELECT agent, check_name, (extract(epoch FROM scheduled_at) * 1000)::bigint, "
      "status = 'up' FROM " +
      table);
  for (const auto& row : r)
    keys.emplace(row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int64_t>(),
                 row[3].as<bool>());
  rows = static_cast<long>(r.size());
  return keys;
}

TEST(pg_sink_agent, once_writes_both_results_with_their_fields) {
  tcp_listener open;
  temp_dir dir;
  const std::string cfg =
      dir.write("agent.yml", config("e2e_once", open.port(), unused_port(), "1m"));
  auto r = isitup::test::run({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir, "--once"},
                             60s, {"TEST_PG=" + server().uri()});
  EXPECT_EQ(r.code, 1) << r.err;  // one check is down
  EXPECT_EQ(server().psql("SELECT check_name, status, coalesce(error_kind, '-'), host(ip), "
                          "location, total_ms > 0 FROM e2e_once ORDER BY check_name"),
            "closed|down|connect|127.0.0.1|lab|t\nopen|up|-|127.0.0.1|lab|t\n")
      << r.err;
}

TEST(pg_sink_agent, a_stream_through_a_10s_outage_arrives_exactly_once) {
  tcp_listener open;
  temp_dir dir;
  const std::string cfg =
      dir.write("agent.yml", config("e2e_stream", open.port(), unused_port(), "100ms"));
  child_process agent({agent_bin, "--config", cfg, "--plugins-dir", plugin_dir},
                      {"TEST_PG=" + server().uri()});
  std::this_thread::sleep_for(2s);
  server().stop();
  std::this_thread::sleep_for(10s);
  server().start();
  std::this_thread::sleep_for(2s);
  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(60s), 0) << agent.err();

  std::size_t lines = 0;
  long rows = 0;
  const std::set<key> produced = from_stdout(agent.out(), lines);
  const std::set<key> stored = from_table("e2e_stream", rows);
  EXPECT_GT(lines, 150u);  // 2 checks every 100 ms for ~14 s
  EXPECT_EQ(produced.size(), lines);
  EXPECT_EQ(static_cast<std::size_t>(rows), lines);
  EXPECT_TRUE(produced == stored) << lines << " produced, " << rows << " stored";
}

}  // namespace
