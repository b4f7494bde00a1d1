// isitup plugin SDK: text helpers for messages, header-only (C++17). The agent uses them for
// its own messages, so a plugin's errors read like the agent's.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace isitup::sdk {

// `text` made fit for a one-line message: control characters as \xNN, cut after `max_chars`
// bytes with "…", so a long value leaves room for the reason (error buffers hold 1 KiB).
inline std::string shown_value(std::string_view text, std::size_t max_chars = 100) {
  std::string out;
  out.reserve(text.size() < max_chars ? text.size() : max_chars + 3);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == max_chars) {
      out += "\u2026";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "\\x%02x", c);
      out += code;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace isitup::sdk
