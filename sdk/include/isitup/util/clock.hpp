// isitup plugin SDK utility, header-only (C++17): the monotonic clock in milliseconds, as the
// agent and the in-tree plugins read it for timeouts, backoff and rate limits, and the wall
// clock in milliseconds, as records' times are written. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace isitup::sdk {

// Milliseconds of std::chrono::steady_clock: never goes back, unrelated to the wall clock.
// Only differences between two readings mean anything.
inline int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Milliseconds since the Unix epoch by std::chrono::system_clock, the unit of a record's times.
// It jumps when the clock is set: never measure a duration with it.
inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace isitup::sdk
