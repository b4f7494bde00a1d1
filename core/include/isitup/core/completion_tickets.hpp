// Completion tickets: what a plugin receives as done_ctx instead of a pointer to host state.
//
// A completion (isitup_check_done_fn, isitup_batch_done_fn) is the plugin's to call exactly
// once, but a careless plugin calls it twice, or long after the host gave up on the run. With
// a pointer, that second call reads freed memory. A ticket is a slot index plus the slot's
// generation, packed into the void*: redeem() hands out the host's state once and moves the
// slot to the next generation, so every later call with the same ticket finds a generation
// that no longer matches and is refused, whatever happened to the slot since.
//
// Process-wide (a completion function has no other way back to its host), bounded (at most
// max_tickets outstanding; issue() refuses beyond that), and never frees a slot's memory, so
// any ticket value, even a forged one, is safe to redeem.
//
// Threads: every member may be called from any thread. issue() and redeem() take a short
// lock for the free list; redeem()'s check is lock-free.
#pragma once

#include <isitup/util/log_limit.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>

namespace isitup {

class completion_tickets {
 public:
  static constexpr uint32_t chunk_size = 4096;
  static constexpr uint32_t max_chunks = 1024;
  static constexpr uint32_t max_tickets = chunk_size * max_chunks;

  // The one registry of the process.
  static completion_tickets& instance();

  // A ticket for `state` (non-null); nullptr when max_tickets are outstanding. `owner` names
  // who the ticket was issued for (a string with static storage duration, see intern()): it
  // is what redeem() reports for a ticket redeemed again soon after.
  void* issue(void* state, const char* owner);

  struct redeemed {
    void* state = nullptr;        // the issued state, exactly once per ticket; else null
    const char* owner = nullptr;  // on refusal: who the ticket was issued for, when known
  };
  redeemed redeem(void* ticket);

  // A copy of `name` with static storage duration; the same pointer for the same name.
  static const char* intern(std::string_view name);

  // Counts a refused redeem() (a completion called twice, or after the host ended its run)
  // and logs it, at most once a second for the whole process with the number so far.
  void refused(const redeemed& r);
  uint64_t refused_count() const { return refused_.load(std::memory_order_relaxed); }

  std::size_t outstanding() const;

 private:
  struct slot {
    // generation << 1 | 1 while a ticket is outstanding; generation << 1 when free.
    std::atomic<uint64_t> word{2};
    std::atomic<void*> state{nullptr};
    std::atomic<const char*> owner{nullptr};
  };

  slot* find(uint32_t index) const;
  void give_back(uint32_t index);

  std::array<std::atomic<slot*>, max_chunks> chunks_{};
  mutable std::mutex mu_;
  std::deque<uint32_t> free_;  // first in, first out: a slot is reused as late as possible
  uint32_t fresh_ = 0;         // slots [0, fresh_) exist
  std::size_t outstanding_ = 0;
  std::atomic<uint64_t> refused_{0};
  sdk::rate_gate refused_log_gate_{1000};
};

}  // namespace isitup
