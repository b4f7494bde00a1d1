// Checks as catalog messages: written by --publish-checks, read back by catalog-mode agents
// with the same check reader as a config file's `checks:` items.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "config_internal.hpp"

namespace isitup::config {

namespace {

constexpr int catalog_version = 1;
constexpr std::size_t max_value_bytes = std::size_t{64} * 1024;
constexpr int max_depth = 8;

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Every scalar as a string: the check reader parses scalars from their text, as in a file.
void write_node(json_writer& w, const YAML::Node& node) {
  if (node.IsScalar()) {
    write_string(w, node.Scalar());
  } else if (node.IsSequence()) {
    w.StartArray();
    for (const auto& item : node) write_node(w, item);
    w.EndArray();
  } else if (node.IsMap()) {
    w.StartObject();
    for (const auto& kv : node) {
      write_string(w, kv.first.Scalar());
      write_node(w, kv.second);
    }
    w.EndObject();
  } else {
    w.Null();
  }
}

std::string ms_text(int64_t ms) { return std::to_string(ms) + "ms"; }

void write_alert(json_writer& w, const alert_settings& a) {
  w.StartObject();
  write_string(w, "failure_threshold");
  write_string(w, std::to_string(a.failure_threshold));
  write_string(w, "success_threshold");
  write_string(w, std::to_string(a.success_threshold));
  write_string(w, "quorum");
  switch (a.rule) {
    case alert_settings::quorum_rule::majority:
      write_string(w, "majority");
      break;
    case alert_settings::quorum_rule::all:
      write_string(w, "all");
      break;
    case alert_settings::quorum_rule::count:
      write_string(w, std::to_string(a.quorum));
      break;
  }
  write_string(w, "renotify");
  write_string(w, ms_text(a.renotify_ms));
  write_string(w, "notify");
  w.StartArray();
  for (const std::string& n : a.notify) write_string(w, n);
  w.EndArray();
  w.EndObject();
}

[[noreturn]] void refuse(const std::string& source, const std::string& why) {
  detail::fail({source}, why);
}

YAML::Node to_yaml(const rapidjson::Value& v, const std::string& source, int depth) {
  if (depth > max_depth)
    refuse(source, "nested deeper than " + std::to_string(max_depth) + " levels");
  if (v.IsString()) return YAML::Node(std::string(v.GetString(), v.GetStringLength()));
  if (v.IsBool()) return YAML::Node(v.GetBool() ? "true" : "false");
  if (v.IsNull()) return YAML::Node(YAML::NodeType::Null);
  if (v.IsArray()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : v.GetArray()) out.push_back(to_yaml(item, source, depth + 1));
    return out;
  }
  if (v.IsObject()) {
    std::vector<std::string_view> keys;
    keys.reserve(v.MemberCount());
    for (const auto& m : v.GetObject())
      keys.emplace_back(m.name.GetString(), m.name.GetStringLength());
    std::sort(keys.begin(), keys.end());
    if (const auto twice = std::adjacent_find(keys.begin(), keys.end()); twice != keys.end())
      refuse(source, "key " + detail::quote(std::string(*twice)) + " given twice");
    // Keys are known to be distinct: insert without the map's search of each key.
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& m : v.GetObject())
      out.force_insert(std::string(m.name.GetString(), m.name.GetStringLength()),
                       to_yaml(m.value, source, depth + 1));
    return out;
  }
  // Numbers are parsed as strings (kParseNumbersAsStringsFlag): nothing else is left.
  refuse(source, "unexpected JSON value");
}

}  // namespace

std::string catalog_value(const check& c) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  write_string(w, "v");
  w.Int(catalog_version);
  write_string(w, "name");
  write_string(w, c.name);
  write_string(w, "plugin");
  write_string(w, c.plugin);
  write_string(w, "target");
  write_string(w, c.target);
  write_string(w, "interval");
  write_string(w, ms_text(c.interval_ms));
  write_string(w, "timeout");
  write_string(w, ms_text(c.timeout_ms));
  if (const YAML::Node* options = c.options.node()) {
    write_string(w, "options");
    write_node(w, *options);
  }
  write_string(w, "alert");
  write_alert(w, c.alert);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

