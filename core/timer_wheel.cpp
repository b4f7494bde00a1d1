#include "timer_wheel.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

namespace isitup {
namespace {

constexpr int k_block_bits = 16;
constexpr int64_t k_block_ms = int64_t{1} << k_block_bits;          // 65.5 s
constexpr std::size_t k_l0_slots = std::size_t{2} << k_block_bits;  // 1 ms each: blocks B, B+1
constexpr std::size_t k_l1_slots = std::size_t{1} << k_block_bits;  // 1 block each
constexpr uint32_t k_nil = UINT32_MAX;

int64_t block_of(int64_t t) { return t >> k_block_bits; }  // floor division, also below 0
int64_t block_start(int64_t block) { return block * k_block_ms; }
std::size_t l0_index(int64_t due) { return static_cast<uint64_t>(due) & (k_l0_slots - 1); }
std::size_t l1_index(int64_t due) {
  return static_cast<uint64_t>(block_of(due)) & (k_l1_slots - 1);
}

// One bit per slot, plus a summary bit per 64-bit word, so finding the next busy slot past a
// long empty stretch reads a few words.
template <std::size_t Bits>
class occupancy {
 public:
  void set(std::size_t i) {
    words_[i / 64] |= bit(i);
    summary_[i / 4096] |= bit(i / 64);
  }
  void clear(std::size_t i) {
    words_[i / 64] &= ~bit(i);
    if (words_[i / 64] == 0) summary_[i / 4096] &= ~bit(i / 64);
  }
  // The first set index in [from, to), or `to` if none. Precondition: to <= Bits.
  std::size_t find(std::size_t from, std::size_t to) const {
    if (from >= to) return to;
    std::size_t w = from / 64;
    uint64_t m = words_[w] & (~uint64_t{0} << (from % 64));
    if (m == 0) {
      std::size_t next = w + 1;  // the next word that may hold a bit
      w = k_words;
      while (next < k_words && next * 64 < to) {
        const std::size_t s = next / 64;
        const uint64_t sm = summary_[s] & (~uint64_t{0} << (next % 64));
        if (sm != 0) {
          w = s * 64 + static_cast<std::size_t>(std::countr_zero(sm));
          break;
        }
        next = (s + 1) * 64;
      }
      if (w == k_words) return to;
      m = words_[w];
    }
    const std::size_t r = w * 64 + static_cast<std::size_t>(std::countr_zero(m));
    return r < to ? r : to;
  }

 private:
  static constexpr std::size_t k_words = Bits / 64;
  static uint64_t bit(std::size_t i) { return uint64_t{1} << (i % 64); }
  std::array<uint64_t, k_words> words_{};
  std::array<uint64_t, (k_words + 63) / 64> summary_{};
};

// Where a timer is (kept in a byte array beside the nodes, so a node is 16 bytes). A level-1
// slot has two lists, drained in this order: `moved` (timers that came in from beyond level 1,
// all armed before any timer armed directly into the slot) and `direct`.
enum class where : uint8_t { none, l0, l1_moved, l1_direct, past, far };

// Level-0 slots hold ids in chunks of 15 from a shared pool (a chunk is one cache line), so
// memory follows the number of armed timers, not every slot's busiest moment, and expiring a
// slot reads its ids sequentially instead of chasing list links.
struct chunk {
  std::array<uint32_t, 15> ids;
  uint32_t next;  // the slot's next chunk, or the free list's
};
static_assert(sizeof(chunk) == 64);
constexpr uint32_t k_chunk_ids = 15;
constexpr std::size_t k_chunks_per_block = 4096;  // the pool grows 256 KB at a time

struct slot_ids {
  uint32_t first = k_nil;
  uint32_t last = k_nil;
  uint32_t size = 0;  // entries appended since the slot was last emptied, tombstones included
};

struct node {
  int64_t due = 0;
  // Level 0: where its id is in the chunk pool (chunk * 16 + index). Level 1: list links (k_nil at
  // the ends). past_ and far_: the arming sequence number.
  uint32_t next = 0;
  uint32_t prev = 0;
};
static_assert(sizeof(node) == 16);

// A slot's list: both ends, so appending touches only the old tail.
struct list {
  uint32_t head = k_nil;
  uint32_t tail = k_nil;
};

class timer_wheel final : public timer_queue {
 public:
  explicit timer_wheel(int64_t start_ms)
      : pos_(start_ms),
        slots0_(k_l0_slots),
        live0_(k_l0_slots, 0),
        lists1_(2 * k_l1_slots),
        l1_count_(k_l1_slots, 0) {
    enter_block();
  }

