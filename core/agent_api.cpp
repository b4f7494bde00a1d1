// GET /api/v1/checks and /api/v1/checks/{name}: the running checks as JSON (RapidJSON),
// following core/http_api.schema.json. Targets are shown with their userinfo redacted.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <map>

#include "agent_http.hpp"

namespace isitup {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::size_t default_last = 100;

void str(json_writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void ms_or_null(json_writer& w, const char* key, float ms) {
  w.Key(key);
  if (ms < 0) {
    w.Null();
  } else {
    w.Double(std::round(static_cast<double>(ms) * 1000) / 1000);  // to the microsecond
  }
}

const char* state_of(const check_snapshot& s) {
  if (!s.up) return "unknown";
  return *s.up ? "up" : "down";
}

void result(json_writer& w, const history_result& r, const std::string* message) {
  w.StartObject();
  w.Key("scheduled_at_ms");
  w.Int64(r.at_ms);
  w.Key("up");
  w.Bool(r.up);
  str(w, "error_kind", r.error_kind);
  if (message) str(w, "error_message", r.up ? std::string() : *message);
  w.Key("http_code");
  if (r.http_code > 0) {
    w.Int(r.http_code);
  } else {
    w.Null();
  }
  ms_or_null(w, "total_ms", r.total_ms);
  ms_or_null(w, "dns_ms", r.dns_ms);
  ms_or_null(w, "connect_ms", r.connect_ms);
  ms_or_null(w, "tls_ms", r.tls_ms);
  ms_or_null(w, "ttfb_ms", r.ttfb_ms);
  w.EndObject();
}

void incident(json_writer& w, const open_incident* i) {
  w.Key("incident");
  if (!i) {
    w.Null();
    return;
  }
  w.StartObject();
  str(w, "id", i->id);
  w.Key("opened_at_ms");
  w.Int64(i->opened_at_ms);
  str(w, "error_kind", i->error_kind);
  str(w, "error_message", i->error_message);
  w.Key("locations");
  w.StartArray();
  for (const auto& l : i->locations)
    w.String(l.c_str(), static_cast<rapidjson::SizeType>(l.size()));
  w.EndArray();
  w.EndObject();
}

// The members every check has, in the object the caller opened.
void check_members(json_writer& w, const check_snapshot& s, const open_incident* inc) {
  str(w, "name", s.info.name);
  str(w, "plugin", s.info.plugin);
  str(w, "target", s.info.target);
  w.Key("group");
  if (s.info.group.empty()) {
    w.Null();
  } else {
    w.String(s.info.group.c_str(), static_cast<rapidjson::SizeType>(s.info.group.size()));
  }
  w.Key("interval_ms");
  w.Int64(s.info.interval_ms);
  w.Key("timeout_ms");
  w.Int64(s.info.timeout_ms);
  w.Key("state");
  w.String(state_of(s));
  w.Key("state_since_ms");
  if (s.up) {
    w.Int64(s.state_since_ms);
  } else {
    w.Null();
  }
  w.Key("results_seen");
  w.Uint64(s.total);
  w.Key("last_result");
  if (s.results.empty()) {
    w.Null();
  } else {
    result(w, s.results.back(), &s.last_error_message);
  }
  incident(w, inc);
}

void head(json_writer& w, const config::agent& cfg, int64_t now) {
  str(w, "agent", cfg.id);
  str(w, "location", cfg.location);
  w.Key("generated_at_ms");
  w.Int64(now);
}

http_reply json(rapidjson::StringBuffer& buf) {
  return {200, "application/json", std::string(buf.GetString(), buf.GetSize())};
}

}  // namespace

std::map<std::string, open_incident> agent_http::incidents_by_check() const {
  std::map<std::string, open_incident> out;
  if (!a_.alerts) return out;
  for (auto& i : a_.alerts->open_incidents()) out.emplace(i.check, std::move(i));
  return out;
}

http_reply agent_http::checks() {
  const auto incidents = incidents_by_check();
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  head(w, a_.cfg, a_.clock.now_ms());
  w.Key("checks");
  w.StartArray();
  for (const auto& ring : a_.history.rings()) {
    const check_snapshot s = ring->snapshot(1);
    const auto inc = incidents.find(s.info.name);
    w.StartObject();
    check_members(w, s, inc == incidents.end() ? nullptr : &inc->second);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return json(buf);
}

http_reply agent_http::check(const std::string& name, const std::string& last_param) {
  std::size_t last = default_last;
  if (!last_param.empty()) {
    const auto [end, ec] =
        std::from_chars(last_param.data(), last_param.data() + last_param.size(), last);
    if (ec != std::errc() || end != last_param.data() + last_param.size() || last == 0)
      return json_error(400, "last: expected a positive integer");
  }
  const auto ring = a_.history.find(name);
  if (!ring) return json_error(404, "no check of that name");
  const check_snapshot s = ring->snapshot(last);
  const auto incidents = incidents_by_check();
  const auto inc = incidents.find(s.info.name);
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  head(w, a_.cfg, a_.clock.now_ms());
  w.Key("check");
  w.StartObject();
  check_members(w, s, inc == incidents.end() ? nullptr : &inc->second);
  w.EndObject();
  w.Key("history_capacity");
  w.Uint64(s.capacity);
  w.Key("results");
  w.StartArray();
  for (const auto& r : s.results) result(w, r, nullptr);
  w.EndArray();
  w.EndObject();
  return json(buf);
}

}  // namespace isitup
