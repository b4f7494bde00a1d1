#include <isitup/core/scheduler.hpp>

#include <bit>
#include <chrono>
#include <stdexcept>
#include <utility>

namespace isitup {
namespace {

int64_t to_ms(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// a mod b in [0, b) for b > 0, also for negative a.
int64_t floor_mod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// Where an id's entry lives: segment s holds ids [64 * (2^s - 1), 64 * (2^(s+1) - 1)).
constexpr uint64_t k_first_segment_size = 64;
struct entry_pos {
  std::size_t segment;
  uint64_t offset;
};
entry_pos locate(uint32_t id) {
  const uint64_t q = id / k_first_segment_size + 1;  // >= 1
  return {static_cast<std::size_t>(std::bit_width(q)) - 1,
          id - k_first_segment_size * (std::bit_floor(q) - 1)};
}

}  // namespace

monotonic_clock::monotonic_clock()
    : epoch_at_start_ms_(to_ms(std::chrono::system_clock::now().time_since_epoch())),
      steady_at_start_ms_(to_ms(std::chrono::steady_clock::now().time_since_epoch())) {}

int64_t monotonic_clock::now_ms() const {
  const int64_t steady_ms = to_ms(std::chrono::steady_clock::now().time_since_epoch());
  return epoch_at_start_ms_ + (steady_ms - steady_at_start_ms_);
}

int64_t splay_offset(std::string_view name, int64_t interval_ms) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  // fmix64: FNV-1a alone leaves the low bits of similar names (web-1, web-2, ...) correlated.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<int64_t>(h % static_cast<uint64_t>(interval_ms));
}

// The interval is not here: the timer_queue keeps it beside the timer and re-arms the check
// itself, so an expiry reads only the queue's storage and this one byte.
struct scheduler::entry {
  std::atomic<bool> in_flight{false};  // set on the scheduler thread, cleared by finished()
};

scheduler::scheduler(std::unique_ptr<timer_queue> timers, int max_in_flight)
    : timers_(std::move(timers)), max_in_flight_(max_in_flight) {
  if (!timers_) throw std::invalid_argument("scheduler: null timer_queue");
  if (max_in_flight < 1) throw std::invalid_argument("scheduler: max_in_flight must be >= 1");
}

scheduler::~scheduler() {
  for (auto& segment : segments_) delete[] segment.load(std::memory_order_relaxed);
}

scheduler::entry* scheduler::find(uint32_t id) const {
  const entry_pos pos = locate(id);
  if (pos.segment >= k_segments) return nullptr;
  entry* segment = segments_[pos.segment].load(std::memory_order_acquire);
  return segment == nullptr ? nullptr : &segment[pos.offset];
}

uint32_t scheduler::add(std::string_view name, int64_t interval_ms, int64_t now_ms) {
  if (interval_ms < 1) throw std::invalid_argument("scheduler: interval must be >= 1 ms");
  const uint32_t id = size_;
  entry* e = find(id);
  if (e == nullptr) {  // `id` is the first of a new segment
    const std::size_t s = locate(id).segment;
    if (s >= k_segments || size_ == UINT32_MAX) {
      throw std::length_error("scheduler: too many checks");
    }
    e = new entry[k_first_segment_size << s];
    segments_[s].store(e, std::memory_order_release);
  }
  // The last instant <= now_ms on the check's phase, then one interval on: strictly > now_ms.
  const int64_t on_phase =
      now_ms - floor_mod(now_ms - splay_offset(name, interval_ms), interval_ms);
  timers_->schedule_recurring(id, on_phase + interval_ms, interval_ms);
  ++size_;
  return id;
}

void scheduler::remove(uint32_t id) {
  if (id < size_) timers_->cancel(id);
}

void scheduler::run_due(int64_t now_ms, const fire_fn& fire) {
  // The queue re-arms each due check at its next grid point after now_ms before calling back
  // (so fire() may remove the check, its own id included), hands over the latest grid point
  // <= now_ms, and counts the grid points before it as missed: lost, not queued up.
  const uint64_t missed_before = timers_->missed_periods();
  struct count_missed {  // also when fire() throws
    scheduler& s;
    uint64_t before;
    ~count_missed() { s.stats_.skipped_late += s.timers_->missed_periods() - before; }
  } counter{*this, missed_before};
  timers_->expire(now_ms, [&](uint32_t id, int64_t scheduled_ms) {
    entry& e = *find(id);
    if (e.in_flight.load(std::memory_order_acquire)) {
      ++stats_.skipped_busy;
      return;
    }
    if (in_flight() >= max_in_flight_) {
      ++stats_.skipped_capacity;
      return;
    }
    // Count before flagging: a finished() that sees the flag always has something to decrement.
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    e.in_flight.store(true, std::memory_order_release);
    ++stats_.fired;
    fire(id, scheduled_ms);
  });
}

std::optional<int64_t> scheduler::next_due() const { return timers_->next_due(); }

void scheduler::finished(uint32_t id) {
  entry* e = find(id);
  if (e != nullptr && e->in_flight.exchange(false, std::memory_order_acq_rel)) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
  }
}

scheduler_stats scheduler::stats() const { return stats_; }

}  // namespace isitup
