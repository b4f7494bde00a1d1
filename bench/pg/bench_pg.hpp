// Shared by the cases of isitup-bench-pg: the PostgreSQL server every case writes into and
// the rows every case writes, so that the figures of one run compare like with like.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pg_server.hpp"
#include "record.hpp"

namespace isitup::bench_pg {

constexpr int rows_per_run = 50'000;

extern std::unique_ptr<test::pg_server> server;  // started by main, fsync on
extern std::vector<record> records;              // rows_per_run v1 records, made by main

// TRUNCATE `table` (outside every measurement).
void truncate(const std::string& table);

// kafka_to_pg.cpp: stops the development broker if bm_kafka_to_pg started one.
void stop_kafka();

}  // namespace isitup::bench_pg
