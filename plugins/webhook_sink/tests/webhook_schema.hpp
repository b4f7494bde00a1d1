// Test helper: validates JSON text against plugins/webhook_sink/event.schema.json with
// RapidJSON's schema validator (JSON Schema draft 4).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <fstream>
#include <sstream>
#include <string>

namespace isitup::test {

// "" when `json` is valid against event.schema.json, else where and why not.
inline std::string schema_errors(const std::string& json) {
  std::ifstream in(std::string(ISITUP_SOURCE_DIR) + "/plugins/webhook_sink/event.schema.json");
  std::stringstream text;
  text << in.rdbuf();
  const std::string schema_text = text.str();
  rapidjson::Document sd;
  sd.Parse(schema_text.c_str());
  if (sd.HasParseError()) return "event.schema.json does not parse";
  const rapidjson::SchemaDocument schema(sd);
  rapidjson::SchemaValidator validator(schema);
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError()) return "not JSON: " + json;
  if (d.Accept(validator)) return {};
  rapidjson::StringBuffer where;
  validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
  return std::string("fails '") + validator.GetInvalidSchemaKeyword() + "' at " +
         where.GetString() + " in " + json;
}

}  // namespace isitup::test
