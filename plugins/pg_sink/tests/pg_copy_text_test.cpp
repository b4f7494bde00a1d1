// The COPY text pg_writer formats into one buffer per batch (pg_copy_text.hpp): hostile strings
// (tabs, newlines, carriage returns, backslashes, the end-of-data marker, control characters,
// invalid UTF-8) are one line per row and read back from PostgreSQL exactly as given (or
// repaired to valid UTF-8), through both paths (COPY straight into the table and staging).
#include <gtest/gtest.h>
#include <isitup/util/utf8.hpp>

#include <pqxx/pqxx>

#include "pg_copy_text.hpp"
#include "pg_test_util.hpp"
#include "pg_writer.hpp"

namespace isitup::pg {
namespace {

using sdk::record;
using testing::server;

const std::vector<std::string> hostile = {"tab\there",
                                          "new\nline",
                                          "carriage\rreturn",
                                          "back\\slash",
                                          "\\.",
                                          "\\",
                                          "\\N",
                                          "ends with backslash\\",
                                          "\x01\x02\x1f\x7f",
                                          "\b\f\v",
                                          "bad \xff\xfe utf8",
                                          "cut \xe2\x82",
                                          "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
                                          "a\tb\nc\\d\re"};

std::vector<record> hostile_records() {
  std::vector<record> out;
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    record r = testing::make_record(static_cast<int>(i), 1000);
    r.check = "check-" + std::to_string(i);
    r.target = hostile[i];
    r.location = hostile[i];
    r.up = false;
    r.error_kind = "connect";
    r.error_message = hostile[i];
    out.push_back(r);
  }
  return out;
}

std::string expected(const std::string& s) { return sdk::is_utf8(s) ? s : sdk::repaired_utf8(s); }

TEST(pg_copy_text, every_row_is_one_line_and_no_line_is_the_end_marker) {
  const testing::batch b(hostile_records());
  std::string text;
  write_stats stats;
  EXPECT_EQ(append_copy_rows(b.pointers.data(), b.pointers.size(), text, stats), hostile.size());
  std::size_t lines = 0;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = text.substr(start, end - start);
    EXPECT_NE(line, "\\.");
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_EQ(static_cast<std::size_t>(std::count(line.begin(), line.end(), '\t')) + 1,
              result_columns().size())
        << line;
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, hostile.size());
  EXPECT_EQ(stats.repaired_text, 6u);  // two invalid strings, three fields each
}

void expect_read_back(const std::string& table) {
  pqxx::connection c(server().conninfo());
  pqxx::read_transaction tx(c);
  const pqxx::result r = tx.exec("SELECT target, location, error_message FROM " + table +
                                 " ORDER BY substr(check_name, 7)::int");
  ASSERT_EQ(r.size(), hostile.size());
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    EXPECT_EQ(r[i][0].as<std::string>(), expected(hostile[i])) << i;
    EXPECT_EQ(r[i][1].as<std::string>(), expected(hostile[i])) << i;
    EXPECT_EQ(r[i][2].as<std::string>(), expected(hostile[i])) << i;
  }
}

TEST(pg_copy_text, hostile_strings_read_back_as_given_through_both_paths) {
  const testing::batch b(hostile_records());
  writer_options o;
  o.conninfo = build_conninfo(server().uri(), "", 2000);
  o.to_json = [](const isitup_record_v1&) { return std::string("{}"); };
  o.names.table = "copy_slow";
  pg_writer slow(o);
  slow.write(b.pointers);  // no positions: staging + ON CONFLICT
  expect_read_back("copy_slow");

  o.names.table = "copy_fast";
  pg_writer fast(o);
  const int64_t epoch = fast.claim("g", "t", {0})[0].epoch;
  fast.write(b.pointers, {}, {batch_position{"g", "t", 0, 0, 1, epoch}});
  EXPECT_EQ(fast.stats().fast_writes, 1u);
  EXPECT_EQ(fast.stats().slow_writes, 0u);
  expect_read_back("copy_fast");
}

// The writer keeps its COPY buffer between transactions: the second holds its own rows only
// (a row of the first sent again would be a unique violation and the slow path).
TEST(pg_copy_text, the_next_transaction_of_a_writer_sends_only_its_own_rows) {
  std::vector<record> second = hostile_records();
  second.resize(2);
  for (record& r : second) r.check += "-again";
  const testing::batch first_rows(hostile_records()), second_rows(second);
  writer_options o;
  o.conninfo = build_conninfo(server().uri(), "", 2000);
  o.to_json = [](const isitup_record_v1&) { return std::string("{}"); };
  o.names.table = "copy_twice";
  pg_writer w(o);
  const int64_t epoch = w.claim("g", "t", {0})[0].epoch;
  w.write(first_rows.pointers, {}, {batch_position{"g", "t", 0, 0, 1, epoch}});
  w.write(second_rows.pointers, {}, {batch_position{"g", "t", 0, 1, 2, epoch}});
  EXPECT_EQ(w.stats().fast_writes, 2u);
  EXPECT_EQ(w.stats().slow_writes, 0u);
  pqxx::connection c(server().conninfo());
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM copy_twice")[0].as<std::size_t>(),
            hostile.size() + second.size());
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM copy_twice WHERE check_name LIKE '%-again'")[0]
                .as<std::size_t>(),
            second.size());
}

}  // namespace
}  // namespace isitup::pg
