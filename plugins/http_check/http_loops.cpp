// `loops: 0`: how many of a plugin instance's loops run its checks, adapted to the machine.
// Each loop measures its own load over windows of ~100 ms; member 0 decides the count.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "http_engine_internal.hpp"

namespace isitup::http {

namespace {

constexpr double window_ms = 100.0;
constexpr auto hold_between_changes = std::chrono::milliseconds(500);
constexpr double grow_busy = 0.75, grow_waiting = 0.10, shrink_waiting = 0.25, fit_busy = 0.5;

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The calling thread's run time and run-queue wait in ns (/proc/thread-self/schedstat: "run
// wait slices"); false without the file. `fd` is opened on first use (-1: not there).
bool read_schedstat(int& fd, int64_t& run_ns, int64_t& wait_ns) {
  if (fd == -2) fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[128];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = '\0';
  long long run = 0, wait = 0;
  if (std::sscanf(buf, "%lld %lld", &run, &wait) != 2) return false;
  run_ns = run;
  wait_ns = wait;
  return true;
}

}  // namespace

int engine::next_loop_count(int in_use, int most, const std::vector<loop_load>& loads) {
  in_use = std::clamp(in_use, 1, std::max(1, most));
  if (loads.empty()) return in_use;
  double busy = 0;
  bool all_busy = true, none_waits = true, one_waits = false;
  for (const loop_load& l : loads) {
    busy += l.busy;
    all_busy = all_busy && l.busy > grow_busy;
    none_waits = none_waits && l.waiting < grow_waiting;
    one_waits = one_waits || l.waiting > shrink_waiting;
  }
  if (in_use > 1 && (one_waits || busy < fit_busy * (in_use - 1))) return in_use - 1;
  if (in_use < most && all_busy && none_waits) return in_use + 1;
  return in_use;
}

void engine::note_window(clock::time_point now) {
  const double wall = ms_between(window_began_, now);
  if (wall < window_ms) return;
  int64_t run = 0, wait = 0;
  const bool schedstat = read_schedstat(schedstat_fd_, run, wait);
  if (!schedstat) {  // waiting for a CPU: busy wall time without CPU time
    run = thread_cpu_ns();
    wait = 0;
  }
  if (window_cpu_ns_ >= 0) {
    const double busy = std::min(1.0, window_busy_ms_ / wall);
    double waiting = 0;
    if (schedstat) {
      waiting = static_cast<double>(wait - window_wait_ns_) / 1e6 / wall;
    } else if (window_busy_ms_ > 0) {
      const double cpu_ms = static_cast<double>(run - window_cpu_ns_) / 1e6;
      waiting = std::max(0.0, window_busy_ms_ - cpu_ms) / wall;
    }
    load_busy_.store(busy, std::memory_order_relaxed);
    load_waiting_.store(std::clamp(waiting, 0.0, 1.0), std::memory_order_relaxed);
  }
  window_began_ = now;
  window_busy_ms_ = 0;
  window_cpu_ns_ = run;
  window_wait_ns_ = wait;
  if (pool_->most_loops.load(std::memory_order_relaxed) > 0 &&
      pool_->members[0].load(std::memory_order_relaxed) == this)
    adapt_loops(now);
}

void engine::adapt_loops(clock::time_point now) {
  if (now - loops_changed_ < hold_between_changes) return;
  const int most = std::min(pool_->most_loops.load(), pool_->member_count.load());
  const int in_use = pool_->loops.load();
  std::vector<loop_load> loads;
  for (int i = 0; i < in_use && i < most; ++i)
    if (const engine* e = pool_->members[i].load())
      loads.push_back(loop_load{e->load_busy_.load(std::memory_order_relaxed),
                                e->load_waiting_.load(std::memory_order_relaxed)});
  const int next = next_loop_count(in_use, most, loads);
  if (next == in_use) return;
  pool_->loops.store(next, std::memory_order_release);
  loops_changed_ = now;
  host_.log(sdk::level::debug, "http_check: " + std::to_string(next) + " event loops in use (of " +
                                   std::to_string(most) + ")");
}

}  // namespace isitup::http
