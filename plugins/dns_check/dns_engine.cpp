// dns_check's event loop (dns_engine.hpp) and the verdict on a reply.
#include "dns_engine.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <isitup/text.hpp>
#include <isitup/util/error_text.hpp>

#include "dns_message.hpp"

namespace isitup::dns {

struct engine::job {
  std::shared_ptr<const dns_query> query;
  std::chrono::milliseconds timeout{0};
  sdk::completion done;
  clock::time_point sent_at{};
  std::multimap<clock::time_point, job*>::iterator deadline;
  channel* ch = nullptr;  // set when sent to c-ares
  bool finished = false;  // done was called (by the deadline); c-ares may still hold the job
};

struct engine::channel {
  engine* owner = nullptr;
  ares_channel ares = nullptr;
  int pending = 0;  // queries c-ares has not called back yet
  ~channel() {
    if (ares) ares_destroy(ares);
  }
};

namespace {

constexpr size_t channel_sweep_at = 64;

double ms_between(engine::clock::time_point a, engine::clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  out += '"';
}

// The `extra` object of a run that got a reply.
std::string extra_json(const dns_query& q, const dns_reply& r, size_t matching) {
  std::string out = "{\"rcode\":";
  append_json_string(out, rcode_name(r.rcode));
  out += ",\"type\":";
  append_json_string(out, type_name(q.type));
  out += ",\"answer_count\":" + std::to_string(r.answers.size());
  out += ",\"matching_answers\":" + std::to_string(matching);
  out += std::string(",\"authoritative\":") + (r.authoritative ? "true" : "false");
  out += ",\"answers\":[";
  for (size_t i = 0; i < r.answers.size() && i < max_answers_shown; ++i) {
    const dns_record& a = r.answers[i];
    if (i) out += ',';
    out += "{\"type\":";
    append_json_string(out, type_name(a.type));
    out += ",\"ttl\":" + std::to_string(a.ttl) + ",\"data\":";
    append_json_string(out, std::string_view(a.data).substr(0, max_answer_chars));
    out += '}';
  }
  return out + "]}";
}

// The verdict on a reply to `q`.
sdk::result judge(const dns_query& q, const unsigned char* abuf, int alen) {
  std::string error;
  auto reply = parse_reply(abuf, static_cast<size_t>(alen), error);
  if (!reply) return sdk::result::down("protocol", "malformed DNS reply: " + error);
  size_t matching = 0;
  for (const dns_record& a : reply->answers) matching += a.type == q.type;
  sdk::result r = sdk::result::ok();
  r.extra_json = extra_json(q, *reply, matching);
  auto down = [&](const char* kind, std::string message) {
    r.up = false;
    r.error_kind = kind;
    r.error_message = std::move(message);
    return r;
  };
  if (reply->rcode != q.expect_rcode)
    return down("dns", "rcode " + rcode_name(reply->rcode) + " for " + q.name + " " +
                           type_name(q.type) + ", expected " + rcode_name(q.expect_rcode));
  if (matching < static_cast<size_t>(q.expect_min_answers))
    return down("answer_mismatch", std::to_string(matching) + " " + type_name(q.type) +
                                       " answers for " + q.name + ", expected at least " +
                                       std::to_string(q.expect_min_answers));
  for (const auto& re : q.expect_answers) {
    const bool found =
        std::any_of(reply->answers.begin(), reply->answers.end(),
                    [&](const dns_record& a) { return re2::RE2::PartialMatch(a.data, *re); });
    if (!found)
      return down("answer_mismatch", "no answer for " + q.name + " " + type_name(q.type) +
                                         " matches \"" + sdk::shown_value(re->pattern()) + "\"");
  }
  return r;
}

}  // namespace

engine::engine(sdk::host host) : host_(host) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    throw std::runtime_error(std::string("dns_check: cannot set up its event loop: ") +
                             sdk::error_text(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { loop(); });
}

engine::~engine() {
  stopping_ = true;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  // The loop has ended: what is left is abandoned without completing (destroy()'s contract).
  // Destroying a channel calls back its queries with ARES_EDESTRUCTION; those free their jobs.
  channels_.clear();
  for (size_t i = queue_head_; i < queue_.size(); ++i) delete queue_[i];
  for (job* j : incoming_) delete j;
  close(epoll_fd_);
  close(wake_fd_);
}

void engine::submit(std::shared_ptr<const dns_query> query, std::chrono::milliseconds timeout,
                    sdk::completion done) {
  auto* j = new job{std::move(query), timeout, std::move(done)};
  {
    std::lock_guard lock(incoming_mu_);
    incoming_.push_back(j);
  }
  // Only a loop blocked in epoll_wait needs the eventfd (a write, an epoll return and a read);
  // a loop that is awake takes the run before it next sleeps.
  if (sleeping_.exchange(false)) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

void engine::loop() {
  epoll_event events[64];
  while (!stopping_) {
    // Announce the sleep before looking for incoming runs (next_timeout_ms): a run submitted
    // after that look sees the flag and wakes the loop.
    sleeping_.store(true);
    const int n = epoll_wait(epoll_fd_, events, 64, next_timeout_ms());
    sleeping_.store(false);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t v;
        (void)!read(wake_fd_, &v, sizeof v);
        continue;
      }
      auto it = channel_by_fd_.find(fd);
      if (it == channel_by_fd_.end()) continue;
      const bool readable = events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP);
      const bool writable = events[i].events & EPOLLOUT;
      ares_process_fd(it->second->ares, readable ? fd : ARES_SOCKET_BAD,
                      writable ? fd : ARES_SOCKET_BAD);
    }
    if (stopping_) break;
    // c-ares's own retry timers: processing with no socket handles what is due.
    for (auto& [key, ch] : channels_)
      if (ch->pending > 0) ares_process_fd(ch->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    take_incoming();
    expire(clock::now());
    pump_queue();
  }
}

