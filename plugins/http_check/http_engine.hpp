// http_check's engine: one event-loop thread; a plugin instance has `loops` of them (1 by
// default) sharing one pool (max_in_flight and the bound on TLS
// handshakes in progress hold for the instance). An engine drives every HTTP(S) request
// submitted to it through one libcurl multi handle (curl_multi_socket_action on epoll) and
// resolves host names with c-ares on the same loop, so no thread is created per lookup or per
// request. Resolved addresses are cached for their DNS TTL and handed to curl
// with CURLOPT_RESOLVE, so the Host header and TLS SNI stay those of the URL. Plain http://
// and https:// hops without a proxy or connection reuse skip curl: a lean HTTP/1.1 client on
// the same loop runs them (http_lean.cpp) at little more than the syscalls of a fresh
// connection, plus OpenSSL's handshake for https:// (one SSL_CTX per engine, the check's
// shared CA store and client identity installed per connection).
//
// Contract: submit() may be called from any thread and returns at once; each submitted run
// completes exactly once, on the loop thread, unless the engine is destroyed first: the
// destructor stops the loop and drops every run still in flight without completing it.
#pragma once

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <isitup/plugin.hpp>

#include "http_config.hpp"
#include "net/resolver.hpp"

namespace isitup::http {

struct lean_parser;

class engine {
 public:
  using clock = std::chrono::steady_clock;

  // What the engines of one plugin instance share. Requests in flight (max_in_flight holds for
  // all of them: a freed slot wakes every member, since a run waiting for one may be queued on
  // another) and lean TLS handshakes in progress (one budget: two loops on a busy machine must
  // not each start as many as one would, or each handshake's `tls` phase waits for the CPU of
  // the others). Members register in their constructor and are never removed; the owner stops
  // every member (stop()) before it destroys any. Any thread.
  struct pool {
    static constexpr int max_members = 64;
    std::atomic<int64_t> max_in_flight{4096};
    std::atomic<int64_t> in_flight{0};
    std::atomic<int> handshakes{0};  // lean handshakes in progress or reserved by a queued run
    std::atomic<int> loops{1};       // members in use (each paces its share of the TLS starts)
    std::array<std::atomic<engine*>, max_members> members{};
    std::atomic<int> member_count{0};
    // `loops: 0`: member 0 sets `loops` between 1 and `most_loops` from the members' loads
    // (adapt_loops); 0: the count is fixed.
    std::atomic<int> most_loops{0};
  };

  // What a loop did over its last window (~100 ms): the share of the window it was busy
  // (off epoll_wait), and the share it was runnable but waiting for a CPU (the thread's run
  // queue wait from /proc/thread-self/schedstat, else its busy wall time less its CPU time).
  struct loop_load {
    double busy = 0;
    double waiting = 0;
  };
  // The number of loops to use next, from `in_use` (1..most) and the loads of the loops in use:
  // one more while every one is busy more than 3/4 of the time and waits for a CPU less than
  // a tenth of it (a core is idle for another loop); one fewer when one waits more than a
  // quarter (the cores are taken: another loop would take turns with the rest of the machine,
  // and every handshake's phases would wait for it), or when the work of all would keep one
  // fewer under half busy. Pure (tests).
  static int next_loop_count(int in_use, int most, const std::vector<loop_load>& loads);

  // Registers the engine in `shared` (at most pool::max_members) and starts its loop thread.
  engine(sdk::host host, std::shared_ptr<pool> shared);
  ~engine();
  // Stops the loop thread; runs in flight are dropped by the destructor. Idempotent. The
  // owner's thread.
  void stop();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Runs `check` once; `done` is called within `timeout` (plus loop latency). Any thread.
  // `check` is read on the loop thread until `done` is called (a prepared check is released
  // only when no run of it is in flight): the run's state is made there, so that what the loop
  // allocates for it is freed on the thread that allocated it.
  void submit(const check_target& check, std::chrono::milliseconds timeout, sdk::completion done);
  // Hops run by the lean HTTP/1.1 engine since the process started (tests).
  static uint64_t lean_transfers();

