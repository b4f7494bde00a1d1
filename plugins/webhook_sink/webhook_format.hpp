// webhook_sink's request bodies and signature. Pure functions of an event: no I/O, no state,
// callable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace isitup::webhook {

// One state transition, copied out of the host's isitup_event_v1 (whose strings die with the
// write_events call). Absent strings are empty, absent times INT64_MIN.
struct event {
  std::string event_id;
  std::string type;  // incident_opened | incident_resolved | incident_reminder
  std::string incident_id;
  std::string check;
  std::string plugin;
  std::string target;
  int64_t at_ms = INT64_MIN;
  int64_t opened_at_ms = INT64_MIN;
  int64_t resolved_at_ms = INT64_MIN;
  std::string error_kind;
  std::string error_message;
  std::vector<std::string> locations;
  std::string json;  // the host's encoding of the whole event; empty: encode_json() makes it
};

enum class body_format { json, slack, discord };

// "2026-12-02T18:00:03.000Z"; "" for a time outside years 1970..9999.
std::string iso_time(int64_t ms);

// Parses the host's locations_json (a JSON array of strings). False when it is not one;
// non-string items are skipped.
bool parse_locations(std::string_view json, std::vector<std::string>& out);

// The event object of event.schema.json, one line, no newline.
std::string encode_json(const event& e);

// Slack incoming-webhook message: {"text": fallback, "blocks": [section, context]}.
// Strings are escaped for Slack's mrkdwn (&, <, >) so nothing in them can mention anyone.
std::string slack_body(const event& e);

// Discord execute-webhook message: {"content", "embeds": [one embed], "allowed_mentions":
// {"parse": []}}, every string cut to Discord's limits.
std::string discord_body(const event& e);

// The request body of an event in a format (json: e.json when set, with invalid UTF-8
// replaced by U+FFFD; else encode_json(e)).
std::string body_for(body_format f, const event& e);

// The X-Isitup-Signature value: "t=<unix_seconds>,sha256=<hex HMAC-SHA256(secret,
// "<unix_seconds>.<body>")>".
std::string signature(std::string_view secret, int64_t unix_seconds, std::string_view body);

// `s` with every invalid UTF-8 sequence replaced by U+FFFD, cut to at most `max_chars` code
// points (an ellipsis marks a cut).
std::string clean_utf8(std::string_view s, size_t max_chars = SIZE_MAX);

}  // namespace isitup::webhook
