// The agent's side of the C ABI: the service table (isitup_host_v1) every plugin receives,
// and the objects behind its opaque handles.
#pragma once

#include <isitup/plugin.h>
#include <isitup/util/log_limit.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/options.hpp>
#include <isitup/core/record.hpp>

// Completes the opaque C type: one validated options section.
struct isitup_options {
  isitup::option_values values;  // the options given in the config section
  // Every declared option's default, shared by all sections of one plugin kind (so 100k
  // checks do not each hold a copy). May be null: then values holds everything.
  std::shared_ptr<const isitup::option_values> defaults;
};

// Completes the opaque C type: one plugin instance's link to the host. Lives at least as long
// as the instance (the agent destroys the instance first).
struct isitup_host_ctx {
  using submit_fn = std::function<uint32_t(const isitup_record_v1* const*, size_t, uint64_t)>;

  using partitions_fn = std::function<void(uint32_t, const int32_t*, size_t)>;
  // submit with where the records were read (validated by the host table; may be null).
  using submit_at_fn = std::function<uint32_t(const isitup_record_v1* const*, size_t, uint64_t,
                                              const isitup_positions_v1*)>;
  using claim_fn = std::function<uint32_t(isitup_positions_v1&, int64_t, std::string&)>;
  // submit_at of records the host decoded and validated already (isitup_host_v1.submit_parsed):
  // taken as they are; `records` is left unchanged unless the result is ISITUP_OK.
  using submit_records_fn =
      std::function<uint32_t(std::vector<isitup::record>&, uint64_t, const isitup_positions_v1*)>;

  explicit isitup_host_ctx(std::string label) : label(std::move(label)) {}
  std::string label;                 // "plugin.instance", the prefix of every log line
  submit_fn submit;                  // set for sources
  partitions_fn partitions;          // set for sources: isitup_host_v1.source_partitions
  submit_at_fn submit_at;            // set for sources: isitup_host_v1.submit_at
  claim_fn claim;                    // set for sources: isitup_host_v1.claim_positions
  submit_records_fn submit_records;  // set for sources: isitup_host_v1.submit_parsed
  // Set for sources: whether n more records would fit in the pipeline now (a cheap look, so
  // that a refused offer costs nothing else).
  std::function<bool(std::size_t)> has_room;

  // Self-metrics: named counters, read by the status line. Bounded: a name is cut to
  // max_counter_name bytes with anything but [A-Za-z0-9_.-] made '_', and past
  // max_counters distinct names the rest add up under "other".
  static constexpr std::size_t max_counters = 32;
  static constexpr std::size_t max_counter_name = 64;
  void add(std::string_view name, int64_t delta);
  std::map<std::string, int64_t> counters() const;
  // "name=value, ..." of the non-zero counters; empty when there are none.
  std::string counters_text() const;

  // Log rate limiting: the same message at warn or above is printed at most once a second;
  // the number suppressed is appended to the next one printed.
  bool should_log(uint32_t level, const std::string& message, std::string& suffix);

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counters_;
  std::string last_message_;
  isitup::sdk::log_budget repeats_{1, 1000};  // of last_message_
};

namespace isitup {

// The one service table, with static storage duration.
const isitup_host_v1* host_table();

}  // namespace isitup
