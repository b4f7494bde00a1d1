#include "webhook_sender.hpp"

#include <curl/curl.h>
#include <isitup/util/backoff.hpp>

#include <strings.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace isitup::webhook {
namespace {

constexpr size_t recent_cap = 4096;  // settled event ids remembered
constexpr auto idle_poll = std::chrono::milliseconds(1000);

size_t discard_body(char*, size_t size, size_t n, void*) { return size * n; }

// Event ids go into request headers: only a plain token is accepted.
bool usable_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
  });
}

std::string seconds_text(std::chrono::milliseconds d) {
  if (d < std::chrono::seconds(1)) return std::to_string(d.count()) + "ms";
  const auto tenths = d.count() / 100;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") + "s";
}

}  // namespace

struct sender::batch {
  batch(sdk::batch_done d, size_t n) : done(std::move(d)), remaining(n) {}
  sdk::batch_done done;
  size_t remaining;
  bool any_retry = false;
  bool any_rejected = false;
  std::string message;  // the first failure's
};

struct sender::delivery {
  event ev;
  std::string body;
  std::shared_ptr<batch> b;
  int attempts = 0;
  clock::time_point first_try;  // when its first request started
  clock::time_point next_try;
};

struct sender::transfer {
  ~transfer() {
    if (easy) curl_easy_cleanup(easy);
    if (headers) curl_slist_free_all(headers);
  }
  std::string check;
  std::string body;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = "";
};

sender::sender(settings s, sdk::host host)
    : settings_(std::move(s)), redact_(settings_), host_(host) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("cannot create a libcurl multi handle");
  thread_ = std::thread([this] { run(); });
}

sender::~sender() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  thread_.join();
  std::vector<std::shared_ptr<batch>> done;
  {
    std::lock_guard lock(mu_);
    for (auto& [check, t] : active_) curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
    active_.clear();
    for (auto& [check, queue] : queues_)
      for (delivery& d : queue) settle_locked(d, outcome::retry, "the sink is shutting down", done);
    queues_.clear();
  }
  complete(done);
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void sender::submit(std::vector<event> events, sdk::batch_done done) {
  if (events.empty()) {
    done(sdk::status::ok);
    return;
  }
  auto b = std::make_shared<batch>(std::move(done), events.size());
  std::vector<std::shared_ptr<batch>> settled;
  {
    std::lock_guard lock(mu_);
    const clock::time_point now = clock::now();
    for (event& ev : events) {
      delivery d{std::move(ev), {}, b, 0, now, now};
      if (!usable_id(d.ev.event_id)) {
        settle_locked(d, outcome::rejected, "an event without a usable event_id", settled);
        continue;
      }
      if (const auto it = recent_.find(d.ev.event_id); it != recent_.end()) {
        settle_locked(d, it->second, "rejected by the receiver before", settled);
        continue;
      }
      d.body = body_for(settings_.format, d.ev);
      const std::string check = d.ev.check;
      queues_[check].push_back(std::move(d));
    }
  }
  complete(settled);
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

bool sender::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queues_.empty(); });
}

void sender::run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      start_due_locked(clock::now());
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      transfer* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
      finish_transfer(t, m->data.result);
    }
    std::chrono::milliseconds wait;
    {
      std::lock_guard lock(mu_);
      wait = next_wait_locked(clock::now());
    }
    // Returns early on socket activity, curl's own timers or curl_multi_wakeup().
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
}

void sender::start_due_locked(clock::time_point now) {
  // Round robin from the check after the one started last, so that with max_concurrent
  // requests in flight no check waits behind the others' whole queues.
  const size_t n = queues_.size();
  auto it = queues_.upper_bound(last_started_);
  for (size_t i = 0; i < n; ++i, ++it) {
    if (active_.size() >= static_cast<size_t>(settings_.max_concurrent)) return;
    if (it == queues_.end()) it = queues_.begin();
    auto& [check, queue] = *it;
    if (queue.empty() || active_.count(check) || queue.front().next_try > now) continue;
    start_transfer(check, queue.front());
    last_started_ = check;
  }
}

std::chrono::milliseconds sender::next_wait_locked(clock::time_point now) const {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(idle_poll);
  for (const auto& [check, queue] : queues_) {
    if (queue.empty() || active_.count(check)) continue;
    const auto until =
        std::chrono::duration_cast<std::chrono::milliseconds>(queue.front().next_try - now);
    wait = std::min(wait, std::max(until, std::chrono::milliseconds(0)));
  }
  return wait;
}

