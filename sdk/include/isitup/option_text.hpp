// isitup plugin SDK: how an option's text becomes a value, header-only (C++17). The agent's
// config reader (core/config_options.cpp) checks every option value with these functions, and
// so does the fake host in sdk/testing, so a plugin's unit tests accept and refuse exactly what
// the agent does, with the agent's words.
//
//   integer   [-]digits within int64 ("+5", " 5", "0x10", "1e3" are refused)
//   number    a finite decimal or exponent form ("1.5", "-2", "1e3"; not "nan", "inf", "0x1p3")
//   boolean   true/false, yes/no, on/off, in any case
//   duration  isitup/duration.hpp
//   string    anything
#pragma once

#include <isitup/plugin.h>
#include <isitup/duration.hpp>
#include <isitup/text.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace isitup::sdk {

inline std::optional<int64_t> parse_int64(std::string_view text) {
  if (text.empty() || text.front() == '+') return std::nullopt;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [last, ec] = std::from_chars(text.data(), end, value, 10);
  if (ec != std::errc() || last != end) return std::nullopt;
  return value;
}

inline std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [last, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || last != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

inline std::optional<bool> parse_bool(std::string_view text) {
  const auto is = [text](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
      const char c = text[i];
      if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != word[i]) return false;
    }
    return true;
  };
  if (is("true") || is("yes") || is("on")) return true;
  if (is("false") || is("no") || is("off")) return false;
  return std::nullopt;
}

// A value as the agent shows it in a message: 'text', made printable and cut at 80 bytes.
inline std::string quoted_value(std::string_view text) { return "'" + shown_value(text, 80) + "'"; }

// "an integer", "a duration like 500ms, 30s, 5m, 1h", ... for "expected <this>, got ...".
inline const char* option_type_expected(uint32_t type) {
  switch (type) {
    case ISITUP_OPT_INT:
      return "an integer";
    case ISITUP_OPT_FLOAT:
      return "a number";
    case ISITUP_OPT_BOOL:
      return "a boolean (true or false)";
    case ISITUP_OPT_DURATION:
      return "a duration like 500ms, 30s, 5m, 1h";
    case ISITUP_OPT_LIST:
      return "a list of scalars";
    case ISITUP_OPT_MAP:
      return "a mapping of names to scalars";
    default:
      return "a string";
  }
}

inline std::string duration_expected(std::string_view got) {
  return "expected a duration like 500ms, 30s, 5m, 1h, got " + quoted_value(got);
}

// Why scalar `text` is not a value of `type` (an ISITUP_OPT_* scalar type), in the agent's
// words; empty when it is one. Every text is a string.
inline std::string scalar_option_error(uint32_t type, std::string_view text) {
  switch (type) {
    case ISITUP_OPT_INT: {
      if (parse_int64(text)) return {};
      bool digits = !text.empty() && text != "-";
      for (std::size_t i = digits && text[0] == '-' ? 1 : 0; digits && i < text.size(); ++i)
        digits = text[i] >= '0' && text[i] <= '9';
      return digits ? quoted_value(text) + " is out of range for a 64-bit integer"
                    : "expected an integer, got " + quoted_value(text);
    }
    case ISITUP_OPT_FLOAT:
      return parse_number(text) ? std::string() : "expected a number, got " + quoted_value(text);
    case ISITUP_OPT_BOOL:
      return parse_bool(text) ? std::string() : "expected true or false, got " + quoted_value(text);
    case ISITUP_OPT_DURATION:
      return parse_duration_ms(text) ? std::string() : duration_expected(text);
    default:
      return {};
  }
}

// Single-character inserts, deletes and replacements that turn `a` into `b` (Levenshtein).
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" when one of `names` (any range of strings) is a likely typo of `key`:
// at most two edits away and fewer than its length, the first nearest; else "". The agent's
// hint after "unknown option 'key'" (and after other unknown keys of its config).
template <class Names>
std::string suggestion(std::string_view key, const Names& names) {
  std::string_view best;
  std::size_t best_distance = 3;  // at most two edits away
  for (const auto& name : names) {
    const std::string_view n(name);
    const std::size_t d = edit_distance(key, n);
    if (d < best_distance && d < n.size()) {
      best_distance = d;
      best = n;
    }
  }
  if (best.empty()) return "";
  return " (did you mean '" + std::string(best) + "'?)";
}

}  // namespace isitup::sdk
