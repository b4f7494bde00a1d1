// A state transition as the agent hands it to sinks and keeps it in its journal: an owned
// event built from an alert::transition, its documented JSON (the `json` field of
// isitup_event_v1, the webhook body) and its journal encoding. Pure functions, any thread.
#pragma once

#include <isitup/plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/alert_state.hpp>

namespace isitup::alert {

struct event {
  std::string event_id, type, incident_id, check, plugin, target;
  int64_t at_ms = 0;
  int64_t opened_at_ms = 0;
  int64_t resolved_at_ms = ISITUP_ABSENT_TIME;
  std::string error_kind, error_message;
  std::vector<std::string> locations;
  std::string locations_json;  // derived: the JSON array of `locations`
  std::string json;            // derived: the documented event object

  // Fills locations_json and json from the fields.
  void finish();
  // A C view pointing into this object; valid while it lives unchanged.
  isitup_event_v1 view() const;
};

// The event of transition `t` of a check with this plugin and target (userinfo is removed).
event make_event(const transition& t, std::string_view check, std::string_view plugin,
                 std::string_view target);

// "https://user:pw@host/x" -> "https://host/x"; anything else unchanged.
std::string without_userinfo(std::string_view target);

// The journal's encodings: one JSON object each, no newline. decode_* return false on
// anything malformed (a torn or foreign line).
std::string encode_event(const event& e);
bool decode_event(const void* json_value, event& out);  // a rapidjson::Value*
std::string encode_state(const check_state& s);
bool decode_state(const void* json_value, check_state& out);  // a rapidjson::Value*

}  // namespace isitup::alert
