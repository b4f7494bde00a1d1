#include <isitup/core/timer_wheel.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "timer_wheel_slots.hpp"

namespace isitup {
namespace {

using namespace wheel_detail;  // NOLINT(google-build-using-namespace): this file's own parts

constexpr int k_block_bits = 16;
constexpr int64_t k_block_ms = int64_t{1} << k_block_bits;          // 65.5 s
constexpr std::size_t k_l0_slots = std::size_t{2} << k_block_bits;  // 1 ms each: blocks B, B+1
constexpr std::size_t k_l1_slots = std::size_t{1} << k_block_bits;  // 1 block each

int64_t block_of(int64_t t) { return t >> k_block_bits; }  // floor division, also below 0
int64_t block_start(int64_t block) { return block * k_block_ms; }
std::size_t l0_index(int64_t due) { return static_cast<uint64_t>(due) & (k_l0_slots - 1); }
std::size_t l1_index(int64_t due) {
  return static_cast<uint64_t>(block_of(due)) & (k_l1_slots - 1);
}

// Where a timer is (3 bits of its node). A level-1 slot has two lists, drained in this order:
// `moved` (timers that came in from beyond level 1, all armed before any timer armed directly
// into the slot) and `direct`.
enum class where : uint8_t { none, l0, l1_moved, l1_direct, past, far };

// A recurring timer's interval in the node: up to 6.2 days (2^29 - 2 ms) inline; longer
// ones (any int64) are looked up in a side table, off the hot path.
constexpr uint32_t k_one_shot = 0;
constexpr uint32_t k_long_interval = (uint32_t{1} << 29) - 1;

// 16 bytes, four to a cache line: everything an expiry reads or writes about the timer, one
// prefetched miss. (A level-1 list's back links live in prev_, off that path.)
struct node {
  int64_t due_ = 0;
  // Level 0: where its id is in the chunk pool (chunk * 16 + index). Level 1: the next timer in
  // its list (k_nil at the end). past_ and far_: the high half of the arming sequence number.
  uint32_t next = 0;
  uint32_t interval : 29 = k_one_shot;  // ms, or k_long_interval
  uint32_t at_bits : 3 = 0;             // a `where`

  where at() const { return static_cast<where>(at_bits); }
  void set_at(where w) { at_bits = static_cast<uint32_t>(w) & 7; }
  int64_t due() const { return due_; }
  void set_due(int64_t d) { due_ = d; }
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
      : pos_(start_ms), slots0_(k_l0_slots), lists1_(2 * k_l1_slots), l1_count_(k_l1_slots, 0) {
    enter_block();
  }

  void schedule(uint32_t id, int64_t due_ms) override {
    node_for(id);
    assert(nodes_[id].at() == where::none && "schedule() of an armed timer; use reschedule()");
    detach(id);
    set_interval(id, 0);
    rewind_if_idle(due_ms);
    place(id, due_ms, false);
  }

  void schedule_recurring(uint32_t id, int64_t first_due_ms, int64_t interval_ms) override {
    if (interval_ms < 1) throw std::invalid_argument("timer_queue: interval must be >= 1 ms");
    node_for(id);
    assert(nodes_[id].at() == where::none && "schedule_recurring() of an armed timer");
    detach(id);
    set_interval(id, interval_ms);
    rewind_if_idle(first_due_ms);
    place(id, first_due_ms, false);
  }

  bool cancel(uint32_t id) override {
    if (id >= nodes_.size() || nodes_[id].at() == where::none) return false;
    detach(id);
    return true;
  }

  void reschedule(uint32_t id, int64_t due_ms) override {
    node_for(id);
    detach(id);
    set_interval(id, 0);
    rewind_if_idle(due_ms);
    place(id, due_ms, false);
  }

  bool armed(uint32_t id) const override {
    return id < nodes_.size() && nodes_[id].at() != where::none;
  }

