// The engine's per-run state, shared by http_engine.cpp, http_resolver.cpp and the rest.
// Loop thread only.
#pragma once

#include <http_parser.h>
#include <openssl/ssl.h>

#include <boost/container/small_vector.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::http {

// Tags of the engine's epoll registrations (the high 32 bits of epoll_event.data.u64).
constexpr uint64_t tag_wake = 0;
constexpr uint64_t tag_curl = 1;
constexpr uint64_t tag_ares_base = 2;  // + channel index (net::resolver)
constexpr uint64_t tag_lean = 0xffff;  // a lean-engine connection (http_lean.cpp)

// Queued runs that start a TLS handshake or curl (proxies, reuse) begun per turn at most, for
// the loops of a plugin instance together: each loop begins its share (engine::pool), at least
// one. The lean engine's plain http:// runs are not limited.
constexpr int paced_starts_per_turn = 4;
// When a queued https:// run on the lean engine may start its handshake (TCP connect to
// handshake done), counted over all loops of the plugin instance: while fewer than
// lean_handshakes_busy are in progress, or fewer than max_lean_handshakes while the loops are
// busy less than lean_busy_share in all (engine::pool_busy: each loop's share of time off
// epoll_wait, a moving average over ~lean_busy_window, added up); a loop with none in progress
// may always start one. A handshake costs ~0.5 ms of CPU on a loop thread: started without a
// bound (200 at once), each would report the CPU of the others as its `tls` time; a fixed
// small bound would cap a probe of far-away sites (100 ms round trips) at a few dozen
// handshakes a second. Busy loops mean the handshakes in progress wait for them, not for the
// network; one budget for all loops, because on a machine without idle cores two loops each
// starting as many as one would inflate each other's phases.
constexpr int lean_handshakes_busy = 8;
constexpr int max_lean_handshakes = 256;
constexpr double lean_busy_window_ms = 5.0;
constexpr double lean_busy_share = 0.5;

// Events a turn of the loop takes from epoll_wait at most. A turn whose epoll_wait filled them
// all has more ready (answers of runs in progress that wait to be read): it starts at most
// backlog_starts_per_turn queued plain http runs, so that the connections open stay near what
// the loop can serve instead of growing with the runs due (each connection open makes every
// other one dearer in the kernel; starting runs whose answers would wait behind the ones ready
// adds nothing but their wait to their phases).
constexpr int max_events = 256;
constexpr int backlog_starts_per_turn = 32;

inline uint64_t epoll_key(uint64_t tag, int fd) { return (tag << 32) | static_cast<uint32_t>(fd); }

