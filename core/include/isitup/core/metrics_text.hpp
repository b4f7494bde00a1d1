// Prometheus text exposition format 0.0.4, written by hand from the format's spec: a family
// (# HELP, # TYPE) then its samples, label values escaped (\\, \", \n), numbers as Go's
// strconv would print them (+Inf, NaN). And a lock-free histogram for hot paths.
//
// Threads: prom_writer is used by one thread; latency_histogram::observe from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isitup {

using prom_labels = std::vector<std::pair<std::string_view, std::string_view>>;

class prom_writer {
 public:
  // type: "counter", "gauge" or "histogram". Call once per family, before its samples.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const prom_labels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// A label value with \, " and newline escaped.
std::string prom_escape(std::string_view value);

// Observations in milliseconds, exposed in seconds, buckets fixed at construction.
class latency_histogram {
 public:
  static constexpr std::array<double, 12> bounds_s = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,   1,    2.5,   5,    10};
  void observe_ms(int64_t ms);
  // Writes `name`_bucket/_sum/_count (the family line is the caller's).
  void write(prom_writer& w, std::string_view name) const;

 private:
  std::array<std::atomic<uint64_t>, bounds_s.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_ms_{0};
};

}  // namespace isitup