int engine::next_timeout_ms() {
  {
    std::lock_guard lock(incoming_mu_);
    if (!incoming_.empty()) return 0;
  }
  auto wait = std::chrono::milliseconds(1000);
  if (!deadlines_.empty()) {
    const auto until =
        std::chrono::ceil<std::chrono::milliseconds>(deadlines_.begin()->first - clock::now());
    wait = std::clamp(until, std::chrono::milliseconds(0), wait);
  }
  for (auto& [key, ch] : channels_) {
    if (ch->pending == 0) continue;
    timeval max{wait.count() / 1000, static_cast<long>(wait.count() % 1000) * 1000}, tv{};
    const timeval* t = ares_timeout(ch->ares, &max, &tv);
    const auto ms = std::chrono::milliseconds(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
    wait = std::min(wait, ms);
  }
  return static_cast<int>(wait.count());
}

void engine::take_incoming() {
  std::vector<job*> taken;
  {
    std::lock_guard lock(incoming_mu_);
    taken.swap(incoming_);
  }
  const auto now = clock::now();
  for (job* j : taken) {
    j->deadline = deadlines_.emplace(now + j->timeout, j);
    if (queue_head_ > 0 && queue_head_ == queue_.size()) {
      queue_.clear();
      queue_head_ = 0;
    }
    queue_.push_back(j);
  }
}

void engine::pump_queue() {
  while (queue_head_ < queue_.size() && in_flight_ < max_in_flight) {
    job* j = queue_[queue_head_++];
    if (j->finished)
      delete j;  // its deadline passed while it waited
    else
      send(j);
  }
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
  }
}

void engine::send(job* j) {
  std::string error;
  channel* ch = channel_for(*j->query, j->timeout, error);
  if (!ch) {
    finish(j, sdk::result::down("dns", error));
    delete j;
    return;
  }
  ++ch->pending;
  ++in_flight_;
  j->ch = ch;
  j->sent_at = clock::now();
  ares_send(ch->ares, j->query->wire.data(), static_cast<int>(j->query->wire.size()), &on_reply, j);
}

void engine::on_reply(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  auto* j = static_cast<job*>(arg);
  channel* ch = j->ch;
  --ch->pending;
  --ch->owner->in_flight_;
  // Destroyed with the engine (abandoned), or already reported as timed out.
  if (status != ARES_EDESTRUCTION && !j->finished)
    ch->owner->replied(j, status, timeouts, abuf, alen);
  delete j;
}

