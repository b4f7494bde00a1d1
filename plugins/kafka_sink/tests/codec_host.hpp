// A fake host whose record_to_json / record_parse are the agent's codec, as the real host
// serves them to plugins.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <isitup/core/codec.hpp>
#include <isitup/core/record.hpp>
#include "fake_host.hpp"

namespace isitup::kafka_test {

inline void use_agent_codec(sdk::testing::fake_host& host) {
  host.to_json = [](const isitup_record_v1& r) {
    std::string out;
    codec::encode(r, out);
    return out;
  };
  host.parse = [](std::string_view json,
                  std::string& error) -> std::shared_ptr<const isitup_record_v1> {
    auto holder = std::make_shared<std::pair<record, isitup_record_v1>>();
    if (!codec::decode(json, holder->first, error)) return nullptr;
    holder->second = holder->first.view();
    return {holder, &holder->second};
  };
}

}  // namespace isitup::kafka_test
