#include "bench_main.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace isitup::bench {

namespace {

// Whether the flags ask only for the list of benchmarks (Google Benchmark 1.7 has no accessor
// for its flags). Its rules for a bool flag: bare or empty is true; false, no, off, 0, f, n (any
// case) are false, anything else true; the last one counts.
bool only_listing(int argc, char** argv) {
  constexpr std::string_view flag = "--benchmark_list_tests";
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == flag) {
      listing = true;
    } else if (arg.starts_with(flag) && arg[flag.size()] == '=') {
      std::string value(arg.substr(flag.size() + 1));
      std::transform(value.begin(), value.end(), value.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      listing = !(value == "false" || value == "no" || value == "off" || value == "0" ||
                  value == "f" || value == "n");
    }
  }
  return listing;
}

}  // namespace

int run_benchmarks(int argc, char** argv, const table_printer& print_table,
                   const std::function<void()>& before_runs) {
  const bool listing = only_listing(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (before_runs) before_runs();
  recording_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // Listing runs nothing: a table of ratios (and the queries some tables make of what the runs
  // stored) has nothing to go by.
  if (!listing) print_table(reporter);
  benchmark::Shutdown();
  return 0;
}

std::optional<std::string> take_flag(int& argc, char** argv, const std::string& name) {
  const std::string prefix = "--" + name + "=";
  std::optional<std::string> value;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).substr(0, prefix.size()) == prefix)
      value = std::string(argv[i] + prefix.size());
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  return value;
}

}  // namespace isitup::bench
