// A result record as the agent's wire JSON (one line per record, as kafka_sink produces it and
// stdout_sink prints it), for the tests of plugins that read or write it: the agent's own
// encoder and decoder behind the SDK's record type, so a plugin's test includes no header of
// the core. Pure functions, any thread.
#pragma once

#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <string>
#include <string_view>

namespace isitup::test {

// The record's JSON object, on one line without a newline.
std::string encode_record(const sdk::record& r);
std::string encode_record(const isitup_record_v1& r);

// Decodes and validates one record; on failure returns false and sets `error` to a one-line
// reason naming the field.
bool decode_record(std::string_view json, sdk::record& out, std::string& error);

}  // namespace isitup::test
