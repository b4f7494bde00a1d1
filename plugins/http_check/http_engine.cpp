#include "http_engine.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <strings.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>
#include <system_error>

#include "http_engine_internal.hpp"

namespace isitup::http {

namespace {

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
    rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

engine::engine(sdk::host host, std::shared_ptr<pool> shared)
    : host_(host),
      pool_(std::move(shared)),
      jobs_(std::make_unique<job_list>()),
      deadlines_(std::make_unique<deadline_set>()) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  raise_fd_limit();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  multi_ = curl_multi_init();
  lean_tls_ = make_lean_tls();
  if (epoll_fd_ < 0 || wake_fd_ < 0 || !multi_ || !lean_tls_) {
    if (lean_tls_) SSL_CTX_free(lean_tls_);
    if (multi_) curl_multi_cleanup(multi_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    throw std::system_error(errno, std::generic_category(), "http_check: event loop setup");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = epoll_key(tag_wake, wake_fd_);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  resolver_ = std::make_unique<net::resolver>(host_, epoll_fd_, tag_ares_base);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &engine::on_curl_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &engine::on_curl_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  const int member = pool_->member_count.load();
  if (member >= pool::max_members) {
    curl_multi_cleanup(multi_);
    SSL_CTX_free(lean_tls_);
    close(wake_fd_);
    close(epoll_fd_);
    throw std::runtime_error("http_check: more than 64 event loops");
  }
  pool_->members[member].store(this);
  pool_->member_count.store(member + 1);  // members register on the owner's thread
  thread_ = std::thread([this] { loop(); });
}

void engine::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) { /* the loop also wakes within a second */
  }
  thread_.join();
}

void engine::wake() {
  // Only a loop blocked in epoll_wait needs the eventfd (a write, an epoll return and a read:
  // three syscalls); a loop that is awake looks at its queue before it next sleeps.
  if (sleeping_.exchange(false)) {
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof one) < 0) { /* already signalled (counter full) */
    }
  }
}

bool engine::take_slot() {
  int64_t used = pool_->in_flight.load();
  while (used < pool_->max_in_flight.load())
    if (pool_->in_flight.compare_exchange_weak(used, used + 1)) return true;
  return false;
}

void engine::give_slot() {
  // A run can wait for a slot only while all were taken.
  if (pool_->in_flight.fetch_sub(1) < pool_->max_in_flight.load()) return;
  const int n = pool_->member_count.load();
  for (int i = 0; i < n; ++i)
    if (engine* e = pool_->members[i].load(); e && e != this) e->wake();
}

engine::~engine() {
  stop();
  // Abandon every run without completing it (the ABI's destroy() contract).
  destroying_ = true;
  incoming_.clear();  // never begun: their completions are dropped (destroy() is quiet)
  for (job& j : jobs_->jobs) {
    if (j.easy) {
      curl_multi_remove_handle(multi_, j.easy);
      curl_easy_cleanup(j.easy);
    }
    curl_slist_free_all(j.resolve);
    lean_close(&j);
  }
  resolver_.reset();  // drops its lookups without calling back
  deadlines_->jobs.clear();
  jobs_->jobs.clear_and_dispose([](job* j) { delete j; });
  for (CURL* e : idle_easy_) curl_easy_cleanup(e);
  curl_multi_cleanup(multi_);
  SSL_CTX_free(lean_tls_);
  close(wake_fd_);
  close(epoll_fd_);
  if (schedstat_fd_ >= 0) close(schedstat_fd_);
}

void engine::submit(const check_target& check, std::chrono::milliseconds timeout,
                    sdk::completion done) {
  const clock::time_point deadline = clock::now() + timeout;
  {
    std::lock_guard lock(incoming_mu_);
    incoming_.push_back(incoming{&check, deadline, std::move(done)});
  }
  wake();
}

