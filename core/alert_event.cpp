#include <isitup/core/alert_event.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <isitup/core/codec.hpp>

namespace isitup::alert {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void time_or_null(writer& w, int64_t ms) {
  if (ms == ISITUP_ABSENT_TIME) {
    w.Null();
  } else {
    str(w, codec::format_time_ms(ms));
  }
}

void string_list(writer& w, const std::vector<std::string>& v) {
  w.StartArray();
  for (const auto& s : v) str(w, s);
  w.EndArray();
}

const rapidjson::Value* member(const rapidjson::Value& o, const char* name) {
  const auto it = o.FindMember(name);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

bool get(const rapidjson::Value& o, const char* name, std::string& out) {
  const rapidjson::Value* v = member(o, name);
  if (!v || !v->IsString()) return false;
  out.assign(v->GetString(), v->GetStringLength());
  return true;
}

bool get(const rapidjson::Value& o, const char* name, int64_t& out) {
  const rapidjson::Value* v = member(o, name);
  if (!v || !v->IsInt64()) return false;
  out = v->GetInt64();
  return true;
}

bool get(const rapidjson::Value& o, const char* name, std::vector<std::string>& out) {
  const rapidjson::Value* v = member(o, name);
  if (!v || !v->IsArray()) return false;
  out.clear();
  for (const auto& item : v->GetArray()) {
    if (!item.IsString()) return false;
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return true;
}

}  // namespace

std::string without_userinfo(std::string_view target) {
  const size_t scheme = target.find("://");
  if (scheme == std::string_view::npos) return std::string(target);
  const size_t host = scheme + 3;
  const size_t end = target.find_first_of("/?#", host);
  const size_t at = target.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < host) return std::string(target);
  return std::string(target.substr(0, host)) + std::string(target.substr(at + 1));
}

void event::finish() {
  rapidjson::StringBuffer lb;
  writer lw(lb);
  string_list(lw, locations);
  locations_json.assign(lb.GetString(), lb.GetSize());

  rapidjson::StringBuffer b;
  writer w(b);
  w.StartObject();
  w.Key("v");
  w.Int(1);
  w.Key("event_id");
  str(w, event_id);
  w.Key("type");
  str(w, type);
  w.Key("incident_id");
  str(w, incident_id);
  w.Key("check");
  str(w, check);
  w.Key("plugin");
  str(w, plugin);
  w.Key("target");
  str(w, target);
  w.Key("at");
  time_or_null(w, at_ms);
  w.Key("opened_at");
  time_or_null(w, opened_at_ms);
  w.Key("resolved_at");
  time_or_null(w, resolved_at_ms);
  w.Key("duration_s");
  if (resolved_at_ms == ISITUP_ABSENT_TIME) {
    w.Null();
  } else {
    w.Double(static_cast<double>(resolved_at_ms - opened_at_ms) / 1000.0);
  }
  w.Key("state");
  str(w, resolved_at_ms == ISITUP_ABSENT_TIME ? "down" : "up");
  w.Key("error");
  if (error_kind.empty()) {
    w.Null();
  } else {
    w.StartObject();
    w.Key("kind");
    str(w, error_kind);
    w.Key("message");
    str(w, error_message);
    w.EndObject();
  }
  w.Key("locations");
  string_list(w, locations);
  w.EndObject();
  json.assign(b.GetString(), b.GetSize());
}

isitup_event_v1 event::view() const {
  isitup_event_v1 v{};
  v.struct_size = sizeof v;
  v.event_id = event_id.c_str();
  v.type = type.c_str();
  v.incident_id = incident_id.c_str();
  v.check = check.c_str();
  v.plugin = plugin.empty() ? nullptr : plugin.c_str();
  v.target = target.empty() ? nullptr : target.c_str();
  v.at_ms = at_ms;
  v.opened_at_ms = opened_at_ms;
  v.resolved_at_ms = resolved_at_ms;
  v.error_kind = error_kind.empty() ? nullptr : error_kind.c_str();
  v.error_message = error_message.empty() ? nullptr : error_message.c_str();
  v.locations_json = locations_json.c_str();
  v.json = json.c_str();
  return v;
}

event make_event(const transition& t, std::string_view check, std::string_view plugin,
                 std::string_view target) {
  event e;
  e.event_id = t.event_id;
  e.type = to_string(t.type);
  e.incident_id = t.inc.id;
  e.check = check;
  e.plugin = plugin;
  e.target = without_userinfo(target);
  e.at_ms = t.at_ms;
  e.opened_at_ms = t.inc.opened_at_ms;
  e.resolved_at_ms = t.resolved_at_ms.value_or(ISITUP_ABSENT_TIME);
  e.error_kind = t.inc.error_kind;
  e.error_message = t.inc.error_message;
  e.locations = t.inc.locations;
  e.finish();
  return e;
}

std::string encode_event(const event& e) {
  rapidjson::StringBuffer b;
  writer w(b);
  w.StartObject();
  w.Key("id");
  str(w, e.event_id);
  w.Key("type");
  str(w, e.type);
  w.Key("incident");
  str(w, e.incident_id);
  w.Key("check");
  str(w, e.check);
  w.Key("plugin");
  str(w, e.plugin);
  w.Key("target");
  str(w, e.target);
  w.Key("at");
  w.Int64(e.at_ms);
  w.Key("opened");
  w.Int64(e.opened_at_ms);
  w.Key("resolved");
  w.Int64(e.resolved_at_ms);
  w.Key("ek");
  str(w, e.error_kind);
  w.Key("em");
  str(w, e.error_message);
  w.Key("loc");
  string_list(w, e.locations);
  w.EndObject();
  return std::string(b.GetString(), b.GetSize());
}

bool decode_event(const void* json_value, event& e) {
  const auto& o = *static_cast<const rapidjson::Value*>(json_value);
  if (!o.IsObject()) return false;
  const bool ok = get(o, "id", e.event_id) && get(o, "type", e.type) &&
                  get(o, "incident", e.incident_id) && get(o, "check", e.check) &&
                  get(o, "plugin", e.plugin) && get(o, "target", e.target) &&
                  get(o, "at", e.at_ms) && get(o, "opened", e.opened_at_ms) &&
                  get(o, "resolved", e.resolved_at_ms) && get(o, "ek", e.error_kind) &&
                  get(o, "em", e.error_message) && get(o, "loc", e.locations);
  if (ok) e.finish();
  return ok;
}

std::string encode_state(const check_state& s) {
  rapidjson::StringBuffer b;
  writer w(b);
  w.StartObject();
  w.Key("loc");
  w.StartObject();
  for (const auto& [name, l] : s.locations) {
    str(w, name);
    w.StartObject();
    w.Key("down");
    w.Bool(l.down);
    w.Key("streak");
    w.Int(l.streak);
    w.Key("since");
    w.Int64(l.streak_since_ms);
    w.Key("sek");
    str(w, l.streak_error_kind);
    w.Key("sem");
    str(w, l.streak_error_message);
    w.Key("dsince");
    w.Int64(l.down_since_ms);
    w.Key("dek");
    str(w, l.down_error_kind);
    w.Key("dem");
    str(w, l.down_error_message);
    w.Key("last");
    w.Int64(l.last_ms);
    w.EndObject();
  }
  w.EndObject();
  w.Key("open");
  if (!s.open) {
    w.Null();
  } else {
    const incident& i = *s.open;
    w.StartObject();
    w.Key("id");
    str(w, i.id);
    w.Key("opened");
    w.Int64(i.opened_at_ms);
    w.Key("ek");
    str(w, i.error_kind);
    w.Key("em");
    str(w, i.error_message);
    w.Key("loc");
    string_list(w, i.locations);
    w.Key("notified");
    w.Int64(i.last_notified_ms);
    w.Key("reminders");
    w.Uint(i.reminders);
    w.EndObject();
  }
  w.EndObject();
  return std::string(b.GetString(), b.GetSize());
}

bool decode_state(const void* json_value, check_state& s) {
  const auto& o = *static_cast<const rapidjson::Value*>(json_value);
  if (!o.IsObject()) return false;
  const rapidjson::Value* locs = member(o, "loc");
  const rapidjson::Value* open = member(o, "open");
  if (!locs || !locs->IsObject() || !open) return false;
  s = check_state{};
  for (const auto& m : locs->GetObject()) {
    location_state l;
    const rapidjson::Value& v = m.value;
    const rapidjson::Value* down = v.IsObject() ? member(v, "down") : nullptr;
    const rapidjson::Value* streak = v.IsObject() ? member(v, "streak") : nullptr;
    if (!down || !down->IsBool() || !streak || !streak->IsInt()) return false;
    l.down = down->GetBool();
    l.streak = streak->GetInt();
    if (!get(v, "since", l.streak_since_ms) || !get(v, "sek", l.streak_error_kind) ||
        !get(v, "sem", l.streak_error_message) || !get(v, "dsince", l.down_since_ms) ||
        !get(v, "dek", l.down_error_kind) || !get(v, "dem", l.down_error_message) ||
        !get(v, "last", l.last_ms))
      return false;
    s.locations.emplace(std::string(m.name.GetString(), m.name.GetStringLength()), std::move(l));
  }
  if (open->IsObject()) {
    incident i;
    const rapidjson::Value* reminders = member(*open, "reminders");
    if (!get(*open, "id", i.id) || !get(*open, "opened", i.opened_at_ms) ||
        !get(*open, "ek", i.error_kind) || !get(*open, "em", i.error_message) ||
        !get(*open, "loc", i.locations) || !get(*open, "notified", i.last_notified_ms) ||
        !reminders || !reminders->IsUint())
      return false;
    i.reminders = reminders->GetUint();
    s.open = std::move(i);
  } else if (!open->IsNull()) {
    return false;
  }
  return true;
}

}  // namespace isitup::alert