  // How the lean engine reads one answer to a request for `url`, without a socket: `answer`
  // is fed to the parser in pieces of `piece` bytes (0: at once), then the peer's close.
  // `result` is what the hop reports before the verdict on its status (ok, or down with the
  // engine's error kind, with the http fields once the head was read); `location` is the
  // absolute redirect URL when the check follows redirects; `body` what it keeps for regexes.
  // For tests and fuzzing; any thread.
  struct lean_answer {
    sdk::result result;
    std::string location;
    std::string body;
  };
  static lean_answer parse_lean_answer(std::shared_ptr<const check_config> cfg,
                                       const std::string& url, bool head_request,
                                       std::string_view answer, size_t piece);

 private:
  friend struct lean_parser;  // http_parser's callbacks fill a job
  struct job;
  struct lean_conn;

  void loop();
  void wake();       // any thread: the loop runs a turn soon
  bool take_slot();  // a request slot of the pool, if one is free
  void give_slot();  // back to the pool; wakes the members when one may wait for it
  int next_timeout_ms();
  // A turn of the loop: busy from `began` to `slept`, then in epoll_wait until `woke`.
  void note_loop_busy(clock::time_point began, clock::time_point slept, clock::time_point woke);
  // Loop thread (http_loops.cpp): closes the load window once it is long enough (load_); on
  // member 0 of an adaptive pool, then sets the pool's loop count (at most every 0.5 s).
  void note_window(clock::time_point now);
  void adapt_loops(clock::time_point now);
  void take_incoming();
  void pump_queue();
  void expire_deadlines(clock::time_point now);
  // Why a run still queued at its deadline did not start (its error message).
  std::string queued_too_long(const job* j) const;
  void begin(job* j);
  void start_hop(job* j);
  void start_transfer(job* j, const std::string& ip);
  void check_multi_info();
  void finish(job* j, sdk::result r);
  void untrack_deadline(job* j);
  void track_deadline(job* j, clock::time_point at);
  void release_transfer(job* j);  // gives back the hop's curl handle or lean connection
  // An https hop's CA store and client identity (false: the run finished with the error).
  bool setup_tls(job* j, CURL* e);
  static CURLcode on_ssl_ctx(CURL* easy, void* ssl_ctx, void* userp);

  // The lean HTTP/1.1 engine for plain http:// and https:// hops (http_lean.cpp)
  static SSL_CTX* make_lean_tls();  // the context every lean TLS connection is made from
  void start_lean(job* j, const std::string& ip);
  bool lean_tls_setup(job* j);  // false: the run finished with the error
  // A queued run whose hop starts a lean TLS handshake (it takes a handshake slot first).
  static bool starts_lean_handshake(const job* j);
  // The handshake slots of the pool are taken: a queued lean https run waits.
  bool handshakes_full() const;
  // Takes a handshake slot for a queued run (false: handshakes_full) or, `always`, for a
  // redirect hop (a run that already left the queue).
  bool take_handshake_slot(job* j, bool always);
  void release_handshake_slot(job* j);  // wakes a member waiting for one
  double pool_busy() const;             // the busy shares of the pool's loops, added up
  void lean_handshake(job* j);
  void lean_event(int fd, uint32_t events);
  void lean_connected(job* j);
  void lean_send(job* j);
  void lean_receive(job* j);
  // recv() on plain http, SSL_read() on https (errno EAGAIN: nothing now; EPROTO: a TLS error,
  // why in conn->tls_error).
  static ssize_t lean_read(job* j, char* buf, size_t size);
  void lean_fail(job* j, const char* kind, std::string message);
  void lean_done(job* j);
  void lean_timeout(job* j);
  void lean_fields(job* j, sdk::result& r);
  // Feeds `n` bytes of the answer (0: the peer closed) to the hop's parser. Returns the error
  // kind and sets `message` when the hop failed, else nullptr (conn->complete: answered).
  static const char* lean_feed(job* j, const char* data, size_t n, std::string& message);
  static void lean_http_fields(const job* j, sdk::result& r);
  // `location` resolved against `base` as curl's CURLINFO_REDIRECT_URL; as given if it fails.
  static std::string redirect_url(const std::string& base, const std::string& location);
  void lean_close(job* j);

