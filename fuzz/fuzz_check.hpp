// What a fuzz target asserts beyond "no crash": a broken promise aborts the process, which
// libFuzzer reports as a crash with the input, and the corpus replay as a failed test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <source_location>
#include <string_view>

namespace isitup::fuzz {

inline void require(bool holds, std::string_view promise,
                    std::source_location where = std::source_location::current()) {
  if (holds) return;
  std::fprintf(stderr, "%s:%u: broken promise: %.*s\n", where.file_name(), where.line(),
               static_cast<int>(promise.size()), promise.data());
  std::abort();
}

}  // namespace isitup::fuzz
