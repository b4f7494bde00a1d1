// isitup-bench-scheduler: the timer wheel against std::priority_queue (lazy cancellation) and
// std::multimap, same seeds and workloads in one binary. Names: BM_<case>/<impl>/<N>.
// After the runs it prints, per case and N, each baseline's time divided by the wheel's.
// See README.md in this folder for how to read the output.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <isitup/core/timer_wheel.hpp>
#include "baselines.hpp"
#include "bench_main.hpp"

// Live heap bytes (glibc's count of bytes in use, mmapped blocks included), for the
// memory-per-timer counters.
static int64_t live_heap_bytes() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

namespace isitup::bench {
namespace {

constexpr int64_t k_start = 1'790'000'000'000;  // epoch ms, any instant
constexpr uint64_t k_seed = 20261127;

using factory = std::unique_ptr<timer_queue> (*)();
std::unique_ptr<timer_queue> make_wheel() { return make_timer_wheel(k_start); }
std::unique_ptr<timer_queue> make_heap() { return std::make_unique<heap_timer_queue>(); }
std::unique_ptr<timer_queue> make_multimap() { return std::make_unique<multimap_timer_queue>(); }

struct impl {
  const char* name;
  factory make;
};
constexpr impl k_impls[] = {
    {"wheel", make_wheel}, {"heap", make_heap}, {"multimap", make_multimap}};

// N checks with intervals uniform in [lo, hi] ms; first due uniform over one interval (splay).
struct workload {
  std::vector<int64_t> interval;
  std::vector<int64_t> first_due;
};
workload make_workload(std::size_t n, int64_t lo, int64_t hi, bool same_first_due = false) {
  std::mt19937_64 rng(k_seed + n);
  workload w;
  w.interval.resize(n);
  w.first_due.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    w.interval[i] = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
    w.first_due[i] =
        same_first_due ? k_start + 1 : k_start + 1 + static_cast<int64_t>(rng() % w.interval[i]);
  }
  return w;
}

// Random dues 10-60 s ahead, and a random permutation of ids.
std::vector<int64_t> random_dues(std::size_t n, uint64_t salt) {
  std::mt19937_64 rng(k_seed ^ salt);
  std::vector<int64_t> d(n);
  for (auto& x : d) x = k_start + 10'000 + static_cast<int64_t>(rng() % 50'001);
  return d;
}
std::vector<uint32_t> shuffled_ids(std::size_t n, uint64_t salt) {
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(k_seed ^ salt));
  return ids;
}

void fill(timer_queue& q, const std::vector<int64_t>& dues) {
  for (uint32_t i = 0; i < dues.size(); ++i) q.schedule(i, dues[i]);
}

void BM_Schedule(benchmark::State& state, factory make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto dues = random_dues(n, 1);
  for (auto _ : state) {
    state.PauseTiming();
    const int64_t before = live_heap_bytes();  // the queue's fixed part counts too
    auto q = make();
    state.ResumeTiming();
    fill(*q, dues);
    state.PauseTiming();
    state.counters["bytes_per_timer"] =
        static_cast<double>(live_heap_bytes() - before) / static_cast<double>(n);
    q.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}

void BM_Cancel(benchmark::State& state, factory make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto dues = random_dues(n, 2);
  const auto order = shuffled_ids(n, 2);
  for (auto _ : state) {
    state.PauseTiming();
    auto q = make();
    fill(*q, dues);
    state.ResumeTiming();
    for (uint32_t id : order) benchmark::DoNotOptimize(q->cancel(id));
    state.PauseTiming();
    if (q->size() != 0) state.SkipWithError("timers left after cancelling all");
    q.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}

void BM_Reschedule(benchmark::State& state, factory make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto q = make();
  fill(*q, random_dues(n, 3));
  const auto order = shuffled_ids(n, 3);
  const auto dues = random_dues(n, 4);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) q->reschedule(order[i], dues[i]);
  }
  // The heap keeps its stale entries until they surface; that cost shows up in expiry.
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}

