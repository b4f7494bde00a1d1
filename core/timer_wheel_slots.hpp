// The timer wheel's slot storage (an implementation detail of timer_wheel.cpp, in its own
// header to keep that file readable): occupancy bitmaps, and the pool of 64-byte chunks that
// level-0 slots keep their ids in.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace isitup::wheel_detail {

constexpr uint32_t k_nil = UINT32_MAX;

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

// A level-0 slot's header: one 16-byte read tells where to append and whether it is empty.
struct slot_ids {
  uint32_t first = k_nil;
  uint32_t last = k_nil;
  uint32_t size = 0;  // entries appended since the slot was last emptied, tombstones included
  uint32_t live = 0;  // armed timers in it
};

// The chunks of every level-0 slot, and a free list. It only grows (by k_chunks_per_block at a
// time, never moving a chunk), to the most chunks in use at once.
class chunk_pool {
 public:
  chunk& chunk_at(uint32_t c) { return blocks_[c / k_chunks_per_block][c % k_chunks_per_block]; }
  // An entry by the position append() returned.
  uint32_t& entry(uint32_t pos) { return chunk_at(pos / 16).ids[pos % 16]; }

  // Appends id to a level-0 slot; returns where it went (chunk * 16 + index). Inlined: it
  // runs once per expiry at a million timers; the new-chunk case (1 in 15) is not.
  [[gnu::always_inline]] uint32_t append(slot_ids& ids, uint32_t id) {
    const uint32_t at = ids.size % k_chunk_ids;
    if (at == 0) [[unlikely]]
      start_chunk(ids);
    chunk_at(ids.last).ids[at] = id;
    ++ids.size;
    return ids.last * 16 + at;
  }

  // Gives the slot a new last chunk.
  [[gnu::noinline]] void start_chunk(slot_ids& ids) {
    uint32_t c = free_;
    if (c != k_nil) {
      free_ = chunk_at(c).next;
    } else {
      if (chunks_ % k_chunks_per_block == 0) {
        blocks_.push_back(std::make_unique_for_overwrite<chunk[]>(k_chunks_per_block));
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

  // Loads the line the next append() to `ids` will write.
  void prefetch_append(const slot_ids& ids) {
    const uint32_t at = ids.size % k_chunk_ids;
    const uint32_t c = at != 0 ? ids.last : free_;
    if (c != k_nil) __builtin_prefetch(&chunk_at(c).ids[at], 1);
  }

  // Empties a level-0 slot, its chunks back to the free list.
  void release(slot_ids& ids) {
    if (ids.first != k_nil) {
      chunk_at(ids.last).next = free_;
      free_ = ids.first;
    }
    ids = slot_ids{};
  }

 private:
  std::vector<std::unique_ptr<chunk[]>> blocks_;
  std::size_t chunks_ = 0;  // chunks ever made
  uint32_t free_ = k_nil;
};

}  // namespace isitup::wheel_detail