  void schedule(uint32_t id, int64_t due_ms) override {
    node_for(id);
    assert(at_[id] == where::none && "schedule() of an armed timer; use reschedule()");
    detach(id);
    rewind_if_idle(due_ms);
    place(id, due_ms, false);
  }

  bool cancel(uint32_t id) override {
    if (id >= nodes_.size() || at_[id] == where::none) return false;
    detach(id);
    return true;
  }

  void reschedule(uint32_t id, int64_t due_ms) override {
    node_for(id);
    detach(id);
    rewind_if_idle(due_ms);
    place(id, due_ms, false);
  }

  bool armed(uint32_t id) const override { return id < nodes_.size() && at_[id] != where::none; }

  std::size_t expire(int64_t now_ms, const expire_fn& fn) override {
    struct expiring {
      bool& flag;
      ~expiring() { flag = false; }
    } guard{in_expire_};
    in_expire_ = true;
    std::size_t n = 0;
    for (;;) {
      n += expire_past(now_ms, fn);
      if (pos_ > now_ms) break;
      if (size_ == past_.size()) {  // nothing ahead: skip straight to now
        set_pos(now_ms + 1);
        break;
      }
      const int64_t block_end = block_start(block_of(pos_) + 1);
      const int64_t last = std::min(now_ms, block_end - 1);
      const std::size_t from = l0_index(pos_);
      const std::size_t to = from + static_cast<std::size_t>(last - pos_) + 1;
      const std::size_t busy = occ0_.find(from, to);
      if (busy < to) {
        const int64_t t = pos_ + static_cast<int64_t>(busy - from);
        migrate_to(t);
        pos_ = t;
        n += drain(busy, now_ms, fn);
        set_pos(t + 1);
        continue;
      }
      migrate_to(last);
      if (last < block_end - 1) {
        pos_ = last + 1;
        break;
      }
      set_pos(next_busy_block_start(now_ms));
    }
    return n;
  }

  std::optional<int64_t> next_due() const override {
    if (!past_.empty()) return std::get<0>(*past_.begin());
    const int64_t b = block_of(pos_);
    if (count0_ > 0) {
      const std::size_t from = l0_index(pos_);
      const std::size_t to = from + static_cast<std::size_t>(block_start(b + 1) - pos_);
      const std::size_t busy = occ0_.find(from, to);
      if (busy < to) return pos_ + static_cast<int64_t>(busy - from);
    }
    // Block B+1: its half of level 0 and what is not yet moved down from its level-1 slot.
    std::optional<int64_t> best;
    if (count0_ > 0) {
      const std::size_t from = l0_index(block_start(b + 1));
      const std::size_t to = from + k_block_ms;
      const std::size_t busy = occ0_.find(from, to);
      if (busy < to) best = block_start(b + 1) + static_cast<int64_t>(busy - from);
    }
    if (count1_ == 0) {
      if (best) return best;
      if (!far_.empty()) return std::get<0>(*far_.begin());
      return std::nullopt;
    }
    const std::size_t next_slot = l1_index(block_start(b + 1));
    if (l1_count_[next_slot] > 0) {
      const int64_t d = earliest_in_l1(next_slot);
      best = best ? std::min(*best, d) : d;
    }
    if (best) return best;
    return earliest_in_l1(next_busy_l1(b + 2));
  }

  std::size_t size() const override { return size_; }

 private:
  using ordered = std::set<std::tuple<int64_t, uint64_t, uint32_t>>;  // (due, seq, id)

  void node_for(uint32_t id) {
    if (id >= nodes_.size()) {
      nodes_.resize(std::size_t{id} + 1);
      at_.resize(std::size_t{id} + 1, where::none);
    }
  }

  list& list_of(where at, int64_t due) {
    assert(at == where::l1_moved || at == where::l1_direct);
    return lists1_[2 * l1_index(due) + (at == where::l1_direct ? 1 : 0)];
  }