void BM_Expire(benchmark::State& state, factory make) {
  // One-shot timers 10-60 s ahead, expired in 1 ms ticks.
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto dues = random_dues(n, 5);
  std::size_t expired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto q = make();
    fill(*q, dues);
    state.ResumeTiming();
    for (int64_t now = k_start; now <= k_start + 60'000; ++now) {
      expired += q->expire(now, [](uint32_t id, int64_t) { benchmark::DoNotOptimize(id); });
    }
    state.PauseTiming();
    q.reset();
    state.ResumeTiming();
  }
  if (expired != n * state.iterations()) state.SkipWithError("not every timer expired");
  state.SetItemsProcessed(static_cast<int64_t>(expired));
}

// This thread's CPU time: per-tick figures that a preempted thread (a busy shared machine)
// does not inflate. Page faults and cache misses still count.
int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The scheduler's pattern: N recurring timers (schedule_recurring: the queue re-arms each
// expiry at due + interval itself, drift-free), 1 ms ticks over `ms` simulated ms. With
// `manual`, the way it was done before recurring timers were part of the interface: one-shot
// timers that the callback re-arms, reading the interval from the caller's own table.
// Returns the number of expiries; records any lateness.
struct recurring_result {
  uint64_t expiries = 0;
  int64_t max_lateness_ms = 0;
  uint64_t most_in_a_tick = 0;  // expiries
};
void arm_workload(timer_queue& q, const workload& w, bool manual) {
  for (uint32_t i = 0; i < w.interval.size(); ++i) {
    if (manual) {
      q.schedule(i, w.first_due[i]);
    } else {
      q.schedule_recurring(i, w.first_due[i], w.interval[i]);
    }
  }
}
recurring_result run_recurring(timer_queue& q, const workload& w, int64_t ms, bool manual,
                               std::vector<int64_t>* tick_ns) {
  recurring_result r;
  int64_t now = k_start;
  auto seen = [&](uint32_t, int64_t due) {
    r.max_lateness_ms = std::max(r.max_lateness_ms, now - due);
  };
  auto rearm = [&](uint32_t id, int64_t due) {
    r.max_lateness_ms = std::max(r.max_lateness_ms, now - due);
    q.schedule(id, due + w.interval[id]);
  };
  for (; now <= k_start + ms; ++now) {
    const int64_t t0 = tick_ns != nullptr ? thread_cpu_ns() : 0;
    const uint64_t n = manual ? q.expire(now, rearm) : q.expire(now, seen);
    if (tick_ns != nullptr) tick_ns->push_back(thread_cpu_ns() - t0);
    r.expiries += n;
    r.most_in_a_tick = std::max<uint64_t>(r.most_in_a_tick, n);
  }
  if (q.missed_periods() != 0) r.max_lateness_ms = std::max<int64_t>(r.max_lateness_ms, 1);
  return r;
}

// The expiries every implementation must produce: sum over checks of grid points in range.
uint64_t expected_expiries(const workload& w, int64_t ms) {
  uint64_t total = 0;
  for (std::size_t i = 0; i < w.interval.size(); ++i) {
    if (w.first_due[i] <= k_start + ms) {
      total += static_cast<uint64_t>((k_start + ms - w.first_due[i]) / w.interval[i] + 1);
    }
  }
  return total;
}

