#include <isitup/core/alert_state.hpp>

#include <algorithm>
#include <utility>

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid.hpp>

namespace isitup::alert {

namespace {

bool check_is_down(const check_state& st, const alert_settings& s) {
  std::size_t down = 0;
  for (const auto& [name, l] : st.locations) down += l.down ? 1 : 0;
  return down >= required_down(s, st.locations.size());
}

// Advances one location's hysteresis; true when it changed between up and down.
bool advance(location_state& l, const observation& o, const alert_settings& s) {
  if (o.up != l.down) {  // agrees with the current state
    l.streak = 0;
    return false;
  }
  if (l.streak == 0) {
    l.streak_since_ms = o.scheduled_at_ms;
    l.streak_error_kind = o.up ? "" : std::string(o.error_kind);
    l.streak_error_message = o.up ? "" : std::string(o.error_message);
  }
  ++l.streak;
  if (l.streak < (l.down ? s.success_threshold : s.failure_threshold)) return false;
  l.down = !l.down;
  l.streak = 0;
  if (l.down) {
    l.down_since_ms = l.streak_since_ms;
    l.down_error_kind = l.streak_error_kind;
    l.down_error_message = l.streak_error_message;
  }
  return true;
}

void add_down_locations(const check_state& st, incident& inc) {
  for (const auto& [name, l] : st.locations)
    if (l.down && !std::binary_search(inc.locations.begin(), inc.locations.end(), name))
      inc.locations.insert(std::upper_bound(inc.locations.begin(), inc.locations.end(), name),
                           name);
}

incident open_incident(const check_state& st, std::string_view check, int64_t at_ms) {
  incident inc;
  const location_state* first = nullptr;  // the location down the longest
  for (const auto& [name, l] : st.locations)
    if (l.down && (!first || l.down_since_ms < first->down_since_ms)) first = &l;
  inc.opened_at_ms = first->down_since_ms;
  inc.error_kind = first->down_error_kind;
  inc.error_message = first->down_error_message;
  // The known locations are part of the id: a probe's incident for its own location and a
  // writer's over several locations can share check and opened_at, but are not one event.
  std::string known;
  for (const auto& [name, l] : st.locations)
    known.append(std::to_string(name.size())).append(":").append(name);
  inc.id = stable_id({"incident", check, std::to_string(inc.opened_at_ms), known});
  inc.last_notified_ms = at_ms;
  add_down_locations(st, inc);
  return inc;
}

}  // namespace

const char* to_string(transition_type t) {
  switch (t) {
    case transition_type::opened:
      return "incident_opened";
    case transition_type::resolved:
      return "incident_resolved";
    case transition_type::reminder:
      return "incident_reminder";
  }
  return "incident_opened";
}

std::size_t required_down(const alert_settings& s, std::size_t known) {
  switch (s.rule) {
    case alert_settings::quorum_rule::majority:
      return known / 2 + 1;
    case alert_settings::quorum_rule::all:
      return std::max<std::size_t>(known, 1);
    case alert_settings::quorum_rule::count:
      break;
  }
  return static_cast<std::size_t>(std::max(s.quorum, 1));
}

std::size_t forget_silent_locations(check_state& st, int64_t now_ms, int64_t silence_ms) {
  if (silence_ms <= 0 || now_ms < INT64_MIN + silence_ms) return 0;
  const int64_t oldest_kept = now_ms - silence_ms;
  return std::erase_if(st.locations, [&](const auto& e) { return e.second.last_ms < oldest_kept; });
}

int64_t forget_after(const alert_settings& s, int64_t previous_ms, int64_t now_ms) {
  if (s.location_ttl_ms <= 0) return 0;
  if (previous_ms == INT64_MIN || previous_ms >= now_ms) return s.location_ttl_ms;
  const uint64_t interval = static_cast<uint64_t>(now_ms) - static_cast<uint64_t>(previous_ms);
  if (interval > static_cast<uint64_t>(INT64_MAX / 3)) return INT64_MAX;
  return std::max(s.location_ttl_ms, 3 * static_cast<int64_t>(interval));
}

bool too_old_for_a_new_location(const check_state& st, int64_t at_ms, const alert_settings& s) {
  if (s.location_ttl_ms <= 0) return false;
  int64_t newest = INT64_MIN;
  for (const auto& [name, l] : st.locations) newest = std::max(newest, l.last_ms);
  return newest > INT64_MIN + s.location_ttl_ms && at_ms < newest - s.location_ttl_ms;
}

std::optional<transition> step(check_state& st, std::string_view check, const observation& o,
                               const alert_settings& s) {
  auto it = st.locations.find(o.location);
  if (it == st.locations.end()) {
    if (too_old_for_a_new_location(st, o.scheduled_at_ms, s)) return std::nullopt;
    it = st.locations.emplace(std::string(o.location), location_state{}).first;
  }
  location_state& l = it->second;
  if (o.scheduled_at_ms <= l.last_ms) return std::nullopt;
  const int64_t previous_ms = std::exchange(l.last_ms, o.scheduled_at_ms);
  st.forgotten += forget_silent_locations(st, o.scheduled_at_ms,
                                          forget_after(s, previous_ms, o.scheduled_at_ms));
  const bool changed = advance(l, o, s);
  const bool down = check_is_down(st, s);
  if (!st.open && !down) return std::nullopt;  // up and staying up: most results

  transition t;
  t.at_ms = o.scheduled_at_ms;
  if (!st.open) {
    st.open = open_incident(st, check, o.scheduled_at_ms);
    t.type = transition_type::opened;
    t.event_id = stable_id({st.open->id, "opened"});
    t.inc = *st.open;
    return t;
  }
  if (!down) {
    t.type = transition_type::resolved;
    t.event_id = stable_id({st.open->id, "resolved"});
    t.resolved_at_ms = changed && !l.down ? l.streak_since_ms : o.scheduled_at_ms;
    t.inc = std::move(*st.open);
    st.open.reset();
    return t;
  }
  add_down_locations(st, *st.open);
  if (s.renotify_ms <= 0 || o.scheduled_at_ms - st.open->last_notified_ms < s.renotify_ms)
    return std::nullopt;
  incident& inc = *st.open;
  ++inc.reminders;
  inc.last_notified_ms = o.scheduled_at_ms;
  t.type = transition_type::reminder;
  t.event_id = stable_id({inc.id, "reminder", std::to_string(inc.reminders)});
  t.inc = inc;
  return t;
}

std::string stable_id(std::initializer_list<std::string_view> parts) {
  // A fixed namespace for isitup's ids (itself a random UUID, chosen once).
  static const boost::uuids::uuid ns = {{0x5c, 0x1e, 0x0b, 0x7a, 0x93, 0x4d, 0x4f, 0x21, 0xa6, 0x08,
                                         0x3e, 0x52, 0xd1, 0x9c, 0x7f, 0x44}};
  std::string name;
  for (std::string_view p : parts) {
    name += std::to_string(p.size());  // length-prefixed: ("ab","c") differs from ("a","bc")
    name += ':';
    name.append(p);
  }
  const boost::uuids::uuid u = boost::uuids::name_generator_sha1(ns)(name);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (uint8_t b : u) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace isitup::alert