  void push_back(list& l, uint32_t id) {
    node& n = nodes_[id];
    n.next = k_nil;
    n.prev = l.tail;
    if (l.tail == k_nil) {
      l.head = id;
    } else {
      nodes_[l.tail].next = id;
    }
    l.tail = id;
  }

  void unlink(list& l, uint32_t id) {
    const node& n = nodes_[id];
    if (n.prev == k_nil) {
      l.head = n.next;
    } else {
      nodes_[n.prev].next = n.next;
    }
    if (n.next == k_nil) {
      l.tail = n.prev;
    } else {
      nodes_[n.next].prev = n.prev;
    }
  }

  void insert_ordered(ordered& set, uint32_t id, where at) {
    node& n = nodes_[id];
    const uint64_t seq = next_seq_++;
    n.next = static_cast<uint32_t>(seq >> 32);
    n.prev = static_cast<uint32_t>(seq);
    at_[id] = at;
    set.emplace(n.due, seq, id);
  }

  static std::tuple<int64_t, uint64_t, uint32_t> key_of(const node& n, uint32_t id) {
    return {n.due, (uint64_t{n.next} << 32) | n.prev, id};
  }

  // Arms `id` (not armed) at due_ms in the level that covers it. `moved`: it comes down from
  // a coarser level (all such timers were armed before any timer armed directly for the same
  // slot). A direct timer for block B+1 waits in level 1 behind the ones still moving down,
  // so that every level-0 slot fills in arming order.
  void place(uint32_t id, int64_t due_ms, bool moved) {
    node& n = nodes_[id];
    n.due = due_ms;
    ++size_;
    const int64_t b = block_of(due_ms);
    const int64_t pb = block_of(pos_);
    if (due_ms < pos_) {
      insert_ordered(past_, id, where::past);
    } else if (b < pb + 1 || (b == pb + 1 && (moved || l1_count_[moving_slot_] == 0))) {
      const std::size_t i = l0_index(due_ms);
      at_[id] = where::l0;
      n.next = append(slots0_[i], id);
      if (live0_[i]++ == 0) occ0_.set(i);
      ++count0_;
    } else if (b < pb + static_cast<int64_t>(k_l1_slots)) {
      at_[id] = moved ? where::l1_moved : where::l1_direct;
      push_back(list_of(at_[id], due_ms), id);
      const std::size_t i = l1_index(due_ms);
      occ1_.set(i);
      ++l1_count_[i];
      ++count1_;
    } else {
      insert_ordered(far_, id, where::far);
    }
  }

  // Disarms `id` (no-op if not armed).
  void detach(uint32_t id) {
    node& n = nodes_[id];
    switch (at_[id]) {
      case where::none:
        return;
      case where::l0: {
        const std::size_t i = l0_index(n.due);
        chunk_at(n.next / 16).ids[n.next % 16] = k_nil;  // a tombstone, skipped on expiry
        if (--live0_[i] == 0) {
          occ0_.clear(i);
          if (i != draining_) release(slots0_[i]);
        }
        --count0_;
        break;
      }
      case where::l1_moved:
      case where::l1_direct: {
        unlink(list_of(at_[id], n.due), id);
        const std::size_t i = l1_index(n.due);
        if (--l1_count_[i] == 0) occ1_.clear(i);
        --count1_;
        break;
      }
      case where::past:
        past_.erase(key_of(n, id));
        break;
      case where::far:
        far_.erase(key_of(n, id));
        break;
    }
    at_[id] = where::none;
    --size_;
  }

  // Outside expire(), a timer armed before the wheel's position moves the position back when
  // that is free: an empty wheel, or within the current block. Otherwise it goes to `past_`.
  void rewind_if_idle(int64_t due_ms) {
    if (in_expire_ || due_ms >= pos_) return;
    if (size_ == 0) {
      pos_ = due_ms;
      enter_block();
    } else if (past_.empty() && block_of(due_ms) == block_of(pos_)) {
      pos_ = due_ms;
    }
  }

  void set_pos(int64_t p) {
    if (block_of(p) == block_of(pos_)) {
      pos_ = p;
      return;
    }
    migrate_to(block_start(block_of(pos_) + 1) - 1);  // whatever fn armed after the last step
    pos_ = p;
    enter_block();
  }