void recurring_case(benchmark::State& state, factory make, const workload& w, int64_t ms, bool tail,
                    bool manual = false) {
  const uint64_t want = expected_expiries(w, ms);
  uint64_t expiries = 0;
  double seconds = 0;
  std::vector<int64_t> ticks;
  for (auto _ : state) {
    state.PauseTiming();
    const int64_t before = live_heap_bytes();  // the queue's fixed part counts too
    auto q = make();
    arm_workload(*q, w, manual);
    state.counters["bytes_per_timer"] =
        static_cast<double>(live_heap_bytes() - before) / static_cast<double>(w.interval.size());
    ticks.clear();
    if (tail) ticks.reserve(static_cast<std::size_t>(ms) + 1);
    state.ResumeTiming();
    const int64_t t0 = thread_cpu_ns();
    const recurring_result r = run_recurring(*q, w, ms, manual, tail ? &ticks : nullptr);
    seconds += static_cast<double>(thread_cpu_ns() - t0) * 1e-9;
    state.PauseTiming();
    if (!tail) {  // after 3 minutes every level-0 slot has been used: the steady state
      state.counters["bytes_per_timer_end"] =
          static_cast<double>(live_heap_bytes() - before) / static_cast<double>(w.interval.size());
    }
    if (r.expiries != want) state.SkipWithError("expiry count differs from the model");
    if (r.max_lateness_ms != 0) state.SkipWithError("an expiry was late");
    expiries += r.expiries;
    // The busiest tick's expiries, so that a tick_max_us far above what that many expiries
    // cost can be told apart as the machine's doing (preemption of the VM counts as CPU).
    if (tail) state.counters["tick_most_expiries"] = static_cast<double>(r.most_in_a_tick);
    q.reset();
    state.ResumeTiming();
  }
  state.counters["expiries"] = static_cast<double>(want);
  state.counters["lateness_max_ms"] = 0;
  // With per-tick timing on, each tick also pays two clock_gettime() calls (about 1 us each
  // on a VM), so ns_per_expiry is only reported by the cases without it.
  if (!tail) state.counters["ns_per_expiry"] = seconds * 1e9 / static_cast<double>(expiries);
  if (tail && !ticks.empty()) {
    std::sort(ticks.begin(), ticks.end());
    auto pct = [&](double p) {
      return static_cast<double>(ticks[static_cast<std::size_t>(p * (ticks.size() - 1))]) / 1e3;
    };
    state.counters["tick_p50_us"] = pct(0.5);
    state.counters["tick_p99_us"] = pct(0.99);
    state.counters["tick_p999_us"] = pct(0.999);
    state.counters["tick_max_us"] = static_cast<double>(ticks.back()) / 1e3;
  }
}

