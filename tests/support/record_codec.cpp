#include "record_codec.hpp"

#include <isitup/core/codec.hpp>

namespace isitup::test {

std::string encode_record(const sdk::record& r) {
  std::string out;
  codec::encode(r, out);
  return out;
}

std::string encode_record(const isitup_record_v1& r) {
  std::string out;
  codec::encode(r, out);
  return out;
}

bool decode_record(std::string_view json, sdk::record& out, std::string& error) {
  return codec::decode(json, out, error);
}

}  // namespace isitup::test
