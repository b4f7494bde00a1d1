// Waiting in a test for something another process or thread makes true: an agent's log line,
// a row in PostgreSQL, a webhook request. Header-only; any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace isitup::test {

// Asks `done()` every `every` until it returns true, then returns true. Returns false when it
// is still false at `within` from now: `done()` is always asked once more at or after that
// deadline, so a slow machine that oversleeps does not fail a wait that has come true. A
// predicate that is costly to ask (SQL, GET /metrics, a log of megabytes) passes a longer
// `every`. The deadline is a bound on a failing test, not a measure of speed: pick it for a
// loaded machine, and say in the assertion what was awaited and what was seen.
template <class Done>
bool eventually(Done&& done, std::chrono::milliseconds within = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    if (done()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(every, deadline - now));
  }
}

}  // namespace isitup::test
