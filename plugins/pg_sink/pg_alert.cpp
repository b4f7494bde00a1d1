#include "pg_alert.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <set>
#include <string_view>

namespace isitup::pg {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(json_writer& w, const char* key, const char* value) {
  w.Key(key);
  const char* v = value ? value : "";
  w.String(v, static_cast<rapidjson::SizeType>(std::strlen(v)));
}

void raw(json_writer& w, const char* key, const char* json, const char* fallback) {
  w.Key(key);
  const char* v = json && *json ? json : fallback;
  w.RawValue(v, std::strlen(v), rapidjson::kObjectType);
}

void time_ms(json_writer& w, const char* key, int64_t ms) {
  w.Key(key);
  if (ms == ISITUP_ABSENT_TIME)
    w.Null();
  else
    w.Int64(ms);
}

// The newest state of each check and each event once (the first time it appears).
bool wanted(const char* check, const std::string* only) {
  return !only || (check && *only == check);
}

// Appends `v` as one element of a PostgreSQL array literal: double-quoted, with `"` and `\`
// escaped by a backslash (array_in's rules), so any text (a check name from Kafka) stays one
// element.
void array_element(std::string& out, std::string_view v) {
  out += out.empty() ? "{\"" : ",\"";
  for (const char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// The newest state of each check, as three parallel array literals (text[], bigint[], text[]
// of JSON) for unnest(). One JSON document of every state (jsonb_to_recordset) was parsed
// whole and then taken apart again, about a third of the statement's time with 1,000 states;
// the state column is text since migration 9, so PostgreSQL does not parse a state at all
// (the agent does, when it loads them).
struct state_arrays {
  std::string checks, versions, states;
  std::size_t count = 0;
};

state_arrays states_arrays(const std::vector<const isitup_alert_state_v1*>& deltas,
                           const std::string* only) {
  std::map<std::string_view, const isitup_check_state_v1*> newest;
  for (const isitup_alert_state_v1* d : deltas)
    for (std::size_t i = 0; i < d->state_count; ++i) {
      const isitup_check_state_v1& s = d->states[i];
      if (!wanted(s.check, only)) continue;
      auto [it, fresh] = newest.emplace(s.check, &s);
      if (!fresh && it->second->version < s.version) it->second = &s;
    }
  state_arrays a;
  a.count = newest.size();
  if (a.count == 0) return a;
  for (const auto& [check, s] : newest) {
    array_element(a.checks, check);
    a.versions += a.versions.empty() ? "{" : ",";
    a.versions += std::to_string(s->version);
    array_element(a.states, s->state_json && *s->state_json ? s->state_json : "{}");
  }
  a.checks += '}';
  a.versions += '}';
  a.states += '}';
  return a;
}

std::string events_json(const std::vector<const isitup_alert_state_v1*>& deltas, std::size_t& count,
                        const std::string* only) {
  std::set<std::string_view> seen;
  rapidjson::StringBuffer b;
  json_writer w(b);
  w.StartArray();
  count = 0;
  for (const isitup_alert_state_v1* d : deltas)
    for (std::size_t i = 0; i < d->event_count; ++i) {
      const isitup_outbox_event_v1& o = d->events[i];
      const isitup_event_v1& e = *o.event;
      if (!wanted(e.check, only) || !seen.insert(e.event_id).second) continue;
      w.StartObject();
      w.Key("ord");
      w.Int64(static_cast<int64_t>(count++));
      str(w, "event_id", e.event_id);
      str(w, "type", e.type);
      str(w, "incident_id", e.incident_id);
      str(w, "check_name", e.check);
      str(w, "plugin", e.plugin);
      str(w, "target", e.target);
      time_ms(w, "at_ms", e.at_ms);
      time_ms(w, "opened_ms", e.opened_at_ms);
      time_ms(w, "resolved_ms", e.resolved_at_ms);
      str(w, "error_kind", e.error_kind);
      str(w, "error_message", e.error_message);
      raw(w, "locations", e.locations_json, "[]");
      raw(w, "body", e.json, "{}");
      w.Key("sinks");
      w.StartArray();
      for (std::size_t k = 0; k < o.sink_count; ++k)
        w.String(o.sinks[k], static_cast<rapidjson::SizeType>(std::strlen(o.sinks[k])));
      w.EndArray();
      w.EndObject();
    }
  w.EndArray();
  return {b.GetString(), b.GetSize()};
}

constexpr const char* event_rows =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord bigint, event_id text,"
    " type text, incident_id text, check_name text, plugin text, target text, at_ms bigint,"
    " opened_ms bigint, resolved_ms bigint, error_kind text, error_message text,"
    " locations jsonb, body jsonb, sinks jsonb)) ";

std::string ms_to_time(const char* column) {
  return std::string("to_timestamp(") + column + " / 1000.0)";
}

}  // namespace

void write_alert_state(pqxx::transaction_base& tx, const quoted_names& q,
                       const std::vector<const isitup_alert_state_v1*>& deltas,
                       alert_counts& counts, const std::string* only) {
  const state_arrays states = states_arrays(deltas, only);
  if (states.count > 0) {
    tx.exec_params("INSERT INTO " + q.alert_state +
                       " AS s (check_name, version, state, updated_at)"
                       " SELECT x.check_name, x.version, x.state, now()"
                       " FROM unnest($1::text[], $2::bigint[], $3::text[])"
                       " AS x(check_name, version, state)"
                       " ON CONFLICT (check_name) DO UPDATE SET version = excluded.version,"
                       " state = excluded.state, updated_at = excluded.updated_at"
                       " WHERE s.version < excluded.version",
                   states.checks, states.versions, states.states);
    counts.states += states.count;
  }
  std::size_t n = 0;
  const std::string events = events_json(deltas, n, only);
  if (n == 0) return;
  counts.events += n;
  tx.exec_params(std::string(event_rows) + "INSERT INTO " + q.events +
                     " (event_id, type, incident_id, check_name, plugin, target, at, opened_at,"
                     " resolved_at, error_kind, error_message, locations, body)"
                     " SELECT event_id, type, incident_id, check_name, plugin, target, " +
                     ms_to_time("at_ms") + ", " + ms_to_time("opened_ms") + ", " +
                     ms_to_time("resolved_ms") +
                     ", nullif(error_kind, ''), nullif(error_message, ''), locations, body"
                     " FROM x ORDER BY ord ON CONFLICT (event_id) DO NOTHING",
                 events);
  // The incident row comes from its first event here (opened, or resolved when the opening
  // was stored before this table existed); a resolution then completes it.
  tx.exec_params(std::string(event_rows) + "INSERT INTO " + q.incidents +
                     " (incident_id, check_name, plugin, target, opened_at, resolved_at,"
                     " error_kind, error_message, locations, opened_event_id, resolved_event_id)"
                     " SELECT DISTINCT ON (incident_id) incident_id, check_name, plugin, target, " +
                     ms_to_time("opened_ms") + ", CASE WHEN type = 'incident_resolved' THEN " +
                     ms_to_time("resolved_ms") +
                     " END, nullif(error_kind, ''), nullif(error_message, ''), locations,"
                     " CASE WHEN type = 'incident_opened' THEN event_id END,"
                     " CASE WHEN type = 'incident_resolved' THEN event_id END"
                     " FROM x WHERE type IN ('incident_opened', 'incident_resolved')"
                     " ORDER BY incident_id, ord ON CONFLICT (incident_id) DO NOTHING",
                 events);
  tx.exec_params(std::string(event_rows) + "UPDATE " + q.incidents +
                     " AS i SET resolved_at = " + ms_to_time("x.resolved_ms") +
                     ", resolved_event_id = x.event_id, locations = x.locations FROM x"
                     " WHERE x.type = 'incident_resolved' AND i.incident_id = x.incident_id"
                     " AND i.resolved_event_id IS DISTINCT FROM x.event_id",
                 events);
  tx.exec_params(std::string(event_rows) + "INSERT INTO " + q.outbox +
                     " (event_id, sink) SELECT x.event_id, s.sink FROM x CROSS JOIN LATERAL"
                     " jsonb_array_elements_text(x.sinks) AS s(sink) ON CONFLICT DO NOTHING",
                 events);
}

std::vector<std::string> checks_in(const std::vector<const isitup_alert_state_v1*>& deltas) {
  std::set<std::string> out;
  for (const isitup_alert_state_v1* d : deltas) {
    for (std::size_t i = 0; i < d->state_count; ++i) out.insert(d->states[i].check);
    for (std::size_t i = 0; i < d->event_count; ++i) out.insert(d->events[i].event->check);
  }
  return {out.begin(), out.end()};
}

void mark_delivered(pqxx::transaction_base& tx, const quoted_names& q,
                    const std::map<std::string, std::vector<std::string>>& marks) {
  for (const auto& [sink, ids] : marks) {
    rapidjson::StringBuffer b;
    json_writer w(b);
    w.StartArray();
    for (const std::string& id : ids)
      w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.EndArray();
    tx.exec_params("UPDATE " + q.outbox +
                       " SET delivered_at = now() WHERE sink = $1 AND delivered_at IS NULL AND"
                       " event_id IN (SELECT jsonb_array_elements_text($2::jsonb))",
                   sink, std::string(b.GetString(), b.GetSize()));
  }
}

void load_alert_state(pqxx::transaction_base& tx, const quoted_names& q,
                      const std::function<void(const isitup_alert_state_v1&)>& loaded) {
  const pqxx::result states = tx.exec("SELECT check_name, version, state FROM " + q.alert_state);
  const auto ms = [](const char* col) {
    return std::string("round(extract(epoch FROM e.") + col + ") * 1000)::bigint";
  };
  const pqxx::result events = tx.exec(
      "SELECT e.event_id, e.type, e.incident_id, e.check_name, e.plugin, e.target, " + ms("at") +
      ", " + ms("opened_at") + ", " + ms("resolved_at") +
      ", e.error_kind, e.error_message, e.locations::text, e.body::text,"
      " string_agg(o.sink, ',' ORDER BY o.sink) FROM " +
      q.outbox + " o JOIN " + q.events +
      " e USING (event_id) WHERE o.delivered_at IS NULL GROUP BY e.event_id ORDER BY e.seq");

  std::vector<isitup_check_state_v1> state_views;
  state_views.reserve(states.size());
  for (const auto& row : states)
    state_views.push_back(isitup_check_state_v1{sizeof(isitup_check_state_v1), row[0].c_str(),
                                                row[1].as<int64_t>(), row[2].c_str()});
  std::deque<std::string> sink_names;  // stable addresses
  std::vector<std::vector<const char*>> sinks(events.size());
  std::vector<isitup_event_v1> event_views(events.size());
  std::vector<isitup_outbox_event_v1> outbox;
  outbox.reserve(events.size());
  const auto text = [](const pqxx::field& f) -> const char* {
    return f.is_null() || f.c_str()[0] == '\0' ? nullptr : f.c_str();
  };
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& row = events[static_cast<pqxx::result::size_type>(i)];
    isitup_event_v1& e = event_views[i];
    e.struct_size = sizeof e;
    e.event_id = row[0].c_str();
    e.type = row[1].c_str();
    e.incident_id = row[2].c_str();
    e.check = row[3].c_str();
    e.plugin = text(row[4]);
    e.target = text(row[5]);
    e.at_ms = row[6].as<int64_t>();
    e.opened_at_ms = row[7].as<int64_t>();
    e.resolved_at_ms = row[8].is_null() ? ISITUP_ABSENT_TIME : row[8].as<int64_t>();
    e.error_kind = text(row[9]);
    e.error_message = text(row[10]);
    e.locations_json = row[11].c_str();
    e.json = row[12].c_str();
    const std::string_view all = row[13].c_str();
    for (std::size_t at = 0; at <= all.size();) {
      const std::size_t end = std::min(all.find(',', at), all.size());
      if (end > at) sinks[i].push_back(sink_names.emplace_back(all.substr(at, end - at)).c_str());
      at = end + 1;
    }
    outbox.push_back(isitup_outbox_event_v1{sizeof(isitup_outbox_event_v1), &e, sinks[i].data(),
                                            sinks[i].size()});
  }
  const isitup_alert_state_v1 all{sizeof(isitup_alert_state_v1), state_views.data(),
                                  state_views.size(), outbox.data(), outbox.size()};
  loaded(all);
}

}  // namespace isitup::pg
