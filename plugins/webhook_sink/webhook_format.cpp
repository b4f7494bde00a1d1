// Bodies are built with RapidJSON's Writer (escaping is its job); every string that came from a
// check, a server or the config is cleaned to valid UTF-8 and cut to the receiver's limits
// first. Slack's and Discord's limits are those their webhook documentation gives (Slack:
// section text 3000 characters; Discord: content 2000, embed title 256, description 4096,
// field value 1024, footer 2048, 6000 in all).
#include "webhook_format.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <isitup/util/civil_time.hpp>
#include <isitup/util/utf8.hpp>

namespace isitup::webhook {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void put_time_or_null(json_writer& w, int64_t ms) {
  const std::string t = iso_time(ms);
  if (t.empty())
    w.Null();
  else
    put(w, t);
}

bool is_resolved(const event& e) { return e.type == "incident_resolved"; }
bool is_reminder(const event& e) { return e.type == "incident_reminder"; }

// "1h 2m 3s", "45s"; "" when unknown.
std::string human_duration(int64_t from_ms, int64_t to_ms) {
  if (from_ms == INT64_MIN || to_ms == INT64_MIN || to_ms < from_ms) return {};
  int64_t s = (to_ms - from_ms) / 1000;
  std::string out;
  for (const auto& [unit, name] : {std::pair<int64_t, char>{86400, 'd'}, {3600, 'h'}, {60, 'm'}}) {
    if (s >= unit) {
      out += std::to_string(s / unit) + name + ' ';
      s %= unit;
    }
  }
  return out + std::to_string(s) + 's';
}

// Escapes what Slack's mrkdwn treats as control characters (&, <, >), so nothing in the text
// can mention a user or a channel; the result has at most `max_chars` characters.
std::string slack_escape(std::string_view s, size_t max_chars) {
  const std::string clean = clean_utf8(s);
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < clean.size();) {
    const auto c = static_cast<unsigned char>(clean[i]);
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    const std::string_view piece = c == '&'   ? "&amp;"
                                   : c == '<' ? "&lt;"
                                   : c == '>' ? "&gt;"
                                              : std::string_view(clean).substr(i, n);
    const size_t piece_chars = n == 1 ? piece.size() : 1;
    if (chars + piece_chars + (i + n < clean.size() ? 1 : 0) > max_chars) {
      out += "…";
      break;
    }
    out += piece;
    chars += piece_chars;
    i += n;
  }
  return out;
}

std::string joined_locations(const event& e) {
  std::string out;
  for (const std::string& l : e.locations) out += (out.empty() ? "" : ", ") + l;
  return out;
}

std::string error_text(const event& e) {
  if (e.error_kind.empty()) return e.error_message;
  return e.error_message.empty() ? e.error_kind : e.error_kind + ": " + e.error_message;
}

// "shop is DOWN", "shop is UP after 5m 3s", "shop is still DOWN (1h 0m 0s)"; `name` is the
// check's name as the caller escaped it.
std::string headline(const event& e, const std::string& name) {
  if (is_resolved(e)) {
    const std::string d = human_duration(e.opened_at_ms, e.resolved_at_ms);
    return name + " is UP" + (d.empty() ? "" : " after " + d);
  }
  if (is_reminder(e)) {
    const std::string d = human_duration(e.opened_at_ms, e.at_ms);
    return name + " is still DOWN" + (d.empty() ? "" : " (" + d + ")");
  }
  return name + " is DOWN";
}

}  // namespace

std::string iso_time(int64_t ms) { return ms < 0 ? std::string() : sdk::utc_text(ms); }

bool parse_locations(std::string_view json, std::vector<std::string>& out) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsArray()) return false;
  for (const auto& v : d.GetArray())
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  return true;
}

