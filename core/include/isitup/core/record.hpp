// An owned result record: the SDK's record (isitup/record.hpp), built by the host from a
// check's isitup_record_v1 or decoded from JSON by the codec.
#pragma once

#include <isitup/record.hpp>

namespace isitup {

using record = sdk::record;

}  // namespace isitup