void engine::loop() {
  // OpenSSL writes to the lean engine's sockets with write(): a peer that closed first must
  // give EPIPE, not a SIGPIPE that kills a host which does not ignore it (a test may not).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  epoll_event events[max_events];
  clock::time_point turn_began = clock::now();
  while (!stopping_) {
    // Announce the sleep before looking for incoming runs (next_timeout_ms): a run submitted
    // after that look sees the flag and wakes the loop.
    sleeping_.store(true);
    const clock::time_point slept = clock::now();
    const int n = epoll_wait(epoll_fd_, events, max_events, next_timeout_ms());
    sleeping_.store(false);
    backlogged_ = n == max_events;
    const clock::time_point woke = clock::now();
    note_loop_busy(turn_began, slept, woke);
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64 >> 32;
      const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
      const uint32_t ev = events[i].events;
      if (tag == tag_wake) {
        uint64_t count;                                 // one read resets the counter
        if (read(wake_fd_, &count, sizeof count) < 0) { /* raced with another reader: none */
        }
      } else if (tag == tag_lean) {
        lean_event(fd, ev);
      } else if (tag == tag_curl) {
        int flags = 0;
        if (ev & EPOLLIN) flags |= CURL_CSELECT_IN;
        if (ev & EPOLLOUT) flags |= CURL_CSELECT_OUT;
        if (ev & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
        int running = 0;
        curl_multi_socket_action(multi_, fd, flags, &running);
      } else if (resolver_->owns_tag(static_cast<uint32_t>(tag))) {
        resolver_->on_event(static_cast<uint32_t>(tag), fd, ev);
      }
    }
    const clock::time_point now = clock::now();
    if (curl_timer_armed_ && now >= curl_timer_) {
      curl_timer_armed_ = false;
      int running = 0;
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    resolver_->process_timeouts();
    check_multi_info();
    expire_deadlines(clock::now());
    take_incoming();
    pump_queue();
    turn_began = woke;
  }
}

void engine::note_loop_busy(clock::time_point began, clock::time_point slept,
                            clock::time_point woke) {
  const double busy = ms_between(began, slept), all = ms_between(began, woke);
  if (all <= 0) return;
  const double weight = std::min(1.0, all / lean_busy_window_ms);
  loop_busy_ += weight * (busy / all - loop_busy_);
  busy_share_.store(loop_busy_, std::memory_order_relaxed);
  window_busy_ms_ += busy;
  note_window(woke);
}

int engine::next_timeout_ms() {
  {
    std::lock_guard lock(incoming_mu_);
    if (!incoming_.empty()) return 0;
  }
  const bool head_may_start =
      queue_head_ < queue_.size() && pool_->in_flight.load() < pool_->max_in_flight.load();
  const bool head_waits_for_handshake = head_may_start && queue_[queue_head_] &&
                                        starts_lean_handshake(queue_[queue_head_]) &&
                                        handshakes_full();
  waits_for_handshake_.store(head_waits_for_handshake, std::memory_order_relaxed);
  if (head_may_start && !head_waits_for_handshake) return 0;
  const clock::time_point now = clock::now();
  clock::time_point wake = now + std::chrono::seconds(1);
  // A head waiting for the loops to be less busy looks again once the busy share had time to
  // fall: handshakes that never answer send no event to wake the loop (a slot freed on another
  // loop does wake it).
  if (head_waits_for_handshake)
    wake = now + std::chrono::microseconds(static_cast<int64_t>(lean_busy_window_ms * 1000));
  if (curl_timer_armed_ && curl_timer_ < wake) wake = curl_timer_;
  if (!deadlines_->jobs.empty() && deadlines_->jobs.begin()->deadline_at < wake)
    wake = deadlines_->jobs.begin()->deadline_at;
  wake = resolver_->next_wake(now, wake);
  if (wake <= now) return 0;
  // Round up so that the loop never wakes a little early and spins.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wake - now).count());
}

void engine::take_incoming() {
  {
    std::lock_guard lock(incoming_mu_);
    taken_.swap(incoming_);
  }
  for (incoming& in : taken_) {
    job* j = nullptr;
    try {
      j = new job(this, in.check->config, std::move(in.done));
      j->deadline = in.deadline;
      j->start_at(in.check->target);
    } catch (const std::bad_alloc&) {
      sdk::completion done = j ? std::move(j->done) : std::move(in.done);
      delete j;
      done(sdk::result::down("internal", "out of memory"));
      continue;
    }
    jobs_->jobs.push_back(*j);
    track_deadline(j, j->deadline);
    j->queue_pos = queue_.size();
    queue_.push_back(j);
  }
  taken_.clear();  // keeps its room for the next swap
}

void engine::pump_queue() {
  // A few TLS or curl runs per turn of the loop: the CPU of starting many TLS handshakes at once
  // (~0.3 ms each here) would otherwise sit inside the timed phases of the runs already
  // connecting, whose answers wait while the loop starts the others (200 at once: a median
  // `tls` of 100-370 ms instead of 2-7 ms on loopback). A run waiting here is still queued:
  // its phases have not begun (its timeout runs).
  int paced_starts = 0, plain_starts = 0;
  const int paced_per_turn = std::max(
      1, paced_starts_per_turn / std::max(1, pool_->loops.load(std::memory_order_relaxed)));
  while (queue_head_ < queue_.size()) {
    job* j = queue_[queue_head_];
    if (!j) {  // timed out while queued
      ++queue_head_;
      continue;
    }
    const bool paced = j->target().scheme == "https" || !j->cfg->lean_eligible(j->target());
    if (paced && paced_starts++ == paced_per_turn) {
      blocked_ = blocked::paced;
      break;
    }
    if (!paced && backlogged_ && plain_starts++ == backlog_starts_per_turn) {
      blocked_ = blocked::backlog;
      break;
    }
    if (starts_lean_handshake(j) && !take_handshake_slot(j, false)) {
      blocked_ = blocked::handshake;
      blocked_handshakes_ = pool_->handshakes.load();
      break;
    }
    if (!take_slot()) {
      release_handshake_slot(j);
      blocked_ = blocked::slot;
      break;
    }
    queue_[queue_head_++] = nullptr;
    if (j->deadline - clock::now() < std::chrono::milliseconds(1)) {
      // Its deadline passes within the millisecond: it waited in the queue all along.
      j->begun = clock::now();
      finish(j, sdk::result::down("timeout", queued_too_long(j)));
      continue;
    }
    begin(j);
  }
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
  } else if (queue_head_ > 4096 && queue_head_ * 2 > queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    for (job* j : queue_)
      if (j) j->queue_pos -= queue_head_;
    queue_head_ = 0;
  }
}

