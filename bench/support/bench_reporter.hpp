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
  std::FILE* table() const {
    return dynamic_cast<benchmark::ConsoleReporter*>(shown_.get()) != nullptr ? stdout : stderr;
  }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> shown_;
  std::map<std::string, Run> by_name_, by_function_;
};

}  // namespace isitup::bench
