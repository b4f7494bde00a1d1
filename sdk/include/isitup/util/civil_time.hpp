// isitup plugin SDK utility, header-only (C++17): UTC calendar arithmetic and the time text of
// the result record ("2026-11-27T18:00:00.000Z"), without the C library's time zone state.
// Pure functions, thread-safe. Proleptic Gregorian calendar, day 0 = 1970-01-01; the
// conversions are Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace isitup::sdk {

constexpr int64_t ms_per_day = 86'400'000;
// The range format_utc_ms() writes: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
constexpr int64_t earliest_utc_text_ms = -62'167'219'200'000;
constexpr int64_t latest_utc_text_ms = 253'402'300'799'999;
constexpr std::size_t utc_text_length = 24;          // "2026-11-27T18:00:00.000Z"
constexpr std::size_t utc_seconds_text_length = 20;  // "2026-11-27T18:00:00Z"

struct civil_date {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Days since 1970-01-01 of a date (month 1..12, day 1..31; not checked).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The date `z` days after 1970-01-01 (negative: before).
constexpr civil_date civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

constexpr bool is_leap_year(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

// Days in month `m` (1..12) of year `y`.
constexpr unsigned days_in_month(int64_t y, unsigned m) {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

// Milliseconds since the epoch as whole days and the milliseconds into the last one (floor
// division: -1 ms is day -1 at 86'399'999).
struct day_and_time {
  int64_t days;
  int64_t ms_of_day;
};
constexpr day_and_time split_epoch_ms(int64_t ms) {
  int64_t days = ms / ms_per_day, rest = ms % ms_per_day;
  if (rest < 0) {
    rest += ms_per_day;
    --days;
  }
  return {days, rest};
}

// Writes `value` (>= 0) as exactly `width` decimal digits at p, the leading ones cut off.
inline void put_digits(char* p, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) p[i] = static_cast<char>('0' + value % 10);
}

// "YYYY-MM-DD" (10 bytes, no NUL) for `days` since 1970-01-01; years 0..9999.
inline void put_date(int64_t days, char* out) {
  const civil_date date = civil_from_days(days);
  put_digits(out, date.year, 4);
  out[4] = '-';
  put_digits(out + 5, date.month, 2);
  out[7] = '-';
  put_digits(out + 8, date.day, 2);
}

// "HH:MM:SS.mmm" (12 bytes, no NUL) for `ms_of_day` in 0..86'399'999.
inline void put_time_of_day(int64_t ms_of_day, char* out) {
  put_digits(out, ms_of_day / 3'600'000, 2);
  out[2] = ':';
  put_digits(out + 3, ms_of_day / 60'000 % 60, 2);
  out[5] = ':';
  put_digits(out + 6, ms_of_day / 1000 % 60, 2);
  out[8] = '.';
  put_digits(out + 9, ms_of_day % 1000, 3);
}

// Writes `ms` since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (utc_text_length bytes, no NUL);
// false, writing nothing, outside earliest_utc_text_ms..latest_utc_text_ms.
inline bool format_utc_ms(int64_t ms, char* out) {
  if (ms < earliest_utc_text_ms || ms > latest_utc_text_ms) return false;
  const day_and_time t = split_epoch_ms(ms);
  put_date(t.days, out);
  out[10] = 'T';
  put_time_of_day(t.ms_of_day, out + 11);
  out[23] = 'Z';
  return true;
}

// format_utc_ms() as a string; empty when out of range.
inline std::string utc_text(int64_t ms) {
  char text[utc_text_length];
  return format_utc_ms(ms, text) ? std::string(text, utc_text_length) : std::string();
}

// The second `ms` falls in as "YYYY-MM-DDTHH:MM:SSZ" (utc_seconds_text_length bytes, no NUL),
// for text read by people; same range as format_utc_ms().
inline bool format_utc_seconds(int64_t ms, char* out) {
  char text[utc_text_length];
  if (!format_utc_ms(ms, text)) return false;
  std::memcpy(out, text, 19);
  out[19] = 'Z';
  return true;
}

// format_utc_seconds() as a string; empty when out of range.
inline std::string utc_seconds_text(int64_t ms) {
  char text[utc_seconds_text_length];
  return format_utc_seconds(ms, text) ? std::string(text, utc_seconds_text_length) : std::string();
}

// Reads "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.mmmZ" (a real date, hours 0..23,
// minutes and seconds 0..59) into `ms`; false, leaving `ms` alone, for anything else.
inline bool parse_utc_ms(const char* text, std::size_t size, int64_t& ms) {
  if (size != 20 && size != 24) return false;
  const char* t = text;
  if (t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' ||
      t[size - 1] != 'Z')
    return false;
  const auto digits = [t](std::size_t pos, std::size_t width, int64_t& value) {
    value = 0;
    for (std::size_t i = pos; i < pos + width; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      value = value * 10 + (t[i] - '0');
    }
    return true;
  };
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!digits(0, 4, year) || !digits(5, 2, month) || !digits(8, 2, day) || !digits(11, 2, hour) ||
      !digits(14, 2, minute) || !digits(17, 2, second))
    return false;
  if (size == 24 && (t[19] != '.' || !digits(20, 3, millis))) return false;
  if (month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 || minute > 59 ||
      second > 59)
    return false;
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  ms = days * ms_per_day + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  return true;
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(0, 1, 1) * ms_per_day == earliest_utc_text_ms);
static_assert(days_from_civil(10000, 1, 1) * ms_per_day - 1 == latest_utc_text_ms);

}  // namespace isitup::sdk
