// A deterministic status_view shaped like a real fleet, for the status page's size test and
// benchmark: most checks fully up, 4 % of days with failures, every 97th check down with an open
// incident.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "status_model.hpp"

namespace isitup::testing {

inline status_view sample_status_view(int checks, int64_t now_ms = 1'796'200'000'000) {
  constexpr int64_t day = 86'400'000, half_hour = 1'800'000;
  std::mt19937 random(12345);  // the same sequence everywhere
  const auto next = [&random](uint32_t below) { return static_cast<uint32_t>(random() % below); };
  status_view v;
  v.generated_at_ms = now_ms;
  v.agent = "agent-1";
  v.location = "eu-west";
  for (int i = 0; i < checks; ++i) {
    char name[64], target[96];
    std::snprintf(name, sizeof name, "service-%04d.example.org", i);
    std::snprintf(target, sizeof target, "https://service-%04d.example.org/healthz", i);
    check_view c;
    c.name = name;
    c.target = target;
    c.plugin = "http_check";
    c.group = "team-" + std::to_string(i / 50);
    c.interval_ms = 30'000;
    const bool down = i % 97 == 3;
    c.state = down ? status_state::down : status_state::up;
    c.state_since_ms = now_ms - static_cast<int64_t>(next(30 * 86'400)) * 1000;
    const int64_t first_day = (now_ms / day - 89) * day;
    uint64_t up = 0, total = 0;
    for (int d = 0; d < 90; ++d) {
      status_segment s{first_day + d * day, first_day + (d + 1) * day, 2880, 2880};
      if (next(100) < 4) s.up -= 1 + next(200);
      if (down && d == 89) s.up = 1000;
      up += s.up;
      total += s.total;
      c.segments.push_back(s);
    }
    c.uptime.h24 = static_cast<double>(c.segments.back().up) / c.segments.back().total;
    c.uptime.d7 = c.uptime.d30 = c.uptime.d90 = static_cast<double>(up) / total;
    for (int k = 0; k < 48; ++k) {
      const double p50 = 60 + next(40);
      c.latency.push_back({now_ms - day + k * half_hour, p50, p50 * 2 + next(200)});
    }
    if (down) {
      v.incidents.push_back({"inc-" + std::to_string(i),
                             c.name,
                             "connect_failed",
                             "connection refused",
                             now_ms - 3'600'000,
                             0,
                             {}});
      c.last = last_result_view{now_ms - 10'000,      false,        "connect_failed",
                                "connection refused", std::nullopt, std::nullopt};
    }
    v.checks.push_back(std::move(c));
  }
  return v;
}

}  // namespace isitup::testing
