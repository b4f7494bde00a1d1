// Text formatting for the status page (internal to isitup_status_page): times, durations and
// percentages as the page shows them. Pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace isitup::status_text {

// "2026-12-02 21:40 UTC"; with_time = false: "2026-12-02".
std::string utc(int64_t ms, bool with_time = true);

// A duration as its two largest units: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
std::string duration(int64_t ms);

// An interval as the config would say it: "30 s", "5 min", "1 h", "1500 ms".
std::string interval(int64_t ms);

// A fraction in [0, 1] as a percentage, rounded down to two decimals so that 99.999 % never
// shows as 100 %: "100%", "99.98%", "0%".
std::string percent(double fraction);

// Milliseconds for humans: "0.4 ms", "12 ms", "1.25 s".
std::string millis(double ms);

}  // namespace isitup::status_text