  // The position entered block B: far timers within level 1's reach come in (into level 0 if
  // already in B+1), and the level-1 slot of B+1 starts moving down.
  void enter_block() {
    const int64_t pb = block_of(pos_);
    while (!far_.empty() &&
           block_of(std::get<0>(*far_.begin())) < pb + static_cast<int64_t>(k_l1_slots)) {
      const auto [due, seq, id] = *far_.begin();
      far_.erase(far_.begin());
      at_[id] = where::none;
      --size_;
      place(id, due, true);
    }
    moving_slot_ = l1_index(block_start(pb + 1));
    moving_total_ = l1_count_[moving_slot_];
  }

  // Moves the level-1 slot of B+1 down in proportion to t's progress through block B: all of
  // it by B's last tick, about moving_total_ / 65536 timers per tick before that.
  void migrate_to(int64_t t) {
    const uint64_t ticks_left = static_cast<uint64_t>(block_start(block_of(t) + 1) - 1 - t);
    const uint64_t allowed = moving_total_ * ticks_left / k_block_ms;
    const list& moved = lists1_[2 * moving_slot_];
    const list& direct = lists1_[2 * moving_slot_ + 1];
    while (l1_count_[moving_slot_] > allowed) {
      const uint32_t id = moved.head != k_nil ? moved.head : direct.head;
      const int64_t due = nodes_[id].due;
      detach(id);
      place(id, due, true);
    }
  }

  // The first level-1 slot holding timers, searching in time order from block `from_block`.
  // Precondition: count1_ > 0.
  std::size_t next_busy_l1(int64_t from_block) const {
    const std::size_t start = l1_index(block_start(from_block));
    const std::size_t busy = occ1_.find(start, k_l1_slots);
    return busy < k_l1_slots ? busy : occ1_.find(0, start);
  }

  int64_t earliest_in_l1(std::size_t slot) const {
    int64_t best = INT64_MAX;
    for (const list& l : {lists1_[2 * slot], lists1_[2 * slot + 1]}) {
      for (uint32_t id = l.head; id != k_nil; id = nodes_[id].next) {
        best = std::min(best, nodes_[id].due);
      }
    }
    return best;
  }

  // Block B is done (the level-1 slot of B+1 fully moved down). Where to go next: B+1 if
  // level 0 holds anything, else the block before the next busy level-1 slot or far timer,
  // but never past now_ms + 1.
  int64_t next_busy_block_start(int64_t now_ms) const {
    const int64_t next = block_of(pos_) + 1;
    int64_t target = block_of(now_ms + 1);
    if (count0_ > 0) return block_start(next);
    if (count1_ > 0) {
      const std::size_t start = l1_index(block_start(next + 1));
      const std::size_t busy = next_busy_l1(next + 1);
      const int64_t d = next + 1 + static_cast<int64_t>((busy - start) & (k_l1_slots - 1));
      target = std::min(target, d - 1);
    }
    if (!far_.empty()) target = std::min(target, block_of(std::get<0>(*far_.begin())) - 1);
    target = std::max(target, next);
    return std::max(block_start(target), block_start(next));
  }

  std::size_t expire_past(int64_t now_ms, const expire_fn& fn) {
    std::size_t n = 0;
    while (!past_.empty() && std::get<0>(*past_.begin()) <= now_ms) {
      const auto [due, seq, id] = *past_.begin();
      past_.erase(past_.begin());
      at_[id] = where::none;
      --size_;
      ++n;
      fn(id, due);
    }
    return n;
  }

