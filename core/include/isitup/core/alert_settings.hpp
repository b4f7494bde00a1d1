// How a check's results become state and incidents: the `alert:` settings of the config
// (defaults.alert, overridden key by key by a check's own `alert:`). Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace isitup {

struct alert_settings {
  enum class quorum_rule { count, majority, all };

  bool enabled = true;        // false: no state, no incidents for the check (results still flow)
  int failure_threshold = 3;  // consecutive down results that turn a location down
  int success_threshold = 2;  // consecutive up results that turn it up again
  quorum_rule rule = quorum_rule::count;
  int quorum = 1;           // with rule count: locations that must be down
  int64_t renotify_ms = 0;  // a reminder while an incident stays open; 0 = none
  // A location whose newest result is this much older than the check's newest result (from any
  // location) is forgotten: it no longer counts towards quorum. 0 = never forgotten.
  int64_t location_ttl_ms = 600'000;
  std::vector<std::string> notify;  // notifier sink names

  bool operator==(const alert_settings&) const = default;
};

}  // namespace isitup