void engine::untrack_deadline(job* j) {
  if (!j->has_deadline) return;
  deadlines_->jobs.erase(deadlines_->jobs.iterator_to(*j));
  j->has_deadline = false;
}

void engine::track_deadline(job* j, clock::time_point at) {
  if (j->has_deadline && j->deadline_at == at) return;
  untrack_deadline(j);
  j->deadline_at = at;
  deadlines_->jobs.insert(*j);
  j->has_deadline = true;
}

void engine::expire_deadlines(clock::time_point now) {
  while (!deadlines_->jobs.empty() && deadlines_->jobs.begin()->deadline_at <= now) {
    job* j = &*deadlines_->jobs.begin();
    if (j->conn) {
      lean_timeout(j);
      continue;
    }
    const bool queued = j->begun == clock::time_point{};
    std::string why = queued ? queued_too_long(j) : "timed out resolving " + j->target().host;
    if (queued) {
      queue_[j->queue_pos] = nullptr;
      pool_->in_flight.fetch_add(1);  // finish() gives the slot back
      j->begun = now;
    }
    sdk::result r = sdk::result::down("timeout", std::move(why));
    finish(j, std::move(r));
  }
}

std::string engine::queued_too_long(const job* j) const {
  // Why the queue last stopped: another loop may have freed what it waited for since.
  if (blocked_ == blocked::slot) return "timed out waiting for a free request slot (max_in_flight)";
  if (blocked_ == blocked::handshake && starts_lean_handshake(j)) {
    const int n = blocked_handshakes_;
    return "timed out waiting to start its TLS handshake (" + std::to_string(n) +
           (n >= max_lean_handshakes ? " in progress, the most at once)"
                                     : " in progress on busy event loops)");
  }
  if (blocked_ == blocked::backlog)
    return "timed out waiting to start: the event loop was busy with the answers of the runs in "
           "progress";
  return "timed out waiting to start: TLS and curl starts are paced on a busy event loop";
}