void BM_Recurring(benchmark::State& state, factory make) {
  const auto w = make_workload(static_cast<std::size_t>(state.range(0)), 10'000, 60'000);
  recurring_case(state, make, w, 180'000, false);
}

void BM_RecurringManual(benchmark::State& state, factory make) {
  const auto w = make_workload(static_cast<std::size_t>(state.range(0)), 10'000, 60'000);
  recurring_case(state, make, w, 180'000, false, true);
}

void BM_RecurringTail(benchmark::State& state, factory make) {
  const auto w = make_workload(static_cast<std::size_t>(state.range(0)), 10'000, 60'000);
  recurring_case(state, make, w, 180'000, true);
}

void BM_Aligned(benchmark::State& state, factory make) {
  // Every check has the same 30 s interval and the same first due: N expiries in one tick.
  const auto w = make_workload(static_cast<std::size_t>(state.range(0)), 30'000, 30'000, true);
  recurring_case(state, make, w, 180'000, true);
}

void BM_IdleAdvance(benchmark::State& state, factory make) {
  // N timers 10-60 minutes away; 60,000 empty 1 ms ticks, then one 5 s jump (catch-up after a
  // stall) that expires nothing. Reports ns per empty tick and the catch-up call.
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<int64_t> dues = random_dues(n, 6);
  for (auto& d : dues) d = k_start + (d - k_start) * 60;
  double catchup_ns = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto q = make();
    fill(*q, dues);
    int64_t now = k_start;
    state.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 60'000; ++i) q->expire(++now, [](uint32_t, int64_t) {});
    const auto t1 = std::chrono::steady_clock::now();
    now += 5000;
    q->expire(now, [](uint32_t, int64_t) {});
    const auto t2 = std::chrono::steady_clock::now();
    catchup_ns = static_cast<double>(std::chrono::nanoseconds(t2 - t1).count());
    state.counters["ns_per_idle_tick"] =
        static_cast<double>(std::chrono::nanoseconds(t1 - t0).count()) / 60'000;
    if (q->size() != n) state.SkipWithError("an idle advance expired something");
    state.PauseTiming();
    q.reset();
    state.ResumeTiming();
  }
  state.counters["catchup_5s_ns"] = catchup_ns;
}

void BM_Churn(benchmark::State& state, factory make) {
  // Recurring checks (10-60 s) where 90 % of arms are cancelled before they expire: every tick
  // re-arms 9x as many random checks (cancel + schedule_recurring, one op) as expire on
  // average.
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto w = make_workload(n, 10'000, 60'000);
  const double expiries_per_ms = static_cast<double>(n) / 32'000.0;  // mean of 1/U(10 s, 60 s)
  std::mt19937_64 rng(k_seed ^ 7);
  uint64_t ops = 0;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto q = make();
    arm_workload(*q, w, false);
    state.ResumeTiming();
    const int64_t t0 = thread_cpu_ns();
    double owed = 0;
    for (int64_t now = k_start; now <= k_start + 60'000; ++now) {
      ops += q->expire(now, [](uint32_t id, int64_t) { benchmark::DoNotOptimize(id); });
      owed += 9 * expiries_per_ms;
      while (owed >= 1) {  // the whole expiries owed by now; the fraction carries over
        owed -= 1;
        const auto id = static_cast<uint32_t>(rng() % n);
        q->cancel(id);
        q->schedule_recurring(id, now + w.interval[id], w.interval[id]);
        ++ops;
      }
    }
    seconds += static_cast<double>(thread_cpu_ns() - t0) * 1e-9;
  }
  state.counters["ns_per_op"] = seconds * 1e9 / static_cast<double>(ops);
}

// Each baseline's CPU time over the wheel's, for every case both ran (same run, same workload).
void print_ratios(const recording_reporter& reporter) {
  std::FILE* out = reporter.table();
  std::fprintf(out, "\nratio = baseline CPU time / wheel CPU time (same run, same workload)\n");
  std::fprintf(out, "%-34s %12s %12s\n", "case", "heap/wheel", "multimap/wheel");
  const auto& runs = reporter.runs();
  for (const auto& [name, run] : runs) {
    const auto p = name.find("/wheel/");
    const double t = run.GetAdjustedCPUTime();
    if (p == std::string::npos || t <= 0) continue;
    const std::string base = name.substr(0, p), rest = name.substr(p + 7);
    auto ratio = [&](const char* impl) {
      const auto it = runs.find(base + "/" + impl + "/" + rest);
      return it == runs.end() ? 0.0 : it->second.GetAdjustedCPUTime() / t;
    };
    std::fprintf(out, "%-34s %11.1fx %13.1fx\n", (base + "/" + rest).c_str(), ratio("heap"),
                 ratio("multimap"));
  }
}

void register_all() {
  using fn = void (*)(benchmark::State&, factory);
  struct bench_case {
    const char* name;
    fn body;
    std::vector<int64_t> sizes;
  };
  const std::vector<bench_case> cases{
      {"Schedule", BM_Schedule, {1000, 100'000, 1'000'000}},
      {"Cancel", BM_Cancel, {1000, 100'000, 1'000'000}},
      {"Reschedule", BM_Reschedule, {1000, 100'000, 1'000'000}},
      {"Expire", BM_Expire, {1000, 100'000, 1'000'000}},
      {"Recurring", BM_Recurring, {1000, 100'000, 1'000'000}},
      {"RecurringManual", BM_RecurringManual, {1'000'000}},
      {"RecurringTail", BM_RecurringTail, {1'000'000}},
      {"IdleAdvance", BM_IdleAdvance, {1000, 1'000'000}},
      {"Churn", BM_Churn, {100'000}},
      {"Aligned", BM_Aligned, {100'000}},
  };
  for (const bench_case& c : cases) {
    for (const impl& im : k_impls) {
      for (const int64_t n : c.sizes) {
        const std::string name = std::string("BM_") + c.name + "/" + im.name;  // + "/<N>"
        auto* b = benchmark::RegisterBenchmark(name.c_str(), c.body, im.make);
        b->Arg(n)->Unit(benchmark::kMillisecond);
        // Fixed iterations keep the whole binary bounded; the big cases run once.
        b->Iterations(n >= 1'000'000 ? 1 : n >= 100'000 ? 3 : 20);
      }
    }
  }
}

}  // namespace
}  // namespace isitup::bench

int main(int argc, char** argv) {
  return isitup::bench::run_benchmarks(argc, argv, isitup::bench::print_ratios,
                                       isitup::bench::register_all);
}
