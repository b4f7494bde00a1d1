// A fake host whose record_to_json / record_parse are the agent's codec, as the real host
// serves them to plugins.
#pragma once

#include <isitup/record.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "fake_host.hpp"
#include "record_codec.hpp"

namespace isitup::kafka_test {

inline void use_agent_codec(sdk::testing::fake_host& host) {
  host.to_json = [](const isitup_record_v1& r) { return test::encode_record(r); };
  host.parse = [](std::string_view json,
                  std::string& error) -> std::shared_ptr<const isitup_record_v1> {
    auto holder = std::make_shared<std::pair<sdk::record, isitup_record_v1>>();
    if (!test::decode_record(json, holder->first, error)) return nullptr;
    holder->second = holder->first.view();
    return {holder, &holder->second};
  };
}

}  // namespace isitup::kafka_test