void engine::begin(job* j) {
  j->begun = clock::now();
  start_hop(j);
}

// Resolves this hop's host (unless it is an address or a proxy resolves it), then transfers.
void engine::start_hop(job* j) {
  j->hop_resolve = clock::now();
  if (j->target().host_is_ip || !j->cfg->proxy.empty()) {
    // A lean hop tracks the run's deadline again at once (start_lean; track_deadline keeps an
    // unchanged time where it is): a tree erase and insert less per run.
    if (!j->cfg->lean_eligible(j->target())) untrack_deadline(j);
    j->dns_ms = ISITUP_ABSENT_MS;
    start_transfer(j, "");
    return;
  }
  resolve(j);
}

void engine::start_transfer(job* j, const std::string& ip) {
  const check_config& c = *j->cfg;
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(j->deadline - clock::now());
  if (remaining.count() <= 0) {
    finish(j, sdk::result::down("timeout", "timed out before connecting"));
    return;
  }
  if (c.lean_eligible(j->target())) {
    start_lean(j, ip.empty() ? j->target().host : ip);
    return;
  }
  CURL* e = nullptr;
  if (!idle_easy_.empty()) {
    e = idle_easy_.back();
    idle_easy_.pop_back();
    curl_easy_reset(e);
  } else {
    e = curl_easy_init();
    if (!e) {
      finish(j, sdk::result::down("internal", "curl_easy_init failed"));
      return;
    }
  }
  j->easy = e;
  j->body.clear();
  j->bytes = 0;
  j->too_large = false;
  j->cert_seen = false;
  if (!j->error) j->error = std::make_unique<char[]>(CURL_ERROR_SIZE);
  j->error[0] = '\0';
  j->hop_curl = clock::now();
  curl_slist_free_all(j->resolve);
  j->resolve = nullptr;
  if (!ip.empty()) {
    const bool v6 = ip.find(':') != std::string::npos;
    const std::string entry = j->target().host + ":" + std::to_string(j->target().port) + ":" +
                              (v6 ? "[" + ip + "]" : ip);
    j->resolve = curl_slist_append(nullptr, entry.c_str());
    curl_easy_setopt(e, CURLOPT_RESOLVE, j->resolve);
  }
  curl_easy_setopt(e, CURLOPT_URL, j->target().url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, j);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error.get());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
  if (c.connect_timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(c.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &engine::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
  if (j->target().scheme == "https") {
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &engine::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
  }
  if (!c.reuse_connections) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  const bool get = j->get_after_redirect;
  if (!get) {
    if (c.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (c.method != "GET" || c.has_body) {
      if (c.has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c.body.c_str());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(c.body.size()));
      }
      if (c.method != "POST" || !c.has_body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c.method.c_str());
    }
  }
  if (c.headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, c.headers.get());
  if (!c.user_agent.empty()) curl_easy_setopt(e, CURLOPT_USERAGENT, c.user_agent.c_str());
  if (j->target().scheme == "https" && !setup_tls(j, e)) return;
  // An empty proxy also stops curl reading the *_proxy environment variables on every run.
  curl_easy_setopt(e, CURLOPT_PROXY, c.proxy.c_str());
  if (CURLMcode mc = curl_multi_add_handle(multi_, e); mc != CURLM_OK) {
    j->easy = nullptr;
    idle_easy_.push_back(e);
    finish(j, sdk::result::down("internal", curl_multi_strerror(mc)));
  }
}

