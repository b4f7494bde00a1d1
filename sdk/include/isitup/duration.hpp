// isitup plugin SDK: the agent's duration syntax, header-only (C++17). The agent parses every
// duration of a config with this function, and so does the fake host in sdk/testing, so a
// plugin's tests accept exactly what the agent accepts.
//
//   "500ms", "30s", "5m", "1h", "1d", and combinations from the largest unit to the smallest
//   ("1m30s", "1h30m"). Refused: a bare number (ambiguous), a unit used twice or out of order
//   ("5s5s", "30s1m"), a sign, spaces, anything that overflows int64 milliseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace isitup::sdk {

// Milliseconds, or nullopt when `text` is not a duration.
inline std::optional<int64_t> parse_duration_ms(std::string_view text) {
  struct unit {
    std::string_view suffix;
    int64_t ms;
    int rank;  // larger units rank higher; each part must rank below the one before
  };
  // "ms" before "m", so that "5ms" is not read as "5m" followed by garbage.
  constexpr unit units[] = {
      {"d", 86'400'000, 4}, {"h", 3'600'000, 3}, {"ms", 1, 0}, {"m", 60'000, 2}, {"s", 1'000, 1},
  };
  constexpr int64_t max = std::numeric_limits<int64_t>::max();
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  int previous_rank = 5;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t digits_start = i;
    int64_t amount = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      const int digit = text[i] - '0';
      if (amount > (max - digit) / 10) return std::nullopt;
      amount = amount * 10 + digit;
      ++i;
    }
    if (i == digits_start) return std::nullopt;  // no number: "fast", "-5s", "s"
    const unit* found = nullptr;
    for (const unit& u : units) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        found = &u;
        break;
      }
    }
    if (!found) return std::nullopt;  // bare number or unknown unit
    i += found->suffix.size();
    if (found->rank >= previous_rank) return std::nullopt;  // "30s1m", "5s5s"
    previous_rank = found->rank;
    if (amount > max / found->ms) return std::nullopt;
    const int64_t part = amount * found->ms;
    if (total > max - part) return std::nullopt;
    total += part;
  }
  return total;
}

}  // namespace isitup::sdk
