#include <isitup/core/status_page_text.hpp>

#include <isitup/util/utf8.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <isitup/core/status_page.hpp>

namespace isitup {

namespace {

// A control character the page does not show (all but tab and newline): C0, DEL, and C1
// (U+0080..U+009F: C2 80..C2 9F) in the well-formed sequence of `n` bytes at s[i].
bool is_control(std::string_view s, std::size_t i, std::size_t n) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (n == 1) return (b < 0x20 && b != '\t' && b != '\n') || b == 0x7f;
  return n == 2 && b == 0xc2 && static_cast<unsigned char>(s[i + 1]) <= 0x9f;
}

}  // namespace

void append_html_escaped(std::string& out, std::string_view text, std::size_t max_bytes) {
  static constexpr std::string_view replacement = "\xef\xbf\xbd";
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t n = sdk::utf8_sequence_length(text, i);
    if (i + std::max<std::size_t>(n, 1) > max_bytes) {
      out += "\xe2\x80\xa6";  // an ellipsis marks the cut
      return;
    }
    if (n == 0) {
      out += replacement;
      i += 1;
      continue;
    }
    if (is_control(text, i, n)) {
      out += replacement;
    } else if (n > 1) {
      out.append(text.substr(i, n));
    } else {
      switch (text[i]) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          out += text[i];
      }
    }
    i += n;
  }
}

namespace status_text {

std::string utc(int64_t ms, bool with_time) {
  using namespace std::chrono;
  ms = std::clamp<int64_t>(ms, 0, 253'402'300'799'999);  // up to the end of year 9999
  const sys_time<milliseconds> t{milliseconds{ms}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const auto in_day = duration_cast<minutes>(t - day).count();
  char buf[48];
  if (with_time)
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d UTC", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(in_day / 60), static_cast<int>(in_day % 60));
  else
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string duration(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t s = ms / 1000, min = s / 60, h = min / 60, d = h / 24;
  const auto two = [](int64_t a, const char* ua, int64_t b, const char* ub) {
    std::string r = std::to_string(a) + " " + ua;
    if (b > 0) r += " " + std::to_string(b) + " " + ub;
    return r;
  };
  if (d > 0) return two(d, "d", h % 24, "h");
  if (h > 0) return two(h, "h", min % 60, "min");
  if (min > 0) return two(min, "min", 0, "");
  return std::to_string(s) + " s";
}

std::string interval(int64_t ms) {
  if (ms <= 0) return "-";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + " h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + " min";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

std::string percent(double fraction) {
  if (!(fraction > 0)) return "0%";
  if (fraction >= 1) return "100%";
  const double hundredths = std::floor(fraction * 10000.0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", hundredths / 100.0);
  return buf;
}

std::string millis(double ms) {
  if (!std::isfinite(ms) || ms < 0) return "-";
  char buf[48];
  if (ms < 10)
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else if (ms < 1e9)
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  else
    return "> 11 d";
  return buf;
}

}  // namespace status_text
}  // namespace isitup
