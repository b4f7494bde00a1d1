#include "options.hpp"

#include <limits>

namespace isitup {

std::string_view to_string(option_type t) {
  switch (t) {
    case option_type::string:
      return "string";
    case option_type::integer:
      return "int";
    case option_type::number:
      return "float";
    case option_type::boolean:
      return "bool";
    case option_type::duration:
      return "duration";
    case option_type::list:
      return "list";
    case option_type::map:
      return "map";
  }
  return "unknown";
}

const option_value* option_values::find(std::string_view name) const {
  for (const auto& [key, value] : items_) {
    if (key == name) return &value;
  }
  return nullptr;
}

option_value& option_values::set(const std::string& name, option_value v) {
  for (auto& [key, value] : items_) {
    if (key == name) {
      value = std::move(v);
      return value;
    }
  }
  items_.emplace_back(name, std::move(v));
  return items_.back().second;
}

namespace {

struct duration_unit {
  std::string_view suffix;
  int64_t ms;
};

// Longest suffix first so that "ms" is not read as "m" followed by garbage; ordered by size so
// a combined duration must go from the largest unit to the smallest ("1h30m", not "30m1h").
constexpr duration_unit units[] = {
    {"d", 86'400'000}, {"h", 3'600'000}, {"ms", 1}, {"m", 60'000}, {"s", 1'000},
};

// Rank of a unit by size: larger units have larger ranks.
int rank_of(int64_t ms) {
  switch (ms) {
    case 86'400'000:
      return 4;
    case 3'600'000:
      return 3;
    case 60'000:
      return 2;
    case 1'000:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

std::optional<int64_t> parse_duration_ms(std::string_view text) {
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
    const duration_unit* unit = nullptr;
    for (const auto& u : units) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;  // bare number or unknown unit
    i += unit->suffix.size();
    const int rank = rank_of(unit->ms);
    if (rank >= previous_rank) return std::nullopt;  // "30s1m", "5s5s"
    previous_rank = rank;
    if (amount > max / unit->ms) return std::nullopt;
    const int64_t part = amount * unit->ms;
    if (total > max - part) return std::nullopt;
    total += part;
  }
  return total;
}

}  // namespace isitup