std::string encode_json(const event& e) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("v");
  w.Int(1);
  w.Key("event_id");
  put(w, clean_utf8(e.event_id));
  w.Key("type");
  put(w, clean_utf8(e.type));
  w.Key("incident_id");
  put(w, clean_utf8(e.incident_id));
  w.Key("check");
  put(w, clean_utf8(e.check));
  w.Key("plugin");
  put(w, clean_utf8(e.plugin));
  w.Key("target");
  put(w, clean_utf8(e.target));
  w.Key("at");
  put_time_or_null(w, e.at_ms);
  w.Key("opened_at");
  put_time_or_null(w, e.opened_at_ms);
  w.Key("resolved_at");
  put_time_or_null(w, e.resolved_at_ms);
  w.Key("duration_s");
  if (e.resolved_at_ms != INT64_MIN && e.opened_at_ms != INT64_MIN &&
      e.resolved_at_ms >= e.opened_at_ms)
    w.Double(static_cast<double>(e.resolved_at_ms - e.opened_at_ms) / 1000.0);
  else
    w.Null();
  w.Key("state");
  w.String(is_resolved(e) ? "up" : "down");
  w.Key("error");
  if (e.error_kind.empty() && e.error_message.empty()) {
    w.Null();
  } else {
    w.StartObject();
    w.Key("kind");
    put(w, clean_utf8(e.error_kind.empty() ? "unknown" : e.error_kind));
    w.Key("message");
    if (e.error_message.empty())
      w.Null();
    else
      put(w, clean_utf8(e.error_message));
    w.EndObject();
  }
  w.Key("locations");
  w.StartArray();
  for (const std::string& l : e.locations) put(w, clean_utf8(l));
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string slack_body(const event& e) {
  const std::string title = headline(e, slack_escape(e.check, 200));
  const char* icon = is_resolved(e) ? ":large_green_circle:" : ":red_circle:";
  std::string detail = "*" + title + "*\n*Target:* " + slack_escape(e.target, 500);
  if (!is_resolved(e) && !error_text(e).empty())
    detail += "\n*Error:* " + slack_escape(error_text(e), 1000);
  if (const std::string t = iso_time(e.opened_at_ms); !t.empty()) detail += "\n*Since:* " + t;
  if (const std::string t = iso_time(e.resolved_at_ms); !t.empty()) detail += "\n*Resolved:* " + t;
  if (!e.locations.empty()) detail += "\n*Locations:* " + slack_escape(joined_locations(e), 500);
  const std::string context = "incident " + slack_escape(e.incident_id, 64) + " · event " +
                              slack_escape(e.event_id, 64) + " · " + slack_escape(e.type, 64);

  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("text");
  put(w, std::string(icon) + " " + title);
  w.Key("blocks");
  w.StartArray();
  w.StartObject();
  w.Key("type");
  w.String("section");
  w.Key("text");
  w.StartObject();
  w.Key("type");
  w.String("mrkdwn");
  w.Key("text");
  put(w, std::string(icon) + " " + detail);
  w.EndObject();
  w.EndObject();
  w.StartObject();
  w.Key("type");
  w.String("context");
  w.Key("elements");
  w.StartArray();
  w.StartObject();
  w.Key("type");
  w.String("mrkdwn");
  w.Key("text");
  put(w, context);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string discord_body(const event& e) {
  const std::string name = clean_utf8(e.check, 200);
  const int color = is_resolved(e) ? 0x2ECC71 : is_reminder(e) ? 0xE67E22 : 0xE74C3C;
  struct field {
    const char* name;
    std::string value;
    bool is_inline;
  };
  std::vector<field> fields{{"Target", clean_utf8(e.target, 1000), false}};
  if (const std::string t = iso_time(e.opened_at_ms); !t.empty())
    fields.push_back({"Opened", t, true});
  if (const std::string t = iso_time(e.resolved_at_ms); !t.empty())
    fields.push_back({"Resolved", t, true});
  if (const std::string d = human_duration(e.opened_at_ms, e.resolved_at_ms); !d.empty())
    fields.push_back({"Duration", d, true});
  if (!e.locations.empty())
    fields.push_back({"Locations", clean_utf8(joined_locations(e), 1000), false});

  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("content");
  put(w, clean_utf8((is_resolved(e) ? "🟢 " : "🔴 ") + headline(e, name), 2000));
  w.Key("embeds");
  w.StartArray();
  w.StartObject();
  w.Key("title");
  put(w, clean_utf8(headline(e, name), 256));
  if (const std::string d = clean_utf8(error_text(e), 2000); !d.empty() && !is_resolved(e)) {
    w.Key("description");
    put(w, d);
  }
  w.Key("color");
  w.Int(color);
  if (const std::string t = iso_time(e.at_ms); !t.empty()) {
    w.Key("timestamp");
    put(w, t);
  }
  w.Key("fields");
  w.StartArray();
  for (const field& f : fields) {
    w.StartObject();
    w.Key("name");
    w.String(f.name);
    w.Key("value");
    put(w, f.value.empty() ? std::string("-") : f.value);
    w.Key("inline");
    w.Bool(f.is_inline);
    w.EndObject();
  }
  w.EndArray();
  w.Key("footer");
  w.StartObject();
  w.Key("text");
  put(w, clean_utf8("incident " + e.incident_id + " · event " + e.event_id + " · " + e.type, 300));
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.Key("allowed_mentions");
  w.StartObject();
  w.Key("parse");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string body_for(body_format f, const event& e) {
  switch (f) {
    case body_format::slack:
      return slack_body(e);
    case body_format::discord:
      return discord_body(e);
    case body_format::json:
      break;
  }
  // The host's text is JSON already; bytes that are not UTF-8 can only sit inside its strings,
  // where U+FFFD keeps it JSON and makes it UTF-8 (which receivers' parsers insist on).
  return e.json.empty() ? encode_json(e) : clean_utf8(e.json);
}

std::string signature(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string signed_text = std::to_string(unix_seconds) + ".";
  signed_text += body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
            &len))
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "t=" + std::to_string(unix_seconds) + ",sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::string clean_utf8(std::string_view s, size_t max_chars) {
  std::string out;
  out.reserve(s.size() < 4096 ? s.size() : 4096);
  size_t chars = 0;
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = sdk::utf8_sequence_length(s, i);
    if (chars + 1 > max_chars || (chars + 1 == max_chars && i + (n ? n : 1) < s.size())) {
      out += "…";
      return out;
    }
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
    ++chars;
  }
  return out;
}

}  // namespace isitup::webhook
