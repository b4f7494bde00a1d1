// main() of every isitup-bench-* program: Google Benchmark's flags, the registered benchmarks
// through a recording_reporter (bench_reporter.hpp), then the program's own ratio table.
// Called once, from main's thread.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "bench_reporter.hpp"

namespace isitup::bench {

// Prints what a program derives from its runs (ratios to the baselines of the same run),
// to reporter.table().
using table_printer = std::function<void(const recording_reporter&)>;

// Reads Google Benchmark's flags (an unknown one: the library names it and this returns 1),
// calls `before_runs` when given (servers to start once, benchmarks to register), runs every
// registered benchmark that the flags select, then `print_table` (not when the flags only list
// the benchmarks: --benchmark_list_tests prints the list alone). Returns main's exit code.
int run_benchmarks(int argc, char** argv, const table_printer& print_table,
                   const std::function<void()>& before_runs = {});

// A program's own flag `name` (as "--name="), taken out of argv before Google Benchmark sees
// the arguments (it refuses flags it does not know): the value after the last one given, or
// nothing when it is not given.
std::optional<std::string> take_flag(int& argc, char** argv, const std::string& name);

}  // namespace isitup::bench