  // Outcome (http_result.cpp)
  void transfer_done(job* j, CURLcode rc);
  // The verdict on a hop that completed (either engine): redirect, status, regexes, TLS days.
  void conclude(job* j, sdk::result r, const std::string& location);
  void fill_timings(job* j, sdk::result& r);

  // DNS (http_resolver.cpp): the shared resolver (plugins/common/net/resolver.hpp).
  void resolve(job* j);
  void resolved(job* j, const net::resolver::outcome& o);

  static int on_curl_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_curl_timer(CURLM* multi, long timeout_ms, void* userp);
  static size_t on_write(char* data, size_t size, size_t n, void* userp);   // http_result.cpp
  static size_t on_header(char* data, size_t size, size_t n, void* userp);  // http_result.cpp

  sdk::host host_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  CURLM* multi_ = nullptr;
  SSL_CTX* lean_tls_ = nullptr;  // one for every lean https:// hop; stores go in per SSL
  std::shared_ptr<pool> pool_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sleeping_{false};  // the loop is (about to be) blocked in epoll_wait
  // Its queue's head waits for a handshake slot: a slot freed on another loop wakes it.
  std::atomic<bool> waits_for_handshake_{false};
  std::atomic<double> busy_share_{1.0};  // loop_busy_, for the other members (pool_busy)
  bool destroying_ = false;

  // A submitted run, until the loop makes its job (take_incoming).
  struct incoming {
    const check_target* check;
    clock::time_point deadline;
    sdk::completion done;
  };
  std::mutex incoming_mu_;
  std::vector<incoming> incoming_;
  std::vector<incoming> taken_;  // loop thread: swapped with incoming_, so both keep their room

  // Loop thread only from here on.
  struct job_list;  // every job of the loop (intrusive: no allocation per run)
  std::unique_ptr<job_list> jobs_;
  std::vector<job*> queue_;  // waiting for a slot, oldest first (consumed from queue_head_)
  size_t queue_head_ = 0;
  int lean_handshakes_ = 0;  // this loop's share of pool::handshakes
  // Why pump_queue last stopped with runs queued (the reason a queued run gives at its timeout),
  // and the handshakes in progress then.
  enum class blocked { paced, handshake, slot, backlog } blocked_ = blocked::paced;
  // The last epoll_wait filled its array: answers of runs in progress wait to be read, so new
  // plain runs start only a few per turn (backlog_starts_per_turn) until they are read.
  bool backlogged_ = false;
  int blocked_handshakes_ = 0;
  double loop_busy_ = 1.0;  // the share of time the loop spends off epoll_wait (moving average)
  // The current load window (note_window) and the last closed one, for member 0.
  clock::time_point window_began_ = clock::now();
  double window_busy_ms_ = 0;
  int64_t window_cpu_ns_ = -1, window_wait_ns_ = -1;  // the thread's counters at its start
  int schedstat_fd_ = -2;                             // -2: not opened yet; -1: none
  std::atomic<double> load_busy_{0}, load_waiting_{0};
  clock::time_point loops_changed_{};
  // Jobs by the time their current stage ends (queued, resolving, connecting: track_deadline),
  // earliest first; intrusive, so tracking a stage allocates nothing.
  struct deadline_set;
  std::unique_ptr<deadline_set> deadlines_;
  bool curl_timer_armed_ = false;
  clock::time_point curl_timer_{};
  std::vector<CURL*> idle_easy_;
  std::vector<job*> lean_by_fd_;  // lean connections by socket

  std::unique_ptr<net::resolver> resolver_;  // its sockets on epoll_fd_

  std::thread thread_;  // last: started when everything above exists
};

}  // namespace isitup::http
