// Runs in flight: the context each run of a check carries, the watchdog's deadlines, and the
// count of runs not ended yet. Internal to core (agent.cpp, agent_setup.cpp).
//
// Threads: watch/take_expired/next_deadline/release_all on the scheduler thread only;
// started/ended/wake_on_end/outstanding from any thread (completions come on plugin threads).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace isitup {

struct check_state;

// Shared by the agent and its blocking runs' worker threads: once the agent gave up on runs
// stuck in a plugin (shutdown), `gone` is set under `mu` and a thread that comes back from
// the plugin touches nothing of the agent.
struct run_gate {
  std::mutex mu;
  bool gone = false;
};

// How a run ended; it ends once (the first of the plugin and the watchdog wins).
enum class run_state : int {
  running,        // handed to the plugin (or queued for a worker), no result yet
  completed,      // its result came from the plugin (or the host made one for it)
  ended_by_host,  // the watchdog ended it past its deadline, or shutdown abandoned it
};

// One run of one check, shared by the plugin (until it calls done: the plugin holds a
// completion ticket, not this pointer), the watchdog and, for blocking checks, the worker.
// Each holder has a reference; the last release() frees it.
struct run_ctx {
  static constexpr int refs_async = 2;     // the plugin's ticket and the watchdog's
  static constexpr int refs_blocking = 3;  // and the worker thread's

  void* owner = nullptr;  // agent::impl
  uint32_t check = 0;
  check_state* cstate = nullptr;  // alive while the run is: see check_state::plugin_runs
  int64_t scheduled_ms = 0;
  std::atomic<int64_t> started_ms{0};  // 0 until the plugin is called (blocking: queued)
  std::atomic<run_state> state{run_state::running};
  std::atomic<int> refs{refs_async};
  bool blocking = false;
  void* ticket = nullptr;          // the plugin's done_ctx (completion_tickets)
  std::shared_ptr<run_gate> gate;  // blocking runs
  bool replaced = false;           // a thread took this stuck run's place; under gate->mu

  // Ends a running run as `how`; false when it had ended already.
  bool end(run_state how) {
    run_state expected = run_state::running;
    return state.compare_exchange_strong(expected, how);
  }
  void release() {
    if (refs.fetch_sub(1) == 1) delete this;
  }
};

class run_tracker {
 public:
  run_tracker() = default;
  run_tracker(const run_tracker&) = delete;
  run_tracker& operator=(const run_tracker&) = delete;

  // The watchdog keeps `run` (and one of its references) until deadline_ms. A run that
  // completes earlier stays watched (its entry is dropped when due); no allocation per run
  // once the watch has grown to the runs of one timeout.
  void watch(run_ctx* run, int64_t deadline_ms);
  // The watched run with the earliest deadline at or before now_ms, taken off the watch (its
  // reference passes to the caller); null when none is due.
  run_ctx* take_expired(int64_t now_ms);
  // The earliest deadline watched, if any.
  std::optional<int64_t> next_deadline() const;
  // Drops every watched run's reference (shutdown, after the last completion could come).
  void release_all();

  // A run was started (counted until ended()).
  void started();
  // A run ended; true when a thread waits for runs to end (the caller then wakes it).
  bool ended();
  // From now on ended() says to wake: a thread waits for runs to end (run_once, shutdown).
  // While the agent schedules, a wake per completion would be pure cost.
  void wake_on_end();
  int outstanding() const;

 private:
  struct watched {
    int64_t deadline_ms;
    run_ctx* run;
    bool operator>(const watched& o) const { return deadline_ms > o.deadline_ms; }
  };
  // A run's deadline is its start plus its timeout, so with one timeout for all checks the
  // deadlines come in order: those not earlier than the last one in `in_order_` join it (a
  // ring: a push and a take are O(1) and touch one entry; a heap's take walks its height
  // through ~20 MB/s of entries), the others go to `out_of_order_`, a binary min-heap
  // (std::push_heap/pop_heap with greater). take_expired takes the earlier of the two heads.
  // Scheduler thread only.
  struct ring {
    std::vector<watched> slots;  // capacity: a power of two (or empty)
    std::size_t head = 0, size = 0;
    bool empty() const { return size == 0; }
    const watched& front() const { return slots[head]; }
    const watched& back() const { return slots[(head + size - 1) & (slots.size() - 1)]; }
    void push(const watched& w);
    void pop() {
      head = (head + 1) & (slots.size() - 1);
      --size;
    }
  };
  ring in_order_;
  std::vector<watched> out_of_order_;
  // Which of the two holds the earliest deadline (at least one is not empty).
  bool earliest_in_order() const;

  // Counted on any thread: a relaxed add per start and per end, no lock on the hot path.
  std::atomic<int> outstanding_{0};
  std::atomic<bool> wake_on_end_{false};
};

}  // namespace isitup