  // Expires level-0 slot `slot` (the tick pos_) in arming order. fn may append to it (a timer
  // armed for this very tick: it expires in this call too), cancel entries further on, or arm
  // timers in the past, which go first. Each entry is replaced by a tombstone before fn runs,
  // so an exception from fn leaves the slot consistent.
  std::size_t drain(std::size_t slot, int64_t now_ms, const expire_fn& fn) {
    constexpr uint32_t k_prefetch = 6;
    slot_ids& ids = slots0_[slot];
    struct draining {
      std::size_t& slot;
      ~draining() { slot = k_not_draining; }  // also when fn throws
    } guard{draining_};
    draining_ = slot;
    std::size_t n = 0;
    uint32_t c = ids.first;
    uint32_t at = 0;  // index in chunk c
    for (uint32_t seen = 0;;) {
      if (!past_.empty()) n += expire_past(now_ms, fn);
      if (seen == ids.size) {
        if (past_.empty()) break;
        continue;
      }
      if (c == k_nil) c = ids.first;  // the slot was empty when the drain began
      if (at == k_chunk_ids) {
        c = chunk_at(c).next;
        at = 0;
      }
      chunk& ch = chunk_at(c);
      if (at + k_prefetch < k_chunk_ids && seen + k_prefetch < ids.size) {
        const uint32_t ahead = ch.ids[at + k_prefetch];
        if (ahead != k_nil) __builtin_prefetch(&nodes_[ahead], 1);
      }
      const uint32_t id = ch.ids[at];
      ch.ids[at] = k_nil;
      ++at;
      ++seen;
      if (id == k_nil) continue;
      at_[id] = where::none;
      --live0_[slot];
      --count0_;
      --size_;
      ++n;
      fn(id, pos_);
    }
    assert(live0_[slot] == 0);
    release(ids);
    occ0_.clear(slot);
    return n;
  }

  chunk& chunk_at(uint32_t c) {
    return chunk_blocks_[c / k_chunks_per_block][c % k_chunks_per_block];
  }

  // Appends id to a level-0 slot; returns where it went (chunk * 16 + index).
  uint32_t append(slot_ids& ids, uint32_t id) {
    const uint32_t at = ids.size % k_chunk_ids;
    if (at == 0) {
      uint32_t c = free_chunk_;
      if (c != k_nil) {
        free_chunk_ = chunk_at(c).next;
      } else {
        if (chunks_ % k_chunks_per_block == 0) {
          chunk_blocks_.push_back(std::make_unique_for_overwrite<chunk[]>(k_chunks_per_block));
        }
        c = static_cast<uint32_t>(chunks_++);
      }
      chunk_at(c).next = k_nil;
      if (ids.last == k_nil) {
        ids.first = c;
      } else {
        chunk_at(ids.last).next = c;
      }
      ids.last = c;
    }
    chunk_at(ids.last).ids[at] = id;
    ++ids.size;
    return ids.last * 16 + at;
  }

  // Empties a level-0 slot, its chunks back to the free list.
  void release(slot_ids& ids) {
    if (ids.first != k_nil) {
      chunk_at(ids.last).next = free_chunk_;
      free_chunk_ = ids.first;
    }
    ids = slot_ids{};
  }

  int64_t pos_;  // the next tick to process: every timer due before it has expired or is in past_
  std::vector<node> nodes_;
  std::vector<where> at_;         // per id, beside nodes_
  std::vector<slot_ids> slots0_;  // ids in arming order (k_nil: cancelled), in chunks
  std::vector<std::unique_ptr<chunk[]>> chunk_blocks_;
  std::size_t chunks_ = 0;  // chunks ever made
  uint32_t free_chunk_ = k_nil;
  std::vector<uint32_t> live0_;     // armed timers per level-0 slot
  std::vector<list> lists1_;        // same layout
  std::vector<uint32_t> l1_count_;  // timers per level-1 slot
  occupancy<k_l0_slots> occ0_;
  occupancy<k_l1_slots> occ1_;
  ordered past_;  // due before pos_: armed in the past, or from inside expire()
  ordered far_;   // beyond level 1
  std::size_t size_ = 0;
  std::size_t count0_ = 0;
  static constexpr std::size_t k_not_draining = SIZE_MAX;
  std::size_t draining_ = k_not_draining;  // the level-0 slot drain() is expiring
  std::size_t count1_ = 0;
  std::size_t moving_slot_ = 0;  // the level-1 slot of block B+1
  uint64_t moving_total_ = 0;    // its size when B began
  uint64_t next_seq_ = 0;
  bool in_expire_ = false;
};

}  // namespace

std::unique_ptr<timer_queue> make_timer_wheel(int64_t start_ms) {
  return std::make_unique<timer_wheel>(start_ms);
}

}  // namespace isitup
