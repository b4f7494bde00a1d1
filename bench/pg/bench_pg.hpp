// Shared by the cases of isitup-bench-pg: the PostgreSQL server every case writes into and
// the rows every case writes, so that the figures of one run compare like with like.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <isitup/core/record.hpp>
#include "pg_server.hpp"

namespace isitup::bench_pg {

// --rows=N: the rows every case writes (default 200,000; a multiple of 5,000 up to 500,000).
// 200,000 gives a writer about 1.5 s of steady transactions, so its start (the first fetch,
// the first small transactions: about 0.1 s) weighs in as it does for a writer that runs, and
// the table with its indexes outgrows shared_buffers (64 MB), as a results table does.
extern int rows_per_run;

extern std::unique_ptr<test::pg_server> server;  // started by main, fsync on
extern std::vector<record> records;              // rows_per_run v1 records, made by main

// TRUNCATE `table` (outside every measurement).
void truncate(const std::string& table);

// kafka_to_pg.cpp: stops the development broker if bm_kafka_to_pg started one.
void stop_kafka();

// Bytes on disk (table, partitions, TOAST, indexes) per row of table `name` (a plain SQL name).
double bytes_per_result(const std::string& name);

// history_query.cpp: what its set-up measured (0 when it did not run).
struct history_setup {
  int64_t rows = 0;
  double load_s = 0, roll_up_s = 0, raw_bytes_per_result = 0, rollup_bytes_per_result = 0;
};
const history_setup& history_figures();

}  // namespace isitup::bench_pg
