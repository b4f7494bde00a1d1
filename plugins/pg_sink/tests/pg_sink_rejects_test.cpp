// Records PostgreSQL can never store (a check name too long for the primary key's btree,
// SQLSTATE 54000; a constraint or a cast that fails, 23xxx/22xxx; a scheduled_at no
// timestamptz holds) against a real server: each one alone goes to <table>_rejects, is counted
// and logged, and every other row of its batch and of the batches around it is written; the
// batches are ok (durable), none is retried forever.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "pg_schema.hpp"
#include "pg_test_util.hpp"
#include "record_codec.hpp"

namespace isitup::pg::testing {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;
using sdk::testing::sink_under_test;

// Incompressible, so that no btree index entry can hold it (at most 2704 bytes).
std::string random_name(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> pick(0, 35);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const int c = pick(gen);
    s += static_cast<char>(c < 26 ? 'a' + c : '0' + c - 26);
  }
  return s;
}

void use_codec(fake_host& host) {
  host.to_json = [](const isitup_record_v1& r) { return test::encode_record(r); };
}

TEST(pg_sink_rejects, a_check_name_too_long_for_the_index_is_rejected_and_the_rest_written) {
  fake_host host;
  use_codec(host);
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "too_long"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  std::vector<record> rs;
  rs.reserve(100);
  for (int i = 0; i < 100; ++i) rs.push_back(make_record(i));
  rs[37].check = random_name(8192, 1);
  const batch b(rs);
  int retries = 0;
  const auto o = write_like_host(sink, b, &retries, 20s);
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.status, ISITUP_OK) << o.message << " after " << retries << " retries";
  EXPECT_EQ(retries, 0);
  EXPECT_EQ(count_and_checksum("too_long").first, 99);
  const std::string json = R"({"v":1,"agent":"probe-1","location":"lab","check":")" + rs[37].check;
  EXPECT_EQ(server().psql("SELECT sqlstate, left(record, 200), length(record) <= 16384, "
                          "error_message LIKE '%index row%' FROM too_long_rejects"),
            "54000|" + json.substr(0, 200) + "|t|t\n");
  EXPECT_EQ(host.counter("rows_rejected"), 1);
  EXPECT_TRUE(host.logged("rejected a record PostgreSQL cannot store (SQLSTATE 54000)"));
  EXPECT_TRUE(host.logged("check '" + rs[37].check.substr(0, 90)));
  EXPECT_TRUE(host.logged("scheduled_at 2026-11-27T18:00:03.007Z"));

  // Written again (a replay from Kafka): nothing changes, the reject is not stored twice.
  EXPECT_EQ(write_like_host(sink, b, nullptr, 20s).status, ISITUP_OK);
  EXPECT_EQ(count_and_checksum("too_long").first, 99);
  EXPECT_EQ(server().psql("SELECT count(*) FROM too_long_rejects"), "1\n");
}

TEST(pg_sink_rejects, every_permanent_data_error_is_isolated_to_its_record) {
  fake_host host;
  use_codec(host);
  // batch_delay gathers the batches into one transaction first.
  sink_under_test sink(host, isitup_plugin_entry(),
                       test_options("public", "refused_kinds", {{"batch_delay", "300ms"}}));
  ASSERT_TRUE(sink.ok()) << sink.error();
  {
    const batch warm = batch::range(0, 1);
    ASSERT_EQ(sink.write(warm.pointers).status, ISITUP_OK);
  }
  server().psql(
      "ALTER TABLE refused_kinds ADD CONSTRAINT no_evil CHECK (check_name <> 'evil'), "
      "ADD CONSTRAINT small CHECK (total_ms IS NULL OR total_ms::numeric(8, 2) IS NOT NULL)");
  std::vector<record> mixed;
  for (int i = 100; i < 140; ++i) mixed.push_back(make_record(i, 40));
  mixed[3].check = "evil";                          // 23514 check_violation
  mixed[17].total_ms = 1e12;                        // 22003 numeric_value_out_of_range
  mixed[29].check = random_name(9000, 2);           // 54000 program_limit_exceeded
  mixed[30].scheduled_at_ms = -62'167'219'200'000;  // 0000-01-01: no timestamptz holds it
  const batch good1 = batch::range(10, 20), bad(mixed), good2 = batch::range(20, 30);
  sdk::testing::outcome o1, o2, o3;
  std::thread t1([&] { o1 = sink.write(good1.pointers); });
  std::thread t2([&] { o2 = sink.write(bad.pointers); });
  std::thread t3([&] { o3 = sink.write(good2.pointers); });
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(o1.status, ISITUP_OK) << o1.message;
  EXPECT_EQ(o2.status, ISITUP_OK) << o2.message;
  EXPECT_EQ(o3.status, ISITUP_OK) << o3.message;
  EXPECT_EQ(count_and_checksum("refused_kinds").first, 1 + 10 + 36 + 10);
  EXPECT_EQ(server().psql("SELECT string_agg(sqlstate, ',' ORDER BY sqlstate) FROM "
                          "refused_kinds_rejects"),
            "22003,22008,23514,54000\n");
  EXPECT_EQ(host.counter("rows_rejected"), 4);
  EXPECT_TRUE(host.logged("check 'evil'"));
  EXPECT_TRUE(host.logged("scheduled_at 0000-01-01T00:00:00.000Z"));
}

TEST(pg_sink_rejects, the_rejects_table_comes_with_its_own_migration) {
  fake_host host;
  sink_under_test sink(host, isitup_plugin_entry(), test_options("public", "migrated"));
  ASSERT_TRUE(sink.ok()) << sink.error();
  const batch b = batch::range(0, 5);
  ASSERT_EQ(sink.write(b.pointers).status, ISITUP_OK);
  EXPECT_EQ(server().psql("SELECT version FROM isitup_migrations WHERE table_name = 'migrated' "
                          "AND description LIKE '%rejects%'"),
            "4\n");
  EXPECT_EQ(server().psql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY "
                          "ordinal_position) FROM information_schema.columns WHERE table_name = "
                          "'migrated_rejects'"),
            "received_at:timestamp with time zone,sqlstate:text,error_message:text,"
            "record:text,record_md5:text\n");
}

}  // namespace
}  // namespace isitup::pg::testing
