// Fuzz target: the lean HTTP/1.1 engine's reading of an answer (http_check's http_lean.cpp,
// Node's http_parser), without sockets, through engine::parse_lean_answer. The first byte
// chooses the mode: bit 0 a HEAD request, bit 1 a check with a regex (the body is kept),
// bits 2..5 the size of the pieces the answer arrives in (0: all at once); the rest is the
// server's answer, after which the server closes. A printable first byte keeps corpus files
// readable: '@' GET at once, 'A' HEAD at once, 'B' GET with a regex, '0' GET in 12-byte pieces.
// Promises checked: the verdict (and, unless the body is too large, the byte count and the
// kept body) does not depend on how the answer was cut into pieces; a
// status code has at most 3 digits; a body never passes max_body_bytes; HEAD reads no body;
// a kept body is exactly the bytes counted.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http_config.hpp"
#include "http_engine.hpp"

namespace {

using isitup::fuzz::require;
using isitup::http::check_config;
using isitup::http::engine;

constexpr int64_t max_body = 4096;
const std::string url = "http://fuzz.invalid/dir/page?q=1";

std::shared_ptr<const check_config> make_config(bool keep_body) {
  auto c = std::make_shared<check_config>();
  c->max_body_bytes = max_body;
  c->follow_redirects = true;
  if (keep_body) c->regex = std::make_unique<re2::RE2>("up");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool head = data[0] & 1;
  const bool keep_body = data[0] & 2;
  const size_t piece = (data[0] >> 2) & 15;
  static const auto plain = make_config(false);
  static const auto with_regex = make_config(true);
  const auto& cfg = keep_body ? with_regex : plain;
  const std::string_view answer(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto cut = engine::parse_lean_answer(cfg, url, head, answer, piece);
  const auto whole = engine::parse_lean_answer(cfg, url, head, answer, 0);
  const auto& r = cut.result;
  require(r.error_kind == whole.result.error_kind && r.error_message == whole.result.error_message,
          "the verdict does not depend on the pieces");
  // Past max_body_bytes the count stops at the piece that crossed it: only the verdict counts.
  const bool too_large = r.error_kind == "too_large";
  require(r.http_code == whole.result.http_code && r.http_version == whole.result.http_version &&
              (too_large || (r.http_bytes == whole.result.http_bytes && cut.body == whole.body)),
          "the http fields do not depend on the pieces");
  if (r.http_code != ISITUP_ABSENT_INT) {
    require(r.http_code >= 0 && r.http_code <= 999, "a status code has at most 3 digits");
    require(r.http_bytes >= 0 && r.http_bytes <= max_body, "the body stays within max_body_bytes");
    require(!head || r.http_bytes == 0, "a HEAD answer has no body");
  }
  if (keep_body) {
    require(static_cast<int64_t>(cut.body.size()) ==
                    (r.http_bytes == ISITUP_ABSENT_INT ? 0 : r.http_bytes) ||
                r.error_kind == "too_large",
            "the kept body is the bytes counted");
  } else {
    require(cut.body.empty(), "without a regex no body is kept");
  }
  return 0;
}
