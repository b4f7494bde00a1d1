// Fuzz target: the v1 record decoder (core/codec_decode.cpp) on any bytes, as a Kafka message
// would bring them. Promises checked: decode either refuses with a reason or gives a record
// that validate() accepts; encoding that record gives JSON that decodes again, and encodes
// to the same text (the codec has a fixed point after one trip).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <isitup/core/codec.hpp>
#include "fuzz_check.hpp"

using isitup::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  isitup::record r;
  std::string error;
  if (!isitup::codec::decode(json, r, error)) {
    require(!error.empty(), "a refused record comes with a reason");
    return 0;
  }
  require(isitup::codec::validate(r, error), "a decoded record is valid");
  std::string once;
  isitup::codec::encode(r, once);
  isitup::record again;
  require(isitup::codec::decode(once, again, error), "an encoded record decodes");
  std::string twice;
  isitup::codec::encode(again, twice);
  require(once == twice, "decode(encode(r)) encodes to the same JSON");
  return 0;
}