void engine::replied(job* j, int status, int timeouts, const unsigned char* abuf, int alen) {
  const double ms = ms_between(j->sent_at, clock::now());
  sdk::result r;
  switch (status) {
    case ARES_SUCCESS:
      r = judge(*j->query, abuf, alen);
      break;
    case ARES_ETIMEOUT:  // every attempt at every server went unanswered
      r = sdk::result::down("timeout", "no reply for " + j->query->name + " after " +
                                           std::to_string(timeouts) + " attempts (" +
                                           std::to_string(std::lround(ms)) + " ms)");
      break;
    case ARES_ECONNREFUSED:
      r = sdk::result::down("dns",
                            "the DNS server refused the connection (no DNS server on " +
                                (j->query->servers.empty() ? std::string("resolv.conf's servers")
                                                           : j->query->servers) +
                                ")");
      break;
    case ARES_EBADRESP:
      r = sdk::result::down("protocol", "malformed DNS reply");
      break;
    default:
      r = sdk::result::down("dns", std::string("c-ares: ") + ares_strerror(status));
  }
  r.dns_ms = r.total_ms = ms;
  finish(j, r);
}

void engine::finish(job* j, const sdk::result& r) {
  deadlines_.erase(j->deadline);
  j->finished = true;
  j->done(r);
}

void engine::expire(clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    job* j = deadlines_.begin()->second;
    const bool sent = j->ch != nullptr;
    sdk::result r = sdk::result::down(
        "timeout", (sent ? "no reply for " : "no free slot to ask for ") + j->query->name +
                       " within " + std::to_string(j->timeout.count()) + " ms");
    if (sent) r.dns_ms = r.total_ms = ms_between(j->sent_at, now);
    finish(j, r);  // a queued job is freed by pump_queue, a sent one by on_reply
  }
}

engine::channel* engine::channel_for(const dns_query& q, std::chrono::milliseconds timeout,
                                     std::string& error) {
  // Each attempt of a round waits twice as long as in the round before (c-ares): the rounds
  // of `attempts` tries fit the run's timeout when the first waits timeout / (2^attempts - 1).
  const auto try_timeout = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(50),
                                                               timeout / ((1 << q.attempts) - 1));
  const std::string key = q.channel_key(try_timeout);
  if (auto it = channels_.find(key); it != channels_.end()) return it->second.get();
  if (channels_.size() >= channel_sweep_at)
    std::erase_if(channels_, [](const auto& kv) { return kv.second->pending == 0; });

  auto ch = std::make_unique<channel>();
  ch->owner = this;
  ares_options o{};
  o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | (q.tcp ? ARES_FLAG_USEVC : 0);
  o.timeout = static_cast<int>(try_timeout.count());
  o.tries = q.attempts;
  o.sock_state_cb = &on_sock_state;
  o.sock_state_cb_data = ch.get();
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  int rc = ares_init_options(&ch->ares, &o, mask);
  if (rc == ARES_SUCCESS && !q.servers.empty())
    rc = ares_set_servers_ports_csv(ch->ares, q.servers.c_str());
  if (rc != ARES_SUCCESS) {
    error = std::string("cannot set up a c-ares channel (") +
            (q.servers.empty() ? "/etc/resolv.conf" : q.servers) + "): " + ares_strerror(rc);
    return nullptr;  // ch's destructor frees what ares_init_options made
  }
  return (channels_[key] = std::move(ch)).get();
}

void engine::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* ch = static_cast<channel*>(data);
  engine* e = ch->owner;
  if (!readable && !writable) {
    epoll_ctl(e->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    e->channel_by_fd_.erase(fd);
    return;
  }
  epoll_event ev{};
  ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  const bool known = e->channel_by_fd_.count(fd) != 0;
  e->channel_by_fd_[fd] = ch;
  if (epoll_ctl(e->epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 && known)
    epoll_ctl(e->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

}  // namespace isitup::dns
