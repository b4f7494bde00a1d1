// CPU time as the benchmarks count it: this process, the calling thread, or another process
// (an agent or server the benchmark started) read from /proc. Seconds, user + system.
// Thread-safe (each call reads the kernel's counters afresh).
#pragma once

#include <sys/types.h>

namespace isitup::bench {

struct cpu_time {
  double user = 0, sys = 0;
  double total() const { return user + sys; }
};

// This process, every thread (getrusage RUSAGE_SELF).
double process_cpu_seconds();
// The calling thread only (CLOCK_THREAD_CPUTIME_ID): not inflated when it waits for a core.
double thread_cpu_seconds();
// Another process so far, from /proc/<pid>/stat; zero when it is gone.
cpu_time process_cpu(pid_t pid);
// One thread of another process, from /proc/<pid>/task/<tid>/stat; zero when it is gone.
cpu_time thread_cpu(pid_t pid, pid_t tid);

}  // namespace isitup::bench
