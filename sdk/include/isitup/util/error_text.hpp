// isitup plugin SDK utility, header-only (C++17): the text of an errno value, safe to call from
// any thread (std::strerror may return a buffer another thread overwrites).
#pragma once

#include <string.h>

#include <string>

namespace isitup::sdk {

namespace detail {
// strerror_r is the GNU one (returns the text) or the POSIX one (fills buf, returns 0).
inline const char* strerror_r_text(const char* text, const char*) { return text; }
inline const char* strerror_r_text(int rc, const char* buf) {
  return rc == 0 ? buf : "unknown error";
}
}  // namespace detail

// "Connection refused" for ECONNREFUSED; "Unknown error N" for a number the C library lacks.
inline std::string error_text(int err) {
  char buf[256] = "";
  return detail::strerror_r_text(strerror_r(err, buf, sizeof buf), buf);
}

}  // namespace isitup::sdk