inline double ms_between(engine::clock::time_point a, engine::clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

inline double ms_since(engine::clock::time_point t) {
  return std::chrono::duration<double, std::milli>(engine::clock::now() - t).count();
}

// Sets the result's certificate expiry and its whole days left (net::days_left(): a certificate
// that expired an hour ago has -1) from the peer certificate's notAfter (http_result.cpp).
void set_tls_expiry(int64_t not_after_ms, sdk::result& r);
// Why OpenSSL failed (its last queued error, which it clears), or the socket's errno when it
// queued none (http_lean_tls.cpp).
std::string lean_tls_reason(int ssl_error);

// A lean hop's request: built per hop into the job's own storage, inline up to 256 bytes (a
// GET with the usual headers is ~100-150): no allocation per run.
struct request_text {
  boost::container::small_vector<char, 256> bytes;
  request_text& operator+=(std::string_view s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  request_text& operator+=(char c) {
    bytes.push_back(c);
    return *this;
  }
  void reserve(size_t n) { bytes.reserve(n); }
  const char* data() const { return bytes.data(); }
  size_t size() const { return bytes.size(); }
};

// One hop on the lean HTTP/1.1 engine: a non-blocking socket on the engine's epoll
// (edge-triggered, registered once for both directions) and Node's http_parser; for https://
// an OpenSSL connection over that socket, made from the engine's one SSL_CTX.
struct engine::lean_conn {
  int fd = -1;
  SSL* ssl = nullptr;           // https:// only
  bool handshaking = false;     // the TLS handshake has begun and not ended
  clock::time_point secured{};  // the TLS handshake ended
  http_parser parser;
  request_text request;
  size_t sent = 0;
  std::string ip;
  clock::time_point connected{}, first_byte{};
  bool connecting = true;
  bool readable = false;  // an edge said so and recv has not seen EAGAIN since
  bool head_done = false, complete = false, head_request = false;
  bool in_location = false;  // the header being read is Location
  std::string location;
  std::string tls_error;  // why SSL_read failed
};

// A run; while its host is looked up it waits as a request of the engine's resolver.
struct engine::job
    : net::resolver::request,
      boost::intrusive::set_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>>,
      boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>> {
  engine* owner = nullptr;
  std::shared_ptr<const check_config> cfg;
  sdk::completion done;
  clock::time_point deadline;
  clock::time_point begun;        // left the queue: timings count from here
  clock::time_point hop_resolve;  // this hop's DNS lookup started
  clock::time_point hop_curl;     // this hop's transfer started
  clock::time_point deadline_at;  // its place in engine::deadlines_, while has_deadline
  bool has_deadline = false;
  size_t queue_pos = 0;               // index in engine::queue_ while waiting for a slot
  bool holds_handshake_slot = false;  // counted in engine::lean_handshakes_ and the pool's

  // This hop's URL and its parts: the prepared check's (which outlives the run: no copy per
  // run) until a redirect gives the job one of its own.
  const url_parts& target() const { return *hop_; }
  void start_at(const url_parts& check_target) { hop_ = &check_target; }
  void redirect_to(url_parts next) {
    redirected_ = std::move(next);
    hop_ = &redirected_;
  }
  bool get_after_redirect = false;  // a 303 (or 301/302 after POST) turned the method into GET
  int redirects = 0;
  double dns_ms = ISITUP_ABSENT_MS;

  lean_conn* conn = nullptr;  // this hop runs on the lean engine (http_lean.cpp)
  // Where `conn` lives: in the job (made in start_lean, ended in lean_close), no allocation of
  // its own per run.
  std::optional<lean_conn> lean_storage;
  CURL* easy = nullptr;
  curl_slist* resolve = nullptr;
  std::string body;
  int64_t bytes = 0;
  bool too_large = false;
  bool cert_seen = false;
  int64_t tls_not_after_ms = ISITUP_ABSENT_TIME;
  // https hops: the versions of the check's TLS material that on_ssl_ctx installs.
  std::shared_ptr<const net::tls_material> ca_now, identity_now;
  // A curl hop's error text (CURLOPT_ERRORBUFFER, CURL_ERROR_SIZE): made at the first curl hop,
  // so that a lean run's job stays small enough for malloc's per-thread cache (1032 bytes).
  std::unique_ptr<char[]> error;

  job(engine* e, std::shared_ptr<const check_config> c, sdk::completion d)
      : owner(e), cfg(std::move(c)), done(std::move(d)) {}
  job(const job&) = delete;  // hop_ may point into the job
  job& operator=(const job&) = delete;
  void resolved(const net::resolver::outcome& o) override { owner->resolved(this, o); }

 private:
  url_parts redirected_;
  const url_parts* hop_ = &redirected_;
};

struct engine::deadline_set {
  struct order {
    bool operator()(const job& a, const job& b) const { return a.deadline_at < b.deadline_at; }
  };
  // Equal times keep their insertion order (as std::multimap).
  boost::intrusive::multiset<job, boost::intrusive::compare<order>> jobs;
};

struct engine::job_list {
  boost::intrusive::list<job, boost::intrusive::constant_time_size<false>> jobs;
};

}  // namespace isitup::http
