// What a fuzz target asserts beyond "no crash": a broken promise aborts the process, which
// libFuzzer reports as a crash with the input, and the corpus replay as a failed test. Each
// promise's text is unique within its target, so the message says which one broke.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace isitup::fuzz {

inline void require(bool holds, std::string_view promise) {
  if (holds) return;
  std::fprintf(stderr, "broken promise: %.*s\n", static_cast<int>(promise.size()), promise.data());
  std::abort();
}

}  // namespace isitup::fuzz
