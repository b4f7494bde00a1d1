#include <isitup/core/completion_tickets.hpp>

#include <spdlog/spdlog.h>
#include <isitup/util/clock.hpp>

#include <set>
#include <string>

namespace isitup {
namespace {

static_assert(sizeof(void*) == sizeof(uint64_t), "tickets are packed into a 64-bit pointer");

// ticket = (index + 1) << 32 | generation: never null, and the index is bounds-checked.
void* pack(uint32_t index, uint32_t generation) {
  return reinterpret_cast<void*>((static_cast<uint64_t>(index) + 1) << 32 | generation);
}

uint64_t busy_word(uint32_t generation) { return static_cast<uint64_t>(generation) << 1 | 1; }

}  // namespace

completion_tickets& completion_tickets::instance() {
  static completion_tickets* registry = new completion_tickets;  // never destroyed: plugin
  return *registry;  // threads may still redeem a ticket while the process exits
}

completion_tickets::slot* completion_tickets::find(uint32_t index) const {
  if (index >= max_tickets) return nullptr;
  slot* chunk = chunks_[index / chunk_size].load(std::memory_order_acquire);
  return chunk ? &chunk[index % chunk_size] : nullptr;
}

void* completion_tickets::issue(void* state, const char* owner) {
  uint32_t index;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      index = free_.front();
      free_.pop_front();
    } else {
      if (fresh_ == max_tickets) return nullptr;
      index = fresh_;
      if (index % chunk_size == 0)
        chunks_[index / chunk_size].store(new slot[chunk_size], std::memory_order_release);
      ++fresh_;
    }
    ++outstanding_;
  }
  slot& s = *find(index);
  const uint32_t generation = static_cast<uint32_t>(s.word.load(std::memory_order_relaxed) >> 1);
  s.state.store(state, std::memory_order_relaxed);
  s.owner.store(owner, std::memory_order_relaxed);
  s.word.store(busy_word(generation), std::memory_order_release);
  return pack(index, generation);
}

completion_tickets::redeemed completion_tickets::redeem(void* ticket) {
  const auto t = reinterpret_cast<uint64_t>(ticket);
  const uint64_t high = t >> 32;
  if (high == 0 || high > max_tickets) return {};
  const auto index = static_cast<uint32_t>(high - 1);
  const auto generation = static_cast<uint32_t>(t);
  slot* s = find(index);
  if (!s) return {};
  uint64_t word = s->word.load(std::memory_order_acquire);
  if (word != busy_word(generation)) {
    // Redeemed before. Right after that the slot is free at the next generation and still
    // names the owner; once reissued it names someone else, so say nothing then.
    const uint32_t next = generation + 1 == 0 ? 1 : generation + 1;
    const char* owner = s->owner.load(std::memory_order_relaxed);
    if (s->word.load(std::memory_order_acquire) == static_cast<uint64_t>(next) << 1)
      return {nullptr, owner};
    return {};
  }
  void* state = s->state.load(std::memory_order_relaxed);
  const uint32_t next = generation + 1 == 0 ? 1 : generation + 1;  // generation 0 is never used
  if (!s->word.compare_exchange_strong(word, static_cast<uint64_t>(next) << 1,
                                       std::memory_order_acq_rel))
    return {};
  give_back(index);
  return {state, nullptr};
}

void completion_tickets::give_back(uint32_t index) {
  std::lock_guard lock(mu_);
  free_.push_back(index);
  --outstanding_;
}

void completion_tickets::refused(const redeemed& r) {
  const uint64_t n = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!refused_log_gate_.pass(sdk::monotonic_ms())) return;
  spdlog::warn(
      "[{}] a completion was called again, or after the host had ended its run; ignored ({} "
      "so far in this process)",
      r.owner ? r.owner : "a plugin", n);
}

std::size_t completion_tickets::outstanding() const {
  std::lock_guard lock(mu_);
  return outstanding_;
}

const char* completion_tickets::intern(std::string_view name) {
  static std::mutex mu;
  static auto* names = new std::set<std::string, std::less<>>;  // never destroyed, like above
  std::lock_guard lock(mu);
  auto found = names->find(name);
  if (found == names->end()) found = names->emplace(name).first;
  return found->c_str();
}

}  // namespace isitup
