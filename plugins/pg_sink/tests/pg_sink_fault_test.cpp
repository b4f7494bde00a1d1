// pg_sink under faults, against a real PostgreSQL server: the server stopped for 10 s in the
// middle of a stream, and the sink's backend killed with pg_terminate_backend during COPY.
// Afterwards every result is in the table exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "pg_test_util.hpp"

namespace isitup::pg::testing {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;
using sdk::testing::sink_under_test;

void expect_each_once(const std::string& table, int n) {
  EXPECT_EQ(server().psql("SELECT count(*), count(DISTINCT (agent, check_name, scheduled_at)) "
                          "FROM " +
                          table),
            std::to_string(n) + "|" + std::to_string(n) + "\n");
}

TEST(pg_sink_faults, server_stopped_for_10s_mid_stream_loses_and_duplicates_nothing) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "outage"));
  ASSERT_TRUE(sink.ok()) << sink.error();

  // A stream of batches, one after another as the host sends them; the server goes down
  // after the first few and comes back 10 s later.
  constexpr int batches = 60, size = 100;
  std::atomic<int> done{0}, retries{0}, failed{0};
  std::thread stream([&] {
    for (int i = 0; i < batches; ++i) {
      const batch b = batch::range(i * size, (i + 1) * size);
      int r = 0;
      const auto o = write_like_host(sink, b, &r, 60s);
      retries += r;
      if (o.status != ISITUP_OK) ++failed;
      ++done;
      std::this_thread::sleep_for(50ms);
    }
  });
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (done.load() < 5 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  server().stop();
  const int done_at_stop = done.load();
  std::this_thread::sleep_for(10s);
  const int done_during_outage = done.load() - done_at_stop;
  server().start();
  stream.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_LE(done_during_outage, 1);  // at most the batch committed as the server went down
  EXPECT_GT(retries.load(), 3);      // the outage was seen and ridden out
  expect_each_once("outage", batches * size);
  EXPECT_GE(host.counter("write_failures"), 1);
}

TEST(pg_sink_faults, backend_terminated_during_copy_loses_and_duplicates_nothing) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(),
                       test_options("public", "terminated", {{"batch_size", "100000"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  {
    const batch warm = batch::range(0, 10);  // connect and migrate first
    ASSERT_EQ(sink.write(warm.pointers).status, ISITUP_OK);
  }
  constexpr int n = 60000;
  const batch big = batch::range(0, n);

  // Watch for the sink's COPY and terminate its backend while it runs.
  std::atomic<bool> stop{false}, killed{false};
  std::thread killer([&] {
    pqxx::connection c(server().conninfo());
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (!stop && std::chrono::steady_clock::now() < until) {
      pqxx::nontransaction tx(c);
      const pqxx::result r = tx.exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
          "'isitup-pg_sink' AND state = 'active' AND query LIKE 'COPY%'");
      if (!r.empty() && r[0][0].as<bool>()) {
        killed = true;
        return;
      }
      std::this_thread::sleep_for(2ms);
    }
  });
  const auto first = sink.write(big.pointers, 60s);
  stop = true;
  killer.join();
  ASSERT_TRUE(killed.load()) << "the COPY was never seen running";
  EXPECT_TRUE(first.done);
  EXPECT_EQ(first.status, ISITUP_RETRY) << first.message;
  EXPECT_EQ(server().psql("SELECT count(*) FROM terminated"), "10\n");  // nothing half-written

  int retries = 0;
  const auto again = write_like_host(sink, big, &retries, 60s);
  ASSERT_EQ(again.status, ISITUP_OK) << again.message;
  expect_each_once("terminated", n);
}

}  // namespace
}  // namespace isitup::pg::testing
