// What the timer_queue tests share: expiries collected from one expire() call, the wheel's
// block size, and the queues every contract runs on (the map queue, and the wheel started at
// instants that stress its arithmetic). Test-only, header-only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <isitup/core/timer_queue.hpp>
#include <isitup/core/timer_wheel.hpp>

namespace isitup::test {

using expiry = std::pair<uint32_t, int64_t>;   // (id, due_ms)
constexpr int64_t k_block = int64_t{1} << 16;  // the wheel's level-1 granularity
constexpr int64_t k_day = 86'400'000;

inline std::vector<expiry> expire_all(timer_queue& q, int64_t now_ms) {
  std::vector<expiry> out;
  q.expire(now_ms, [&](uint32_t id, int64_t due_ms) { out.emplace_back(id, due_ms); });
  return out;
}

struct queue_case {
  std::string name;
  std::function<std::unique_ptr<timer_queue>()> make;
  int64_t start_ms;
  friend std::ostream& operator<<(std::ostream& os, const queue_case& c) { return os << c.name; }
};

inline std::vector<queue_case> every_queue() {
  auto wheel_at = [](std::string name, int64_t start) {
    return queue_case{std::move(name), [start] { return make_timer_wheel(start); }, start};
  };
  return {queue_case{"map", make_map_timer_queue, 1'790'000'000'000}, wheel_at("wheel_zero", 0),
          wheel_at("wheel_epoch", 1'790'000'000'123), wheel_at("wheel_negative", -123'456'789),
          wheel_at("wheel_block_edge", 7 * k_block - 1)};
}

}  // namespace isitup::test
