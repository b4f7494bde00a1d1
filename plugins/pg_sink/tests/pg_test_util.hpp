// Helpers shared by pg_sink's tests: one PostgreSQL server per test binary, records, and a
// writer that behaves like the host (sends a batch again after a backoff on retry).
#pragma once

#include <gtest/gtest.h>
#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "fake_host.hpp"
#include "pg_server.hpp"
#include "under_test.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::pg::testing {

using sdk::record;  // the tests' records are the SDK's

constexpr int64_t nov_27_2026_18h = 1'795'802'400'000;  // 2026-11-27T18:00:00.000Z

// The binary's server, started on first use; a start failure fails every test that needs it.
inline isitup::test::pg_server& server() {
  static std::unique_ptr<isitup::test::pg_server> s;
  if (!s) s = std::make_unique<isitup::test::pg_server>();
  return *s;
}

// Result i of a stream: check "check-<i % checks>", scheduled every second.
inline record make_record(int i, int checks = 10, const std::string& agent = "probe-1") {
  record r;
  r.agent = agent;
  r.location = "lab";
  r.check = "check-" + std::to_string(i % checks);
  r.plugin = "tcp_check";
  r.target = "127.0.0.1:" + std::to_string(1000 + i % checks);
  r.scheduled_at_ms = nov_27_2026_18h + static_cast<int64_t>(i / checks) * 1000 + 7;
  r.started_at_ms = r.scheduled_at_ms + 3;
  r.up = i % 7 != 0;
  if (!r.up) {
    r.error_kind = "connect";
    r.error_message = "Connection refused";
  }
  r.total_ms = 1.25 + i % 100;
  r.connect_ms = 0.5;
  r.ip = "127.0.0.1";
  return r;
}

// Records with their C views, as a host batch holds them.
struct batch {
  std::vector<record> records;
  std::vector<isitup_record_v1> views;
  std::vector<const isitup_record_v1*> pointers;

  explicit batch(std::vector<record> rs) : records(std::move(rs)) {
    views.reserve(records.size());
    for (const record& r : records) views.push_back(r.view());
    for (const isitup_record_v1& v : views) pointers.push_back(&v);
  }
  static batch range(int from, int to, int checks = 10, const std::string& agent = "probe-1") {
    std::vector<record> rs;
    for (int i = from; i < to; ++i) rs.push_back(make_record(i, checks, agent));
    return batch(std::move(rs));
  }
};

// What the host does: write, and on retry wait (100 ms doubling to 1 s) and write again,
// until ok or error or `limit` has passed. Returns the last outcome; counts the retries.
inline sdk::testing::outcome write_like_host(
    sdk::testing::sink_under_test& sink, const batch& b, int* retries = nullptr,
    std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  auto wait = std::chrono::milliseconds(100);
  for (;;) {
    sdk::testing::outcome o = sink.write(b.pointers, std::chrono::seconds(60));
    if (!o.done || o.status != ISITUP_RETRY || std::chrono::steady_clock::now() >= until) return o;
    if (retries) ++*retries;
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(1000));
  }
}

// Options for a sink writing to `table` in `schema` of the test server, short timeouts.
inline sdk::testing::option_map test_options(const std::string& schema, const std::string& table,
                                             const sdk::testing::option_map& more = {}) {
  sdk::testing::option_map o{{"connection", server().uri()},
                             {"schema", schema},
                             {"table", table},
                             {"statement_timeout", "10s"},
                             {"connect_timeout", "2s"},
                             {"reconnect_backoff_max", "500ms"},
                             // The tests' results are of 2026-11-27: kept whatever the date.
                             {"retention", "0"},
                             // Maintenance runs in the tests that are about it, as of their time.
                             {"maintenance", "false"}};
  for (auto& [k, v] : more) o[k] = v;
  return o;
}

// Row count and an md5 over every column of every row, in key order.
inline std::pair<long, std::string> count_and_checksum(const std::string& qualified_table) {
  pqxx::connection c(server().conninfo());
  pqxx::read_transaction tx(c);
  const pqxx::row r = tx.exec1(
      "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY agent, check_name, "
      "scheduled_at)), '') FROM " +
      qualified_table + " t");
  return {r[0].as<long>(), r[1].as<std::string>()};
}

}  // namespace isitup::pg::testing
