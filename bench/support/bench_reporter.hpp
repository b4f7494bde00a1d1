// The reporter every isitup-bench-* program runs with. It shows the runs exactly as Google
// Benchmark's own flags ask (--benchmark_format=console|json|csv, by wrapping the library's
// default display reporter; --benchmark_out still writes its file) and keeps each run, the
// median when repeated, so that main() can print the ratios to the baselines afterwards.
// table() is where that summary goes: stdout after console output, stderr otherwise, so JSON
// or CSV on stdout stays parseable.
//
// Threads: Google Benchmark calls the reporter from the thread that runs the benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace isitup::bench {

class recording_reporter : public benchmark::BenchmarkReporter {
 public:
  recording_reporter() : shown_(benchmark::CreateDefaultDisplayReporter()) {}

  bool ReportContext(const Context& context) override { return shown_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      by_name_.insert_or_assign(r.run_name.str(), r);
      by_function_.insert_or_assign(r.run_name.function_name, r);
    }
    shown_->ReportRuns(runs);
  }
  void Finalize() override { shown_->Finalize(); }

  // Every kept run by its whole name ("BM_Expire/wheel/1000", "bm_raw_copy/min_time:2.000").
  const std::map<std::string, Run>& runs() const { return by_name_; }
  // One kept run by its whole name, or nullptr when it did not run.
  const Run* run(const std::string& whole_name) const {
    const auto it = by_name_.find(whole_name);
    return it == by_name_.end() ? nullptr : &it->second;
  }
  // The last kept run of a benchmark function ("bm_raw_copy"), or nullptr when it did not run.
  const Run* function(const std::string& name) const {
    const auto it = by_function_.find(name);
    return it == by_function_.end() ? nullptr : &it->second;
  }
  // A counter of a function's run, or `absent` when the run or the counter is missing.
  double counter(const std::string& function_name, const std::string& key,
                 double absent = 0) const {
    const Run* r = function(function_name);
    if (r == nullptr) return absent;
    const auto it = r->counters.find(key);
    return it == r->counters.end() ? absent : it->second.value;
  }
  // Nanoseconds per item of a function's run: from its items_per_second counter when it counts
  // items, else its CPU time per iteration; 0 when it did not run.
  double per_item_ns(const std::string& function_name) const {
    const Run* r = function(function_name);
    if (r == nullptr) return 0;
    const auto it = r->counters.find("items_per_second");
    return it != r->counters.end()
               ? 1e9 / it->second.value
               : r->GetAdjustedCPUTime() * 1e9 / benchmark::GetTimeUnitMultiplier(r->time_unit);
  }
  // Where the ratio table goes (see the top of this file).
  std::FILE* table() const {
    return dynamic_cast<benchmark::ConsoleReporter*>(shown_.get()) != nullptr ? stdout : stderr;
  }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> shown_;
  std::map<std::string, Run> by_name_, by_function_;
};

// A measurement next to its floor (the bare loop doing the same work) in the same run: the
// rate and the CPU per item of each, from the counters the two benchmarks set.
struct versus_floor {
  double floor_rate = 0, rate = 0, floor_cpu = 0, cpu = 0;
  double rate_ratio() const { return rate / floor_rate; }
  double cpu_ratio() const { return floor_cpu > 0 ? cpu / floor_cpu : 0.0; }
};
// Both functions' `rate_counter` and `cpu_counter`; nullopt when either has no rate (it did not
// run, or failed), so that no ratio is printed.
inline std::optional<versus_floor> against_floor(const recording_reporter& reporter,
                                                 const std::string& floor_function,
                                                 const std::string& function,
                                                 const std::string& rate_counter,
                                                 const std::string& cpu_counter) {
  versus_floor v;
  v.floor_rate = reporter.counter(floor_function, rate_counter);
  v.rate = reporter.counter(function, rate_counter);
  v.floor_cpu = reporter.counter(floor_function, cpu_counter);
  v.cpu = reporter.counter(function, cpu_counter);
  if (v.floor_rate <= 0 || v.rate <= 0) return std::nullopt;
  return v;
}

}  // namespace isitup::bench
