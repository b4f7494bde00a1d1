// History for the status page from a sink that stores results (ISITUP_SINK_HISTORY, e.g.
// pg_sink on a writer agent): 90 daily and 24 hourly buckets per check, read through the
// sink's read_history, validated, bounded and cached.
//
// Everything a sink hands over is hostile: a bucket of another length, not aligned to it,
// outside the query, with more up than results, a non-finite or negative percentile, or a
// check name longer than max_name is dropped and counted; at most max_checks checks are kept.
//
// Threads: sink_history_cache::get from any thread (the listener's workers). One thread of the
// cache's own calls read_history, one call at a time, never from the scheduler or pipeline.
#pragma once

#include <isitup/plugin.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace isitup {

struct stored_bucket {
  int64_t start_ms = 0;  // 0: no data
  uint32_t results = 0, up = 0;
  float p50_ms = -1, p95_ms = -1;  // negative: none
};

// One check's stored history: days[i] is the UTC day first_day_ms + i * day, hours[i] the UTC
// hour first_hour_ms + i * hour (both in sink_history).
struct stored_check {
  std::array<stored_bucket, 90> days{};
  std::array<stored_bucket, 24> hours{};
};

struct sink_history {
  static constexpr int64_t day_ms = 86'400'000, hour_ms = 3'600'000;
  static constexpr std::size_t max_checks = 10'000, max_name = 512;

  std::string sink;           // the sink's config name
  int64_t asked_at_ms = 0;    // when the reads began: results after it are not in here
  int64_t first_day_ms = 0;   // the oldest of the 90 UTC days asked for
  int64_t first_hour_ms = 0;  // the oldest of the 24 UTC hours asked for
  bool ok = false;            // both reads answered ISITUP_OK
  std::string error;          // why not (the sink's reason), empty when ok
  uint64_t dropped = 0;       // buckets refused (invalid, or past max_checks)
  std::map<std::string, stored_check, std::less<>> checks;

  // The query bounds for `now`: 90 days ending with today, 24 hours ending with this hour.
  static sink_history for_time(std::string sink, int64_t now_ms);
  // Takes one bucket of a read of `length_ms` (day_ms or hour_ms), or drops it.
  void add(const isitup_history_bucket_v1& b, int64_t length_ms);
};

// Reads both ranges through the sink (blocking up to 2 x timeout). Any thread but the
// scheduler's and the pipeline's; never twice at once on one sink instance.
sink_history read_sink_history(const isitup_sink_ops_v1& ops, void* instance, std::string sink,
                               int64_t now_ms, int64_t timeout_ms);

class sink_history_cache {
 public:
  using reader = std::function<sink_history(int64_t now_ms)>;
  // `read` is called on the cache's thread only; `now` gives epoch ms (any thread).
  sink_history_cache(reader read, std::function<int64_t()> now,
                     std::chrono::milliseconds max_age = std::chrono::seconds(30));
  ~sink_history_cache();  // waits for a read in progress (bounded by the sink's timeout)
  sink_history_cache(const sink_history_cache&) = delete;
  sink_history_cache& operator=(const sink_history_cache&) = delete;

  // The newest answer. When it is older than max_age (or there is none), asks for a read
  // unless one runs, and waits up to `wait` for it; then returns what there is (possibly the
  // older answer, or nullptr before the first).
  std::shared_ptr<const sink_history> get(std::chrono::milliseconds wait);
  uint64_t reads() const;  // reads done so far

 private:
  void loop();
  reader read_;
  std::function<int64_t()> now_;
  const int64_t max_age_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const sink_history> latest_;
  int64_t latest_at_ms_ = 0;
  bool wanted_ = false, reading_ = false, stop_ = false;
  uint64_t reads_ = 0;
  std::thread thread_;
};

}  // namespace isitup
