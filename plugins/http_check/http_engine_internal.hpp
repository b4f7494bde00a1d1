// The engine's per-run state, shared by http_engine.cpp, http_resolver.cpp and the rest.
// Loop thread only.
#pragma once

#include <http_parser.h>

#include <map>
#include <string>
#include <vector>

#include "http_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::http {

// Tags of the engine's epoll registrations (the high 32 bits of epoll_event.data.u64).
constexpr uint64_t tag_wake = 0;
constexpr uint64_t tag_curl = 1;
constexpr uint64_t tag_ares_base = 2;  // + channel index (net::resolver)
constexpr uint64_t tag_lean = 0xffff;  // a lean-engine connection (http_lean.cpp)

// Queued runs that start on curl (TLS, proxies, reuse) begun per turn of the loop at most
// (engine::pump_queue); the lean engine's runs are not limited.
constexpr int curl_starts_per_turn = 4;

inline uint64_t epoll_key(uint64_t tag, int fd) { return (tag << 32) | static_cast<uint32_t>(fd); }

inline double ms_between(engine::clock::time_point a, engine::clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

inline double ms_since(engine::clock::time_point t) {
  return std::chrono::duration<double, std::milli>(engine::clock::now() - t).count();
}

// A run; while its host is looked up it waits as a request of the engine's resolver.
struct engine::job : net::resolver::request {
  engine* owner = nullptr;
  std::shared_ptr<const check_config> cfg;
  sdk::completion done;
  clock::time_point deadline;
  clock::time_point begun;        // left the queue: timings count from here
  clock::time_point hop_resolve;  // this hop's DNS lookup started
  clock::time_point hop_curl;     // this hop's transfer started
  std::multimap<clock::time_point, job*>::iterator deadline_it;
  bool has_deadline = false;
  size_t queue_pos = 0;  // index in engine::queue_ while waiting for a slot

  url_parts target;                 // this hop's URL and its parts
  bool get_after_redirect = false;  // a 303 (or 301/302 after POST) turned the method into GET
  int redirects = 0;
  double dns_ms = ISITUP_ABSENT_MS;

  lean_conn* conn = nullptr;  // this hop runs on the lean engine (http_lean.cpp)
  CURL* easy = nullptr;
  curl_slist* resolve = nullptr;
  std::string body;
  int64_t bytes = 0;
  bool too_large = false;
  bool cert_seen = false;
  int64_t tls_not_after_ms = ISITUP_ABSENT_TIME;
  // https hops: the versions of the check's TLS material that on_ssl_ctx installs.
  std::shared_ptr<const net::tls_material> ca_now, identity_now;
  char error[CURL_ERROR_SIZE] = "";

  job(engine* e, std::shared_ptr<const check_config> c, sdk::completion d)
      : owner(e), cfg(std::move(c)), done(std::move(d)) {}
  void resolved(const net::resolver::outcome& o) override { owner->resolved(this, o); }
};

// One hop on the lean HTTP/1.1 engine: a non-blocking socket on the engine's epoll
// (edge-triggered, registered once for both directions) and Node's http_parser.
struct engine::lean_conn {
  int fd = -1;
  http_parser parser;
  std::string request;
  size_t sent = 0;
  std::string ip;
  clock::time_point connected{}, first_byte{};
  bool connecting = true;
  bool readable = false;  // an edge said so and recv has not seen EAGAIN since
  bool head_done = false, complete = false, head_request = false;
  bool in_location = false;  // the header being read is Location
  std::string location;
};

}  // namespace isitup::http