void sender::start_transfer(const std::string& check, delivery& d) {
  if (d.attempts == 0) d.first_try = clock::now();
  auto t = std::make_unique<transfer>();
  t->check = check;
  t->body = d.body;
  t->easy = curl_easy_init();
  if (!t->easy) return;  // out of memory: the loop tries again on its next turn
  bool has_content_type = false;
  for (const auto& [name, value] : settings_.headers) {
    has_content_type = has_content_type || strcasecmp(name.c_str(), "content-type") == 0;
    // "Name:" with nothing after it would remove the header; "Name;" sends it empty.
    std::string line = name;
    line += value.empty() ? ";" : ": ";
    line += value;
    t->headers = curl_slist_append(t->headers, line.c_str());
  }
  if (!has_content_type)
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
  t->headers = curl_slist_append(t->headers, ("Idempotency-Key: " + d.ev.event_id).c_str());
  t->headers = curl_slist_append(t->headers, ("X-Isitup-Event-Id: " + d.ev.event_id).c_str());
  if (!settings_.secret.empty()) {
    const std::string sig = signature(settings_.secret, std::time(nullptr), t->body);
    t->headers = curl_slist_append(t->headers, ("X-Isitup-Signature: " + sig).c_str());
  }
  t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip

  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, settings_.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // ignore the *_proxy environment variables
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, settings_.tls_verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, settings_.tls_verify ? 2L : 0L);
  if (!settings_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, settings_.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &discard_body);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  if (curl_multi_add_handle(static_cast<CURLM*>(multi_), e) != CURLM_OK) return;
  active_[check] = std::move(t);
}

void sender::finish_transfer(transfer* t, int curl_code) {
  long http = 0;
  curl_off_t retry_after = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &http);
  curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);

  outcome how = outcome::retry;
  std::string reason;
  if (curl_code != CURLE_OK) {
    reason =
        redact_(t->errbuf[0] ? t->errbuf : curl_easy_strerror(static_cast<CURLcode>(curl_code)));
  } else {
    reason = "HTTP " + std::to_string(http);
    if (http >= 200 && http < 300)
      how = outcome::delivered;
    else if (!(http >= 500 || http == 408 || http == 429))
      how = outcome::rejected;
  }

  std::vector<std::shared_ptr<batch>> done;
  {
    std::lock_guard lock(mu_);
    const std::string check = t->check;
    std::deque<delivery>& queue = queues_[check];
    active_.erase(check);  // destroys t
    delivery& d = queue.front();
    const std::string id = d.ev.event_id;
    const int d_attempts = d.attempts;
    const std::string where = "POST " + settings_.safe_url + ": ";
    const clock::time_point now = clock::now();
    if (how == outcome::delivered) {
      settle_locked(d, how, {}, done);
      queue.pop_front();
      host_.counter_add("delivered", 1);
      log(sdk::level::debug, where + reason + ", event " + id + " (check " + check +
                                 ") delivered after " + std::to_string(d_attempts + 1) +
                                 " attempt(s)");
    } else if (how == outcome::rejected) {
      const std::string msg = where + reason + ", event " + id + " (check " + check +
                              ") not retried: an answer other than 2xx, 5xx, 408 or 429 is final";
      if (!d.b->message.empty()) log(sdk::level::error, msg);  // else the host logs it
      settle_locked(d, how, msg, done);
      queue.pop_front();
      host_.counter_add("rejected", 1);
    } else {
      ++d.attempts;
      auto wait =
          sdk::backoff(d.attempts - 1, settings_.retry_backoff, settings_.retry_backoff_max);
      if (retry_after > 0)
        wait = std::max(wait, std::min(std::chrono::milliseconds(retry_after * 1000),
                                       settings_.retry_after_max));
      if (now + wait - d.first_try > settings_.retry_for) {
        const std::string msg =
            where + "gave up on event " + id + " (check " + check + ") after " +
            std::to_string(d.attempts) + " attempt(s) in " +
            seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(now - d.first_try)) +
            ": " + reason + "; it and " + std::to_string(queue.size() - 1) +
            " later event(s) of the check go back to the agent";
        if (!d.b->message.empty()) log(sdk::level::warn, msg);  // else the host logs it
        for (delivery& later : queue) settle_locked(later, outcome::retry, msg, done);
        queue.clear();
        host_.counter_add("gave_up", 1);
      } else {
        d.next_try = now + wait;
        host_.counter_add("retries", 1);
        log(d.attempts == 1 ? sdk::level::warn : sdk::level::debug,
            where + reason + "; retrying event " + id + " (check " + check + ") in " +
                seconds_text(wait) + " (attempt " + std::to_string(d.attempts + 1) + ")");
      }
    }
    if (queue.empty()) queues_.erase(check);
    if (queues_.empty()) idle_cv_.notify_all();
  }
  complete(done);
}

void sender::settle_locked(delivery& d, outcome how, std::string message,
                           std::vector<std::shared_ptr<batch>>& out) {
  if (how != outcome::retry && usable_id(d.ev.event_id) && !recent_.count(d.ev.event_id)) {
    recent_.emplace(d.ev.event_id, how);
    recent_order_.push_back(d.ev.event_id);
    if (recent_order_.size() > recent_cap) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
  }
  batch& b = *d.b;
  if (how == outcome::retry) b.any_retry = true;
  if (how == outcome::rejected) b.any_rejected = true;
  if (how != outcome::delivered && b.message.empty()) b.message = std::move(message);
  if (--b.remaining == 0) out.push_back(d.b);
}

void sender::complete(std::vector<std::shared_ptr<batch>>& done) {
  for (const auto& b : done) {
    const sdk::status s = b->any_retry      ? sdk::status::retry
                          : b->any_rejected ? sdk::status::error
                                            : sdk::status::ok;
    b->done(s, b->message);
  }
  done.clear();
}

void sender::log(sdk::level lv, const std::string& line) const { host_.log(lv, redact_(line)); }

}  // namespace isitup::webhook
