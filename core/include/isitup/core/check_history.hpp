// Recent results of the agent's own checks, in memory, for its HTTP interface: a bounded ring
// of compact results per check, the check's current state and since when, and up/total
// counts per half hour (48) and per day (90) for uptime bars. Nothing is persisted.
//
// Bounds: a ring holds `capacity` results (given when the check is first seen; the agent
// sizes it so that all rings together hold about 500,000); the buckets are fixed. Strings
// from a result are cut (error_kind to 15 bytes; only the last down result's message is
// kept, cut to 256 bytes).
//
// Threads: check_ring::add from any thread (check completions), one lock per check, a few
// stores. check_history's registry is changed by the agent's main thread (publish) and read
// by any thread (rings(), find()); snapshots copy under the ring's lock.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <isitup/core/record.hpp>

namespace isitup {

struct history_result {
  int64_t at_ms = 0;  // scheduled_at
  bool up = false;
  int32_t http_code = 0;  // 0: none
  // Milliseconds; negative: absent.
  float total_ms = -1, dns_ms = -1, connect_ms = -1, tls_ms = -1, ttfb_ms = -1;
  char error_kind[16] = {};
};

struct history_bucket {
  int64_t start_ms = 0;  // 0: empty
  uint32_t total = 0, up = 0;
};

// What describes a check (from its config), kept with its ring.
struct check_info {
  std::string name, plugin, target /* userinfo redacted */, group;
  int64_t interval_ms = 0, timeout_ms = 0;
};

struct check_snapshot {
  check_info info;
  std::vector<history_result> results;  // oldest first, at most `last` of them
  std::size_t capacity = 0;
  uint64_t total = 0;              // results seen since the agent started
  std::optional<bool> up;          // the last result's; none before the first
  int64_t state_since_ms = 0;      // scheduled_at of the first result of the current up/down run
  std::string last_error_message;  // of the last down result
  std::array<history_bucket, 48> half_hours{};
  std::array<history_bucket, 90> days{};
};

class check_ring {
 public:
  check_ring(check_info info, std::size_t capacity);
  const std::string& name() const { return name_; }  // never changes
  void add(const record& r);
  void set_info(check_info info);
  // The info and the newest `last` results (all when larger than the ring).
  check_snapshot snapshot(std::size_t last = SIZE_MAX) const;
  // Only what /metrics needs: the last result, if any.
  std::optional<history_result> last() const;

  static constexpr int64_t half_hour_ms = 1'800'000;
  static constexpr int64_t day_ms = 86'400'000;

 private:
  const std::string name_;
  mutable std::mutex mu_;
  check_info info_;
  std::vector<history_result> ring_;
  std::size_t next_ = 0;  // where the next result goes
  uint64_t total_ = 0;
  std::optional<bool> up_;
  int64_t since_ms_ = 0;
  std::string last_error_;
  std::array<history_bucket, 48> half_hours_{};
  std::array<history_bucket, 90> days_{};
};

class check_history {
 public:
  static constexpr std::size_t total_budget = 500'000;  // results over all rings
  // The ring of a configured check: its existing one (info updated, results kept) or a new
  // one sized for `checks` configured checks. Main thread.
  std::shared_ptr<check_ring> ring_for(const check_info& info, std::size_t checks);
  // The rings of the running checks, in config order; others are dropped. Main thread.
  void publish(std::vector<std::shared_ptr<check_ring>> rings);
  std::vector<std::shared_ptr<check_ring>> rings() const;
  std::shared_ptr<check_ring> find(const std::string& name) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<check_ring>> order_;
  std::map<std::string, std::shared_ptr<check_ring>, std::less<>> by_name_;
};

}  // namespace isitup
