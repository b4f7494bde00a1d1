// Alert state kept by a sink with its rows (ISITUP_SINK_ALERT_STATE; pg_sink on a writer):
// the state a batch carries to that sink, and what the sink hands back at start. The tracker
// (alert_tracker.cpp) decides what goes into a batch; this file only holds and converts it.
//
// Threads: a persisted_event is immutable once shared (except `released`, guarded by the
// tracker's lock). A batch_delta is built under the tracker's lock, then only read.
#pragma once

#include <isitup/plugin.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <isitup/core/alert_event.hpp>
#include <isitup/core/alert_state.hpp>
#include <isitup/core/pipeline.hpp>

namespace isitup::alert {

// An event waiting to be committed by the state sink, and the sinks it goes to after that.
struct persisted_event {
  event ev;
  std::vector<std::size_t> to;          // the tracker's sink indexes
  std::vector<std::string> sink_names;  // their config names, stored in the outbox
  bool released = false;                // handed to the sinks' queues (tracker's lock)
};

// One batch's alert state: C views over owned copies.
class batch_delta final : public batch_state {
 public:
  explicit batch_delta(std::function<void(const batch_delta&)> on_commit)
      : on_commit_(std::move(on_commit)) {}
  void add_state(const std::string& check, int64_t version, std::string state_json);
  void add_event(std::shared_ptr<persisted_event> e);
  bool empty() const { return checks_.empty() && events_.empty(); }
  // Builds the C views; call once, after the last add.
  void finish();

  const isitup_alert_state_v1* view() const override { return &c_; }
  void committed() const override { on_commit_(*this); }

  const std::vector<std::string>& checks() const { return checks_; }
  const std::vector<int64_t>& versions() const { return versions_; }
  const std::vector<std::shared_ptr<persisted_event>>& events() const { return events_; }

 private:
  std::function<void(const batch_delta&)> on_commit_;
  std::vector<std::string> checks_, states_;
  std::vector<int64_t> versions_;
  std::vector<std::shared_ptr<persisted_event>> events_;
  std::vector<isitup_check_state_v1> state_views_;
  std::vector<isitup_event_v1> event_views_;
  std::vector<std::vector<const char*>> names_;
  std::vector<isitup_outbox_event_v1> outbox_;
  isitup_alert_state_v1 c_{};
};

// What a state sink handed back at start.
struct loaded_state {
  struct check {
    check_state state;
    int64_t version = 0;
  };
  std::map<std::string, check, std::less<>> checks;
  struct pending {
    event ev;
    std::vector<std::string> sinks;
  };
  std::vector<pending> undelivered;  // in decision order
  std::size_t unreadable = 0;        // states or events that could not be decoded (dropped)
};

// Calls the sink's load_state (waiting up to `timeout`) and decodes what it hands back.
// Throws std::runtime_error with the sink's reason when it cannot load.
loaded_state load_from_sink(const isitup_sink_ops_v1& ops, void* instance,
                            std::chrono::milliseconds timeout);

// An event rebuilt from its C view (json and locations_json are recomputed). False when the
// view is not one the host made (missing fields, locations_json not an array of strings).
bool event_from_view(const isitup_event_v1& v, event& out);

}  // namespace isitup::alert