  std::size_t expire(int64_t now_ms, expire_ref fn) override {
    struct expiring {
      timer_wheel& w;
      ~expiring() {
        w.in_expire_ = false;
        w.most_moved_ = std::max(w.most_moved_, w.moved_);
        w.moved_ = 0;
      }
    } guard{*this};
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
  uint64_t missed_periods() const override { return missed_; }
  uint64_t most_moved() const { return most_moved_; }

 private:
  using ordered = std::set<std::tuple<int64_t, uint64_t, uint32_t>>;  // (due, seq, id)

  void node_for(uint32_t id) {
    if (id >= nodes_.size()) {
      nodes_.resize(std::size_t{id} + 1);
      prev_.resize(std::size_t{id} + 1);
    }
  }

  void set_interval(uint32_t id, int64_t interval_ms) {
    node& n = nodes_[id];
    if (n.interval == k_long_interval) long_intervals_.erase(id);
    if (interval_ms < k_long_interval) {
      n.interval = static_cast<uint32_t>(interval_ms);
    } else {
      n.interval = k_long_interval;
      long_intervals_[id] = interval_ms;
    }
  }
  int64_t interval_of(uint32_t id, const node& n) const {
    return n.interval == k_long_interval ? long_intervals_.at(id) : int64_t{n.interval + 0u};
  }

  // `id` (disarmed, due at due_ms <= now_ms) expires. A recurring timer is re-armed first, at
  // its next grid point after now_ms, and fn gets the latest grid point <= now_ms.
  void fire(uint32_t id, int64_t due_ms, int64_t now_ms, expire_ref fn) {
    const node& n = nodes_[id];
    if (n.interval == k_one_shot) {
      fn(id, due_ms);
      return;
    }
    const recurring_step step = step_recurring(due_ms, interval_of(id, n), now_ms);
    missed_ += step.missed;
    place(id, step.next_ms, false);
    fn(id, step.latest_ms);
  }

  list& list_of(where at, int64_t due) {
    assert(at == where::l1_moved || at == where::l1_direct);
    return lists1_[2 * l1_index(due) + (at == where::l1_direct ? 1 : 0)];
  }

  void push_back(list& l, uint32_t id) {
    node& n = nodes_[id];
    n.next = k_nil;
    prev_[id] = l.tail;
    if (l.tail == k_nil) {
      l.head = id;
    } else {
      nodes_[l.tail].next = id;
    }
    l.tail = id;
  }

  void unlink(list& l, uint32_t id) {
    const node& n = nodes_[id];
    const uint32_t prev = prev_[id];
    if (prev == k_nil) {
      l.head = n.next;
    } else {
      nodes_[prev].next = n.next;
    }
    if (n.next == k_nil) {
      l.tail = prev;
    } else {
      prev_[n.next] = prev;
    }
  }

  void insert_ordered(ordered& set, uint32_t id, where at) {
    node& n = nodes_[id];
    const uint64_t seq = next_seq_++;
    n.next = static_cast<uint32_t>(seq >> 32);
    prev_[id] = static_cast<uint32_t>(seq);
    nodes_[id].set_at(at);
    set.emplace(n.due(), seq, id);
  }

  std::tuple<int64_t, uint64_t, uint32_t> key_of(const node& n, uint32_t id) const {
    return {n.due(), (uint64_t{n.next} << 32) | prev_[id], id};
  }

  // Arms `id` (not armed) at due_ms in the level that covers it. `moved`: it comes down from
  // a coarser level (all such timers were armed before any timer armed directly for the same
  // slot). A direct timer for block B+1 waits in level 1 behind the ones still moving down,
  // so that every level-0 slot fills in arming order.
  void place(uint32_t id, int64_t due_ms, bool moved) {
    node& n = nodes_[id];
    n.set_due(due_ms);
    ++size_;
    const int64_t b = block_of(due_ms);
    const int64_t pb = block_of(pos_);
    if (due_ms < pos_) {
      insert_ordered(past_, id, where::past);
    } else if (b < pb + 1 || (b == pb + 1 && (moved || l1_count_[moving_slot_] == 0))) {
      const std::size_t i = l0_index(due_ms);
      n.set_at(where::l0);
      n.next = pool_.append(slots0_[i], id);
      if (slots0_[i].live++ == 0) occ0_.set(i);
      ++count0_;
    } else if (b < pb + static_cast<int64_t>(k_l1_slots)) {
      put_l1(id, due_ms, moved);
    } else {
      insert_ordered(far_, id, where::far);
      ++far_blocks_[b];
    }
  }

  void put_l1(uint32_t id, int64_t due_ms, bool moved) {
    nodes_[id].set_at(moved ? where::l1_moved : where::l1_direct);
    push_back(list_of(nodes_[id].at(), due_ms), id);
    const std::size_t i = l1_index(due_ms);
    occ1_.set(i);
    ++l1_count_[i];
    ++count1_;
  }

  // Takes the earliest far timer out of far_ (disarmed).
  std::pair<uint32_t, int64_t> pop_far() {
    const auto [due, seq, id] = *far_.begin();
    far_.erase(far_.begin());
    forget_far_block(block_of(due));
    nodes_[id].set_at(where::none);
    --size_;
    return {id, due};
  }
  void forget_far_block(int64_t b) {
    const auto it = far_blocks_.find(b);
    if (--it->second == 0) far_blocks_.erase(it);
  }
  uint64_t far_in_block(int64_t b) const {
    const auto it = far_blocks_.find(b);
    return it == far_blocks_.end() ? 0 : it->second;
  }

  // Disarms `id` (no-op if not armed).
  void detach(uint32_t id) {
    node& n = nodes_[id];
    switch (nodes_[id].at()) {
      case where::none:
        return;
      case where::l0: {
        const std::size_t i = l0_index(n.due());
        pool_.entry(n.next) = k_nil;  // a tombstone, skipped on expiry
        if (--slots0_[i].live == 0) {
          occ0_.clear(i);
          if (i != draining_) pool_.release(slots0_[i]);
        }
        --count0_;
        break;
      }
      case where::l1_moved:
      case where::l1_direct: {
        unlink(list_of(nodes_[id].at(), n.due()), id);
        const std::size_t i = l1_index(n.due());
        if (--l1_count_[i] == 0) occ1_.clear(i);
        --count1_;
        break;
      }
      case where::past:
        past_.erase(key_of(n, id));
        break;
      case where::far:
        far_.erase(key_of(n, id));
        forget_far_block(block_of(n.due()));
        break;
    }
    nodes_[id].set_at(where::none);
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
      const auto [id, due] = pop_far();
      place(id, due, true);
      ++moved_;
    }
    moving_slot_ = l1_index(block_start(pb + 1));
    moving_total_ = l1_count_[moving_slot_];
    incoming_total_ = far_in_block(pb + static_cast<int64_t>(k_l1_slots));
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
      const int64_t due = nodes_[id].due();
      detach(id);
      place(id, due, true);
      ++moved_;
    }
    // Likewise the far timers of block B + 2^16 enter level 1 early, into the slot block B
    // left empty (the slot they will have once B + 1 begins), so that a crowd of timers armed
    // for one block months ahead never enters in one tick.
    if (incoming_total_ == 0) return;
    const int64_t incoming = block_of(t) + static_cast<int64_t>(k_l1_slots);
    const uint64_t incoming_allowed = incoming_total_ * ticks_left / k_block_ms;
    for (uint64_t left = far_in_block(incoming); left > incoming_allowed; --left) {
      const auto [id, due] = pop_far();
      nodes_[id].set_due(due);
      ++size_;
      put_l1(id, due, true);
      ++moved_;
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
        best = std::min(best, nodes_[id].due());
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

  std::size_t expire_past(int64_t now_ms, expire_ref fn) {
    std::size_t n = 0;
    while (!past_.empty() && std::get<0>(*past_.begin()) <= now_ms) {
      const auto [due, seq, id] = *past_.begin();
      past_.erase(past_.begin());
      nodes_[id].set_at(where::none);
      --size_;
      ++n;
      fire(id, due, now_ms, fn);
    }
    return n;
  }

  // A read position in a level-0 slot's ids.
  struct cursor {
    uint32_t chunk = k_nil;  // k_nil: before the slot's first chunk
    uint32_t at = 0;         // index in chunk
    uint32_t seen = 0;       // entries passed
  };
  // The entry at `c`, and moves c past it. Precondition: c.seen < ids.size.
  uint32_t& advance(const slot_ids& ids, cursor& c) {
    if (c.chunk == k_nil) {
      c.chunk = ids.first;
    } else if (c.at == k_chunk_ids) {
      c.chunk = pool_.chunk_at(c.chunk).next;
      c.at = 0;
    }
    ++c.seen;
    return pool_.chunk_at(c.chunk).ids[c.at++];
  }

  // Where a recurring timer expiring now will be re-armed, if straight into level 0 (the
  // common case: seconds to a minute ahead); else k_not_draining.
  std::size_t rearm_slot(uint32_t id, int64_t due_ms, int64_t now_ms) const {
    const node& n = nodes_[id];
    if (n.interval == k_one_shot || n.interval == k_long_interval) return k_not_draining;
    const int64_t next = step_recurring(due_ms, n.interval, now_ms).next_ms;
    if (block_of(next) > block_of(pos_) + 1) return k_not_draining;
    return l0_index(next);
  }

  // The common expiry at a million timers, in as few instructions as it takes (at that size
  // the drain loop is bound by instructions as much as by memory): a recurring timer expiring
  // on time whose next run lands in level 0 moves straight from its slot into the next one,
  // as fire() + place() would move it (it stays armed and counted throughout). Returns false,
  // doing nothing, for every other case.
  bool rearm_in_place(uint32_t id, int64_t now_ms) {
    node& n = nodes_[id];
    const uint32_t interval = n.interval;
    if (interval == k_one_shot || interval == k_long_interval || now_ms - pos_ >= interval) {
      return false;
    }
    const int64_t next = pos_ + interval;
    const int64_t b = block_of(next);
    const int64_t pb = block_of(pos_);
    if (b != pb && (b != pb + 1 || l1_count_[moving_slot_] != 0)) return false;
    const std::size_t i = l0_index(next);
    slot_ids& dest = slots0_[i];
    n.set_due(next);
    n.next = pool_.append(dest, id);
    if (dest.live++ == 0) occ0_.set(i);
    return true;
  }

  void prefetch_node(uint32_t id) const {
    if (id == k_nil) return;
    __builtin_prefetch(&nodes_[id], 1);
  }

  // Where a timer expiring at tick `due_ms` will be re-armed, with that slot's header
  // prefetched: a slot index, or k_nil when it is not re-armed into level 0 (or `id` is not
  // a timer: a cancelled entry, or an id read ahead that fn has since changed).
  uint32_t prefetch_rearm_header(uint32_t id, int64_t due_ms, int64_t now_ms) const {
    if (id >= nodes_.size()) return k_nil;
    const std::size_t d = rearm_slot(id, due_ms, now_ms);
    if (d == k_not_draining) return k_nil;
    __builtin_prefetch(&slots0_[d], 1);
    return static_cast<uint32_t>(d);
  }
  void prefetch_rearm_chunk(uint32_t dest) {
    if (dest != k_nil) pool_.prefetch_append(slots0_[dest]);
  }

  // drain()'s look-ahead. Expiring an entry at a million timers would wait for three cache
  // misses in a row: the timer's node, then (re-arming it) the destination slot's header, then
  // that slot's last chunk. Three stages run ahead of the entry expiring and prefetch each in
  // turn (the node k_node_ahead entries ahead, the header k_header_ahead, the chunk
  // k_chunk_ahead), so the misses of several expiries overlap. What a stage found waits in a
  // ring (indexed by position in the slot) for the next stage, so each entry is walked to once
  // and its destination computed once. It is only a hint: the expiring cursor re-reads every
  // entry (fn may have cancelled or re-armed it meanwhile).
  static constexpr uint32_t k_node_ahead = 12, k_header_ahead = 6, k_chunk_ahead = 3;
  struct lookahead {
    static constexpr uint32_t k_ring = 16;
    static_assert(k_ring > k_node_ahead);
    cursor nodes;             // the next entry whose node is prefetched
    uint32_t header_pos = 0;  // the next position whose destination header is prefetched
    uint32_t chunk_pos = 0;   // the next position whose destination chunk is prefetched
    std::array<uint32_t, k_ring> id;
    std::array<uint32_t, k_ring> dest;
  };

  // Near the end of a slot the same stages run on into the first entries of the next tick's
  // slot (at most its first chunk, as it is when the drain starts), so that the next drain()
  // starts with its pipeline full instead of waiting for its first misses one after another.
  // A hint as well: fn may cancel or re-arm anything meanwhile, so ids are bounds-checked
  // (entries below the size the chunk has now stay initialized whatever happens to it).
  struct next_slot_lookahead {
    uint32_t first = k_nil;                       // its first chunk
    uint32_t avail = 0;                           // entries of that chunk to look at
    int64_t tick = 0;                             // its tick
    uint32_t nodes = 0, headers = 0, chunks = 0;  // entries each stage has handled
    std::array<uint32_t, k_node_ahead> id;
    std::array<uint32_t, k_node_ahead> dest;
  };

  // The three stages over `ids` for the entry at position `expiring` (the next to expire).
  [[gnu::always_inline]] void run_ahead(const slot_ids& ids, lookahead& la, uint32_t expiring,
                                        int64_t now_ms) {
    while (la.nodes.seen < ids.size && la.nodes.seen < expiring + k_node_ahead) {
      const uint32_t pos = la.nodes.seen;
      const uint32_t id = advance(ids, la.nodes);
      if (la.nodes.at == 1) {  // entered a chunk: fetch the one after it too
        const uint32_t following = pool_.chunk_at(la.nodes.chunk).next;
        if (following != k_nil) __builtin_prefetch(&pool_.chunk_at(following));
      }
      la.id[pos % lookahead::k_ring] = id;
      prefetch_node(id);
    }
    while (la.header_pos < la.nodes.seen && la.header_pos < expiring + k_header_ahead) {
      const uint32_t id = la.id[la.header_pos % lookahead::k_ring];
      la.dest[la.header_pos++ % lookahead::k_ring] = prefetch_rearm_header(id, pos_, now_ms);
    }
    while (la.chunk_pos < la.header_pos && la.chunk_pos < expiring + k_chunk_ahead)
      prefetch_rearm_chunk(la.dest[la.chunk_pos++ % lookahead::k_ring]);
  }

  // The stages over the next slot's first entries, `lead` (1 .. k_node_ahead) positions past
  // the end of the slot draining.
  [[gnu::always_inline]] void run_ahead_into_next(next_slot_lookahead& nx, uint32_t lead,
                                                  int64_t now_ms) {
    const chunk& c = pool_.chunk_at(nx.first);
    while (nx.nodes < std::min(lead, nx.avail)) {
      const uint32_t id = c.ids[nx.nodes];
      nx.id[nx.nodes++] = id;
      if (id < nodes_.size()) prefetch_node(id);
    }
    while (nx.headers < nx.nodes && nx.headers + k_node_ahead - k_header_ahead < lead) {
      const uint32_t id = nx.id[nx.headers];
      nx.dest[nx.headers++] = prefetch_rearm_header(id, nx.tick, std::max(now_ms, nx.tick));
    }
    while (nx.chunks < nx.headers && nx.chunks + k_node_ahead - k_chunk_ahead < lead)
      prefetch_rearm_chunk(nx.dest[nx.chunks++]);
  }

  // Expires the entry at `cur` (leaving a tombstone first) and moves cur past it; returns 1,
  // or 0 for a tombstone. The common re-arm takes the short path of rearm_in_place().
  [[gnu::always_inline]] std::size_t expire_entry(slot_ids& ids, cursor& cur, int64_t now_ms,
                                                  expire_ref fn) {
    uint32_t& entry = advance(ids, cur);
    const uint32_t id = entry;
    entry = k_nil;
    if (id == k_nil) return 0;
    --ids.live;
    if (rearm_in_place(id, now_ms)) {
      fn(id, pos_);
      return 1;
    }
    nodes_[id].set_at(where::none);
    --count0_;
    --size_;
    fire(id, pos_, now_ms, fn);
    return 1;
  }

  // Expires level-0 slot `slot` (the tick pos_) in arming order. fn may append to it (a timer
  // armed for this very tick: it expires in this call too), cancel entries further on, or arm
  // timers in the past, which go first. Each entry is replaced by a tombstone before fn runs,
  // so an exception from fn leaves the slot consistent. The look-ahead stages above keep the
  // memory ahead of the expiring entry in flight.
  std::size_t drain(std::size_t slot, int64_t now_ms, expire_ref fn) {
    slot_ids& ids = slots0_[slot];
    struct draining {
      std::size_t& slot;
      ~draining() { slot = k_not_draining; }  // also when fn throws
    } guard{draining_};
    draining_ = slot;

    lookahead la;
    next_slot_lookahead nx;
    const slot_ids& next_ids = slots0_[(slot + 1) % k_l0_slots];
    nx.first = next_ids.first;
    nx.avail = std::min(next_ids.size, k_chunk_ids);
    nx.tick = pos_ + 1;
    if (nx.first != k_nil) __builtin_prefetch(&pool_.chunk_at(nx.first));

    std::size_t n = 0;
    cursor cur;
    for (;;) {
      if (!past_.empty()) n += expire_past(now_ms, fn);
      if (cur.seen == ids.size) {
        if (past_.empty()) break;
        continue;
      }
      run_ahead(ids, la, cur.seen, now_ms);
      if (cur.seen + k_node_ahead > ids.size && nx.first != k_nil)
        run_ahead_into_next(nx, cur.seen + k_node_ahead - ids.size, now_ms);
      n += expire_entry(ids, cur, now_ms, fn);
    }
    assert(ids.live == 0);
    pool_.release(ids);
    occ0_.clear(slot);
    return n;
  }

  int64_t pos_;  // the next tick to process: every timer due before it has expired or is in past_
  std::vector<node> nodes_;
  std::vector<uint32_t> prev_;    // per id: level 1's back link, or past_/far_'s low sequence half
  std::vector<slot_ids> slots0_;  // ids in arming order (k_nil: cancelled), in chunks
  chunk_pool pool_;
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
  std::size_t moving_slot_ = 0;             // the level-1 slot of block B+1
  uint64_t moving_total_ = 0;               // its size when B began
  uint64_t incoming_total_ = 0;             // far timers in block B + 2^16 when B began
  std::map<int64_t, uint64_t> far_blocks_;  // far timers per block
  uint64_t next_seq_ = 0;
  uint64_t missed_ = 0;      // missed_periods()
  uint64_t moved_ = 0;       // timers moved between levels in this expire() call
  uint64_t most_moved_ = 0;  // the most in one call
  std::unordered_map<uint32_t, int64_t> long_intervals_;  // intervals >= k_long_interval ms
  bool in_expire_ = false;
};

}  // namespace

std::unique_ptr<timer_queue> make_timer_wheel(int64_t start_ms) {
  return std::make_unique<timer_wheel>(start_ms);
}

uint64_t timer_wheel_most_moved(const timer_queue& wheel) {
  return dynamic_cast<const timer_wheel&>(wheel).most_moved();
}

}  // namespace isitup
