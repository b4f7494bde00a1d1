// Fuzz target: the status page (isitup::render_status_page) for any names, targets, groups and
// error texts a config, a server or a database could bring. The input is text fields separated
// by NUL bytes, in this order (a missing field is empty):
//   title, agent, location, check 1 name, plugin, target, group, error_kind, error_message,
//   incident id, incident location, check 2 name, check 2 group
// Check 1 is down with an open incident of check 2's name (so the incident matches it when the
// names are equal), check 2 is up with a resolved one.
// Promises checked: the page's tags are exactly those of the same view with every distinct
// text replaced by a distinct harmless word (so no value adds, drops or changes markup); the
// page is valid UTF-8 without control characters but tab and newline; its size stays bounded
// whatever the lengths of the values.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/status_page.hpp>
#include "fuzz_check.hpp"

namespace {

using isitup::fuzz::require;

constexpr std::size_t field_count = 13;
constexpr int64_t now_ms = 1'796'200'000'000, day_ms = 86'400'000;

std::vector<std::string> split_fields(std::string_view input) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (out.size() < field_count) {
    const std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) {
      out.emplace_back(input.substr(std::min(start, input.size())));
      break;
    }
    out.emplace_back(input.substr(start, end - start));
    start = end + 1;
  }
  out.resize(field_count);
  return out;
}

isitup::status_view view_of(const std::vector<std::string>& f) {
  using namespace isitup;
  status_view v;
  v.generated_at_ms = now_ms;
  v.title = f[0];
  v.agent = f[1];
  v.location = f[2];
  check_view down;
  down.name = f[3];
  down.plugin = f[4];
  down.target = f[5];
  down.group = f[6];
  down.interval_ms = 30'000;
  down.state = status_state::down;
  down.state_since_ms = now_ms - 60'000;
  down.last = last_result_view{now_ms - 1000, false, f[7], f[8], std::nullopt, std::nullopt};
  const int64_t first = (now_ms / day_ms - 2) * day_ms;
  down.segments = {{first, first + day_ms, 10, 10},
                   {first + day_ms, first + 2 * day_ms, 10, 3},
                   {first + 2 * day_ms, first + 3 * day_ms, 0, 0}};
  down.latency = {{now_ms - 3'600'000, 10, 20}, {now_ms - 1'800'000, 12, 40}};
  check_view up = down;
  up.name = f[11];
  up.group = f[12];
  up.state = status_state::up;
  up.last.reset();
  v.checks = {down, up};
  v.incidents = {{f[9], f[11], f[7], f[8], now_ms - 60'000, 0, {f[10]}},
                 {f[9], f[3], f[7], f[8], now_ms - day_ms, now_ms - 3'600'000, {f[10], f[2]}}};
  return v;
}

// Tag names in order: "<" followed by an optional "/" or "!" and letters or digits.
std::vector<std::string> tags(std::string_view html) {
  std::vector<std::string> out;
  for (std::size_t at = html.find('<'); at != std::string_view::npos; at = html.find('<', at + 1)) {
    std::size_t end = at + 1;
    if (end < html.size() && (html[end] == '/' || html[end] == '!')) ++end;
    while (end < html.size() &&
           ((html[end] >= 'a' && html[end] <= 'z') || (html[end] >= 'A' && html[end] <= 'Z') ||
            (html[end] >= '0' && html[end] <= '9')))
      ++end;
    out.emplace_back(html.substr(at, end - at));
  }
  return out;
}

bool valid_utf8_without_controls(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if ((b < 0x20 && b != '\t' && b != '\n') || b == 0x7f) return false;
      ++i;
      continue;
    }
    const std::size_t n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
    if (n == 0 || b > 0xf4 || i + n > s.size()) return false;
    uint32_t cp = b & (0xff >> (n + 1));
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
      return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> fields =
      split_fields(std::string_view(reinterpret_cast<const char*>(data), size));
  // The same view with harmless words: equal texts stay equal, empty ones empty.
  std::map<std::string, std::string> words;
  std::vector<std::string> harmless;
  for (const std::string& f : fields) {
    if (f.empty()) {
      harmless.emplace_back();
      continue;
    }
    const auto [it, added] = words.try_emplace(f, "w" + std::to_string(words.size()));
    harmless.push_back(it->second);
  }
  const std::string page = isitup::render_status_page(view_of(fields));
  const std::string plain = isitup::render_status_page(view_of(harmless));
  require(tags(page) == tags(plain), "values do not change the markup");
  require(valid_utf8_without_controls(page), "the page is valid UTF-8 without control characters");
  require(page.size() < plain.size() + 40'000, "the page's size is bounded");
  return 0;
}
