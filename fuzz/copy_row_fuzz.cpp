// Fuzz target: pg_sink's COPY row (isitup::pg::copy_line) for any record a check or a Kafka
// message could bring. The input is the record's fields separated by NUL bytes, in this order
// (a missing field is absent; numbers are decimal text, anything else is absent):
//   agent, location, check, plugin, target, scheduled_at, started_at, status ("up" or not),
//   error_kind, error_message, http_code, http_version, http_bytes, dns, connect, tls, ttfb,
//   total, regex_match, tls_not_after, tls_days_left, redirects, ip, extra
// Promises checked: a row is one line of exactly one field per column, never the "\." end
// marker; every text field reads back (COPY's unescaping) as the value given when that is
// valid UTF-8, else as valid UTF-8 of at least its length; no key, no row.
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "pg_schema.hpp"
#include "pg_writer.hpp"

namespace {

using isitup::fuzz::require;

std::vector<std::string> split_fields(std::string_view input) {
  std::vector<std::string> out;
  if (input.empty()) return out;
  size_t start = 0;
  for (;;) {
    const size_t end = input.find('\0', start);
    out.emplace_back(input.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

template <class T>
T number(const std::vector<std::string>& f, size_t i, T absent) {
  if (i >= f.size()) return absent;
  T v{};
  const auto [end, ec] = std::from_chars(f[i].data(), f[i].data() + f[i].size(), v);
  return ec == std::errc() && end == f[i].data() + f[i].size() ? v : absent;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    const uint32_t min = n == 1 ? 0 : n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// One field of a COPY text row, unescaped as PostgreSQL reads it (COPY's text format: \b \f
// \n \r \t \v, \ and 1 to 3 octal digits, \x and 1 or 2 hex digits, any other character
// after a backslash stands for itself); `null` when it is \N.
std::string unescape(std::string_view field, bool& null) {
  null = field == "\\N";
  std::string out;
  const auto digits = [&](size_t& i, int base, size_t max) {
    int v = 0;
    for (size_t k = 0; k < max && i + 1 < field.size(); ++k) {
      const char c = field[i + 1];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : 99;
      if (d >= base) break;
      v = v * base + d;
      ++i;
    }
    return static_cast<char>(v);
  };
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\') {
      out += field[i];
      continue;
    }
    require(i + 1 < field.size(), "no field ends in a lone backslash");
    const char e = field[++i];
    if (e >= '0' && e <= '7') {
      --i;
      out += digits(i, 8, 3);
      require(out.back() != '\0', "no escape makes a NUL byte");
      continue;
    }
    if (e == 'x' && i + 1 < field.size() &&
        std::isxdigit(static_cast<unsigned char>(field[i + 1]))) {
      out += digits(i, 16, 2);
      require(out.back() != '\0', "no escape makes a NUL byte");
      continue;
    }
    static constexpr std::string_view from = "bfnrtv", to = "\b\f\n\r\t\v";
    const size_t k = from.find(e);
    require(e != 'N' || field.size() == 2, "\\N is a whole field");
    out += k == std::string_view::npos ? e : to[k];
  }
  return out;
}

// `given` (nullptr: absent) against the field `got`.
void same_text(const char* given, std::string_view field) {
  bool null = false;
  const std::string got = unescape(field, null);
  if (!given) {
    require(null, "an absent text is NULL");
    return;
  }
  require(!null, "a present text is not NULL");
  const std::string_view want(given);
  if (valid_utf8(want)) {
    require(got == want, "valid UTF-8 text reads back as given");
  } else {
    require(valid_utf8(got) && got.size() >= want.size(), "other text reads back repaired");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto f = split_fields(std::string_view(reinterpret_cast<const char*>(data), size));
  const auto text = [&](size_t i) -> const char* { return i < f.size() ? f[i].c_str() : nullptr; };
  isitup_record_v1 r{};
  r.struct_size = sizeof r;
  r.agent = text(0);
  r.location = text(1);
  r.check = text(2);
  r.plugin = text(3);
  r.target = text(4);
  r.scheduled_at_ms = number<int64_t>(f, 5, ISITUP_ABSENT_TIME);
  r.started_at_ms = number<int64_t>(f, 6, ISITUP_ABSENT_TIME);
  r.status = f.size() > 7 && f[7] == "up" ? ISITUP_UP : ISITUP_DOWN;
  r.error_kind = text(8);
  r.error_message = text(9);
  r.http_code = number<int32_t>(f, 10, ISITUP_ABSENT_INT);
  r.http_version = text(11);
  r.http_bytes = number<int64_t>(f, 12, ISITUP_ABSENT_INT);
  r.dns_ms = number<double>(f, 13, ISITUP_ABSENT_MS);
  r.connect_ms = number<double>(f, 14, ISITUP_ABSENT_MS);
  r.tls_ms = number<double>(f, 15, ISITUP_ABSENT_MS);
  r.ttfb_ms = number<double>(f, 16, ISITUP_ABSENT_MS);
  r.total_ms = number<double>(f, 17, ISITUP_ABSENT_MS);
  r.regex_match = number<int32_t>(f, 18, ISITUP_ABSENT_INT);
  r.tls_not_after_ms = number<int64_t>(f, 19, ISITUP_ABSENT_TIME);
  r.tls_days_left = number<int32_t>(f, 20, ISITUP_ABSENT_DAYS);
  r.redirects = number<int32_t>(f, 21, ISITUP_ABSENT_INT);
  r.ip = text(22);
  r.extra_json = text(23);

  std::string line;
  isitup::pg::write_stats stats;
  if (!isitup::pg::copy_line(r, line, stats)) {
    require(line.empty() && stats.dropped == 1, "a record without a key is dropped and counted");
    return 0;
  }
  require(line.find_first_of("\n\r") == std::string::npos, "a row is one line");
  require(line != "\\.", "a row is never the end-of-data marker");
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t tab = line.find('\t', start);
    fields.push_back(std::string_view(line).substr(start, tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  require(fields.size() == isitup::pg::result_columns().size(), "one field per column");
  const bool up = r.status == ISITUP_UP;
  same_text(r.agent ? r.agent : "", fields[0]);
  same_text(r.location, fields[1]);
  same_text(r.check ? r.check : "", fields[2]);
  same_text(r.plugin ? r.plugin : "", fields[3]);
  same_text(r.target ? r.target : "", fields[4]);
  same_text(up ? nullptr : r.error_kind, fields[8]);
  same_text(up ? nullptr : r.error_message, fields[9]);
  same_text(r.http_version, fields[11]);
  return 0;
}
