// noop_check: a check plugin for the agent-level scheduler benchmark only (never installed).
// Every run completes at once, "up", from inside start(), so the agent's cost per fired check
// is the scheduler, the host and the result pipeline, and nothing else.
//
// It measures firing lateness: wall-clock now minus the run's scheduled time, when start() is
// called. Runs scheduled in the first ISITUP_NOOP_WARMUP_MS (default 5000) after the first
// run are only counted (the agent's start-up backlog), the rest go into a histogram. At
// unload it writes "# warmup N" and then one line per millisecond bucket, "ms count", to the
// file named by the environment variable ISITUP_NOOP_STATS, if set.
#include <isitup/plugin.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace isitup::sdk;

namespace {

class noop_check : public async_checks {
 public:
  explicit noop_check(const host&) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): neither the agent nor a plugin sets the environment
    const char* warmup = std::getenv("ISITUP_NOOP_WARMUP_MS");
    warmup_ms_ = warmup != nullptr ? std::atoll(warmup) : 5000;
  }
  ~noop_check() override {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): neither the agent nor a plugin sets the environment
    const char* path = std::getenv("ISITUP_NOOP_STATS");
    if (path == nullptr) return;
    if (FILE* f = std::fopen(path, "w")) {
      std::fprintf(f, "# warmup %llu\n",
                   static_cast<unsigned long long>(warmup_runs_.load(std::memory_order_relaxed)));
      for (std::size_t ms = 0; ms < buckets_.size(); ++ms) {
        const uint64_t n = buckets_[ms].load(std::memory_order_relaxed);
        if (n != 0) std::fprintf(f, "%zu %llu\n", ms, static_cast<unsigned long long>(n));
      }
      std::fclose(f);
    }
  }

  std::unique_ptr<prepared_check> prepare(const check_spec&) override {
    return std::make_unique<prepared_check>();
  }

  void start(prepared_check&, const run_info& run, completion done) override {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    int64_t first = first_scheduled_ms_.load(std::memory_order_relaxed);
    if (first == 0) {
      first_scheduled_ms_.compare_exchange_strong(first, run.scheduled_at_ms);
      first = first_scheduled_ms_.load(std::memory_order_relaxed);
    }
    if (run.scheduled_at_ms < first + warmup_ms_) {
      warmup_runs_.fetch_add(1, std::memory_order_relaxed);
      done(result::ok());
      return;
    }
    const int64_t late = now - run.scheduled_at_ms;
    const std::size_t bucket =
        late < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(late), buckets_.size() - 1);
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    done(result::ok());
  }

 private:
  int64_t warmup_ms_ = 5000;
  std::atomic<int64_t> first_scheduled_ms_{0};
  std::atomic<uint64_t> warmup_runs_{0};
  std::array<std::atomic<uint64_t>, 60001> buckets_{};  // lateness in ms; the last is ">= 60 s"
};

}  // namespace

ISITUP_PLUGIN(plugin_def("noop_check", "1.0.0",
                         "Benchmark only: completes every run at once and records lateness")
                  .check<noop_check>({}))
