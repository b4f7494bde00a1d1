#include "bench_main.hpp"

#include <benchmark/benchmark.h>

namespace isitup::bench {

int run_benchmarks(int argc, char** argv, const table_printer& print_table,
                   const std::function<void()>& before_runs) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (before_runs) before_runs();
  recording_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_table(reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace isitup::bench