bool engine::setup_tls(job* j, CURL* e) {
  const check_config& c = *j->cfg;
  if (!c.tls_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  // A fresh connection is a full handshake: a resumed session would skip verifying the
  // certificate (and report the one of an earlier run).
  if (!c.reuse_connections) curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  // The shared material goes in through on_ssl_ctx, which curl also calls for an https://
  // proxy's own TLS: with one, curl reads the check's files itself as it always did.
  const bool shared = c.proxy.size() < 6 || strncasecmp(c.proxy.c_str(), "https:", 6) != 0;
  std::string error;
  j->ca_now.reset();
  j->identity_now.reset();
  if (c.tls_verify && shared && c.ca) {
    if (!(j->ca_now = c.ca->current(error))) {
      finish(j, sdk::result::down("tls", error));
      return false;
    }
    curl_easy_setopt(e, CURLOPT_CAINFO, nullptr);  // no file read per handshake
    curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
    // Nor curl's own one-store cache, which would put a store cached from another check (its
    // key is the CA file's name, here none) over the one on_ssl_ctx installs.
    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
  } else if (c.tls_verify && !c.ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, c.ca_file.c_str());
  }
  if (shared && c.identity) {
    if (!(j->identity_now = c.identity->current(error))) {
      finish(j, sdk::result::down("tls", error));
      return false;
    }
  } else if (!c.client_cert.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, c.client_cert.c_str());
    if (!c.client_key.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, c.client_key.c_str());
  }
  if (j->ca_now || j->identity_now) {
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, &engine::on_ssl_ctx);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, j);
  }
  return true;
}

// Called by curl for each new connection's SSL_CTX, before the handshake.
CURLcode engine::on_ssl_ctx(CURL*, void* ssl_ctx, void* userp) {
  const auto* j = static_cast<const job*>(userp);
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  if (j->ca_now && !j->ca_now->install(ctx)) return CURLE_SSL_CACERT_BADFILE;
  if (j->identity_now && !j->identity_now->install(ctx)) return CURLE_SSL_CERTPROBLEM;
  return CURLE_OK;
}

void engine::check_multi_info() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    job* j = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &j);
    const CURLcode rc = msg->data.result;
    curl_multi_remove_handle(multi_, msg->easy_handle);
    if (j) transfer_done(j, rc);
  }
}

void engine::finish(job* j, sdk::result r) {
  untrack_deadline(j);
  if (r.total_ms == ISITUP_ABSENT_MS) r.total_ms = ms_between(j->begun, clock::now());
  if (r.dns_ms == ISITUP_ABSENT_MS) r.dns_ms = j->dns_ms;
  resolver_->cancel(*j);
  release_transfer(j);
  release_handshake_slot(j);  // a run that ended before its handshake began (DNS, timeout)
  jobs_->jobs.erase(jobs_->jobs.iterator_to(*j));
  give_slot();
  sdk::completion done = std::move(j->done);
  delete j;
  done(r);
}

void engine::release_transfer(job* j) {
  if (j->easy) {
    idle_easy_.push_back(j->easy);
    j->easy = nullptr;
  }
  curl_slist_free_all(j->resolve);
  j->resolve = nullptr;
  lean_close(j);
}

int engine::on_curl_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<engine*>(userp);
  epoll_event ev{};
  ev.data.u64 = epoll_key(tag_curl, fd);
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    curl_multi_assign(self->multi_, fd, nullptr);
    return 0;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  if (socketp) {
    epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  } else {
    if (epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
      epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    curl_multi_assign(self->multi_, fd, self);  // any non-null marker: "registered"
  }
  return 0;
}

int engine::on_curl_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<engine*>(userp);
  self->curl_timer_armed_ = timeout_ms >= 0;
  if (timeout_ms >= 0) self->curl_timer_ = clock::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

}  // namespace isitup::http