namespace {

// The value parsed as JSON, its version checked (and removed). Throws config_error.
rapidjson::Document parse_json(std::string_view value, const std::string& source) {
  if (value.size() > max_value_bytes)
    refuse(source, "the definition has " + std::to_string(value.size()) + " bytes (at most " +
                       detail::size_limit_text(max_value_bytes) + ")");
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag>(value.data(),
                                                                                    value.size());
  if (doc.HasParseError())
    refuse(source, "not a JSON check definition (parse error at byte " +
                       std::to_string(doc.GetErrorOffset()) + ")");
  if (!doc.IsObject()) refuse(source, "expected a JSON object (a check definition)");
  const auto version = doc.FindMember("v");
  if (version == doc.MemberEnd() || !version->value.IsString() ||
      std::string_view(version->value.GetString()) != std::to_string(catalog_version))
    refuse(source,
           "expected a check definition of version \"v\": " + std::to_string(catalog_version));
  doc.RemoveMember("v");
  return doc;
}

// A name or target the check reader would take as it is: a non-empty string without control
// characters.
std::optional<std::string_view> plain_text(const rapidjson::Value& doc, const char* member) {
  const auto m = doc.FindMember(member);
  if (m == doc.MemberEnd() || !m->value.IsString()) return std::nullopt;
  const std::string_view text(m->value.GetString(), m->value.GetStringLength());
  if (text.empty() || std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      }))
    return std::nullopt;
  return text;
}

check read_check_json(std::string_view key, const rapidjson::Document& doc,
                      const std::string& source, const agent& running) {
  const YAML::Node item = to_yaml(doc, source, 0);
  if (!item["name"]) refuse(source, "the definition has no name");
  check c = detail::read_check_entry(item, source, running);
  if (c.name != key)
    refuse(source, "the definition's name " + detail::quote(c.name) +
                       " differs from the message key " + detail::quote(key));
  if (!c.alert.notify.empty()) {
    agent notify_check;
    notify_check.sinks = running.sinks;
    notify_check.checks.push_back(c);
    detail::check_notify(notify_check);
  }
  return c;
}

}  // namespace

check parse_catalog_value(std::string_view key, std::string_view value, const std::string& source,
                          const agent& running) {
  return read_check_json(key, parse_json(value, source), source, running);
}

check catalog_reader::read(std::string_view key, std::string_view value,
                           const std::string& source) {
  const rapidjson::Document doc = parse_json(value, source);
  const std::optional<std::string_view> name = plain_text(doc, "name");
  const std::optional<std::string_view> target = plain_text(doc, "target");
  if (!name || !target || *name != key) return read_check_json(key, doc, source, running_);
  // The shape: every member but name and target, in their order.
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  int left_out = 0;
  for (const auto& m : doc.GetObject()) {
    const std::string_view member(m.name.GetString(), m.name.GetStringLength());
    if (member == "name" || member == "target") {
      ++left_out;
      continue;
    }
    w.Key(m.name.GetString(), m.name.GetStringLength());
    m.value.Accept(w);
  }
  w.EndObject();
  if (left_out != 2) return read_check_json(key, doc, source, running_);  // one given twice
  std::string shape(buf.GetString(), buf.GetSize());
  const auto known = shapes_.find(shape);
  if (known == shapes_.end()) {
    check c = read_check_json(key, doc, source, running_);
    if (shapes_.size() >= max_shapes) shapes_.clear();
    shapes_.emplace(std::move(shape), c);
    return c;
  }
  check c = known->second;
  c.name = *name;
  c.target = *target;
  c.shown_target = redact_userinfo(c.target);
  c.where = location{source};
  c.options = c.options.written_at(c.where);
  for (location& at : c.notify_at) at = c.where;
  return c;
}

}  // namespace isitup::config
