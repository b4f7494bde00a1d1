// isitup plugin SDK utility, header-only (C++17): exponential backoff. Pure functions.
#pragma once

#include <chrono>
#include <cstdint>

namespace isitup::sdk {

// How long to wait before retry number `attempt` (0 for the first retry): `first_ms` doubled
// `attempt` times, never more than `max_ms`. A negative attempt counts as 0, a first wait
// below 1 ms as 1 ms; no overflow however large `attempt` grows.
constexpr int64_t backoff_ms(int attempt, int64_t first_ms, int64_t max_ms) {
  if (first_ms < 1) first_ms = 1;
  if (max_ms < first_ms) return max_ms < 0 ? 0 : max_ms;
  int64_t wait = first_ms;
  for (int i = 0; i < attempt && wait < max_ms; ++i) wait = wait > max_ms / 2 ? max_ms : wait * 2;
  return wait < max_ms ? wait : max_ms;
}

inline std::chrono::milliseconds backoff(int attempt, std::chrono::milliseconds first,
                                         std::chrono::milliseconds max) {
  return std::chrono::milliseconds(backoff_ms(attempt, first.count(), max.count()));
}

}  // namespace isitup::sdk
