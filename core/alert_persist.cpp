#include <isitup/core/alert_persist.hpp>

#include <rapidjson/document.h>

#include <cstddef>
#include <stdexcept>

namespace isitup::alert {

void batch_delta::add_state(const std::string& check, int64_t version, std::string state_json) {
  checks_.push_back(check);
  versions_.push_back(version);
  states_.push_back(std::move(state_json));
}

void batch_delta::add_event(std::shared_ptr<persisted_event> e) { events_.push_back(std::move(e)); }

void batch_delta::finish() {
  state_views_.reserve(checks_.size());
  for (std::size_t i = 0; i < checks_.size(); ++i)
    state_views_.push_back(isitup_check_state_v1{sizeof(isitup_check_state_v1), checks_[i].c_str(),
                                                 versions_[i], states_[i].c_str()});
  event_views_.reserve(events_.size());
  names_.reserve(events_.size());
  for (const auto& e : events_) {
    event_views_.push_back(e->ev.view());
    std::vector<const char*> n;
    for (const std::string& s : e->sink_names) n.push_back(s.c_str());
    names_.push_back(std::move(n));
  }
  outbox_.reserve(events_.size());
  for (std::size_t i = 0; i < events_.size(); ++i)
    outbox_.push_back(isitup_outbox_event_v1{sizeof(isitup_outbox_event_v1), &event_views_[i],
                                             names_[i].data(), names_[i].size()});
  c_ = isitup_alert_state_v1{sizeof c_, state_views_.data(), state_views_.size(), outbox_.data(),
                             outbox_.size()};
}

namespace {

std::string text(const char* s) { return s ? s : ""; }

}  // namespace

bool event_from_view(const isitup_event_v1& v, event& out) {
  if (v.struct_size < sizeof(isitup_event_v1) || !v.event_id || !v.type || !v.incident_id ||
      !v.check || !v.locations_json)
    return false;
  out = event{};
  out.event_id = v.event_id;
  out.type = v.type;
  out.incident_id = v.incident_id;
  out.check = v.check;
  out.plugin = text(v.plugin);
  out.target = text(v.target);
  out.at_ms = v.at_ms;
  out.opened_at_ms = v.opened_at_ms;
  out.resolved_at_ms = v.resolved_at_ms;
  out.error_kind = text(v.error_kind);
  out.error_message = text(v.error_message);
  rapidjson::Document d;
  d.Parse(v.locations_json);
  if (d.HasParseError() || !d.IsArray()) return false;
  for (const auto& l : d.GetArray()) {
    if (!l.IsString()) return false;
    out.locations.emplace_back(l.GetString(), l.GetStringLength());
  }
  out.finish();
  return true;
}

loaded_state load_from_sink(const isitup_sink_ops_v1& ops, void* instance,
                            std::chrono::milliseconds timeout) {
  loaded_state out;
  bool called = false;
  auto take = [&](const isitup_alert_state_v1& s) {
    called = true;
    for (std::size_t i = 0; i < s.state_count; ++i) {
      const isitup_check_state_v1& cs = s.states[i];
      rapidjson::Document d;
      check_state st;
      if (cs.struct_size < offsetof(isitup_check_state_v1, state_json) + sizeof(char*) ||
          !cs.check || !cs.state_json || (d.Parse(cs.state_json), d.HasParseError()) ||
          !decode_state(&d, st)) {
        ++out.unreadable;
        continue;
      }
      out.checks.insert_or_assign(cs.check, loaded_state::check{std::move(st), cs.version});
    }
    for (std::size_t i = 0; i < s.event_count; ++i) {
      const isitup_outbox_event_v1& o = s.events[i];
      loaded_state::pending p;
      if (o.struct_size < offsetof(isitup_outbox_event_v1, sink_count) + sizeof(size_t) ||
          !o.event || !event_from_view(*o.event, p.ev)) {
        ++out.unreadable;
        continue;
      }
      for (std::size_t k = 0; k < o.sink_count; ++k)
        if (o.sinks[k]) p.sinks.emplace_back(o.sinks[k]);
      out.undelivered.push_back(std::move(p));
    }
  };
  char err[1024] = "";
  const uint32_t st = ops.load_state(
      instance, timeout.count(),
      [](void* ctx, const isitup_alert_state_v1* s) {
        if (s) (*static_cast<decltype(take)*>(ctx))(*s);
      },
      &take, err, sizeof err);
  err[sizeof err - 1] = '\0';
  if (st != ISITUP_OK)
    throw std::runtime_error(std::string("loading the alert state failed: ") +
                             (err[0] ? err : "no reason given"));
  if (!called) throw std::runtime_error("loading the alert state failed: the sink handed nothing");
  return out;
}

}  // namespace isitup::alert
