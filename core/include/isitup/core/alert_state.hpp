// The alert state machine: from a check's results to its state and incidents, as a pure
// function of (state, result, settings), so it can be replayed and tested without a clock.
//
// Per (check, location) with hysteresis: a location turns down after failure_threshold
// consecutive down results and up again after success_threshold consecutive up results; a run
// shorter than its threshold changes nothing (flapping opens nothing). A check is down when
// at least required_down() of its known locations are down. The check turning down opens an
// incident, turning up resolves it; while one is open, renotify adds reminders.
//
// A location that stops reporting is forgotten once its newest result is older than the
// result being stepped (from any location of the check) by more than location_ttl and by more
// than 3 intervals of the reporting location (the time since its previous result, so checks
// that run less often than location_ttl keep their locations): it no longer counts as known nor
// as down, so the check's state is decided by the locations still reporting (which may resolve
// an open incident). A forgotten location that reports again starts afresh, as up; one of its
// old results read again (from before it was forgotten) is ignored. The incident's list of
// locations keeps it.
//
// Times are the results' scheduled_at (epoch ms), never the wall clock: replaying the same
// results gives the same transitions, with the same ids. A result not newer than the last one
// seen from its location is ignored (a duplicate, or a replay after a restart).
//
// Not thread-safe: one check's state is stepped by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/alert_settings.hpp>

namespace isitup::alert {

// One result as the state machine sees it. Strings are only read during step().
struct observation {
  std::string_view location;  // the result's location, or its agent's id when it has none
  int64_t scheduled_at_ms = 0;
  bool up = false;
  std::string_view error_kind;     // down only
  std::string_view error_message;  // down only
};

struct location_state {
  bool down = false;
  int streak = 0;               // consecutive results that disagree with `down`
  int64_t streak_since_ms = 0;  // scheduled_at of the streak's first result
  std::string streak_error_kind, streak_error_message;  // of a down streak's first result
  int64_t down_since_ms = 0;  // while down: the first down result of the run that turned it
  std::string down_error_kind, down_error_message;
  int64_t last_ms = INT64_MIN;  // the newest scheduled_at seen from this location
};

struct incident {
  std::string id;  // 32 hex digits, derived from the check, opened_at and the known locations
  int64_t opened_at_ms = 0;
  std::string error_kind, error_message;  // of the result that opened_at points to
  std::vector<std::string> locations;     // every location seen down during it, sorted
  int64_t last_notified_ms = 0;           // opened or last reminder
  uint32_t reminders = 0;
};

struct check_state {
  std::map<std::string, location_state, std::less<>> locations;
  std::optional<incident> open;
  uint64_t forgotten = 0;  // locations step() forgot so far (for the log; not persisted)
};

enum class transition_type { opened, resolved, reminder };
const char* to_string(transition_type t);  // "incident_opened", ...

struct transition {
  transition_type type = transition_type::opened;
  std::string event_id;  // 32 hex digits: the same whenever this transition is computed
  incident inc;          // the incident as it stands after the transition
  int64_t at_ms = 0;     // scheduled_at of the result that decided it
  std::optional<int64_t> resolved_at_ms;  // resolved: the first up result of the recovery
};

// Locations that must be down for the check to be down, out of `known` (at least 1). With a
// count larger than `known` the check cannot be down until more locations report.
std::size_t required_down(const alert_settings& s, std::size_t known);

// Forgets every location whose newest result is older than now_ms - silence_ms (none when
// silence_ms <= 0); returns how many. step() calls it with the result's scheduled_at and
// forget_after().
std::size_t forget_silent_locations(check_state& state, int64_t now_ms, int64_t silence_ms);

// How long a location may be silent before step() forgets it, seen from a result at now_ms of a
// location whose previous result was at previous_ms (INT64_MIN: none): location_ttl, or 3 times
// that location's interval when longer; 0 (never) when location_ttl is 0.
int64_t forget_after(const alert_settings& s, int64_t previous_ms, int64_t now_ms);

// Whether a result at at_ms from a location the state does not know is too old to count:
// older than the check's newest result by more than location_ttl (0: never). A forgotten
// location's results are all that old, so one read again (a replay after a restart) does not
// bring the location back as new.
bool too_old_for_a_new_location(const check_state& state, int64_t at_ms, const alert_settings& s);

// Feeds one result of `check` to its state; returns the transition it caused, if any.
std::optional<transition> step(check_state& state, std::string_view check, const observation& o,
                               const alert_settings& s);

// A stable 32-hex-digit id: the SHA-1 name-based UUID of the parts (joined unambiguously).
std::string stable_id(std::initializer_list<std::string_view> parts);

}  // namespace isitup::alert
