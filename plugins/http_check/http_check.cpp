// http_check: the HTTP(S) check. Engines (an event-loop thread each: libcurl multi + c-ares
// on epoll, and a lean HTTP/1.1 client for http:// and https://), `loops` of them per plugin
// instance, run every check of the instance asynchronously; the runs of a check go to one loop
// (its host name's, or its URL's for an address) while the number of loops stays the same.
#include <curl/curl.h>

#include <isitup/plugin.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "http_config.hpp"
#include "http_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::http {

class prepared : public sdk::prepared_check {
 public:
  prepared(check_target t, size_t r) : target(std::move(t)), route(r) {}
  check_target target;
  size_t route;  // picks the check's loop: a hash of its host name, or of its URL for an address
};

class http_check : public sdk::async_checks {
 public:
  explicit http_check(const sdk::host& h) : host_(h), tls_(h, "http_check", curl_ca()) {}
  ~http_check() override {
    for (auto& e : engines_)  // none frees a slot (and wakes another) once all are stopped
      if (e) e->stop();
  }

  // Main thread. Checks with equal options share one parsed copy of them.
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec& spec) override {
    url_parts parts = parse_url(spec.target);
    // https:// checks get a copy of the options of their own: it holds the TLS material.
    const bool https = parts.scheme == "https";
    check_target t{std::move(parts), nullptr};
    const std::string key = options_key(spec.options) + (https ? "\nhttps" : "");
    if (auto it = shared_.find(key); it != shared_.end()) t.config = it->second.lock();
    if (!t.config) {
      std::shared_ptr<check_config> c = make_config(spec.options);
      // CA stores and client identities are read here, once per file, and shared; never by
      // a running check. Any redirect may lead to https://.
      if (https || c->follow_redirects) {
        if (c->tls_verify) c->ca = tls_.ca(c->ca_file);
        if (!c->client_cert.empty()) c->identity = tls_.identity(c->client_cert, c->client_key);
      }
      t.config = std::move(c);
      if (shared_.size() >= sweep_at_) {
        std::erase_if(shared_, [](const auto& kv) { return kv.second.expired(); });
        sweep_at_ = std::max<size_t>(64, shared_.size() * 2);
      }
      shared_[key] = t.config;
    }
    if (const std::optional<int64_t>& given = t.config->max_in_flight) {
      const int64_t n = *given;
      max_in_flight_ = max_in_flight_ == 0 ? n : std::min(max_in_flight_, n);
      pool_->max_in_flight.store(max_in_flight_);
    }
    if (const std::optional<int64_t>& given = t.config->loops) {
      const bool adapt = *given == 0;
      const int n = adapt ? default_loops() : static_cast<int>(*given);
      adaptive_ = loops_set_ == 0 ? adapt : adaptive_ && adapt;
      loops_set_ = loops_set_ == 0 ? n : std::min(loops_set_, n);
    }
    use_loops(loops_set_ == 0 ? 1 : loops_set_, adaptive_);
    const url_parts& p = t.target;
    const size_t route = std::hash<std::string>{}(p.host_is_ip ? p.url : p.host);
    return std::make_unique<prepared>(std::move(t), route);
  }

  // Any thread: the loops were made before their count was published; with `loops: 0` the
  // first pool_->loops of them run new checks (engine::adapt_loops changes that count).
  void start(sdk::prepared_check& check, const sdk::run_info& run, sdk::completion done) override {
    const auto& p = static_cast<prepared&>(check);
    const int made = loops_.load(std::memory_order_acquire);
    const int in_use = std::clamp(pool_->loops.load(std::memory_order_acquire), 1, made);
    engines_[p.route % static_cast<size_t>(in_use)]->submit(p.target, run.timeout, std::move(done));
  }

 private:
  // `loops: 0`: up to one loop per hardware thread, at most 4, as many in use as the machine
  // has idle cores for (engine::next_loop_count). A TLS handshake costs ~0.5 ms of CPU, so one
  // loop cannot use a second core for the https checks of the agent.
  static int default_loops() {
    return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  }
  // Main thread: makes the loops missing for `n` (never fewer: a smaller n leaves the others
  // idle), and runs the checks on n of them from then on; `adaptive`: on 1 to n of them, as
  // many as member 0 decides (starting from the count in use).
  void use_loops(int n, bool adaptive) {
    const int most = adaptive ? n : 0;
    if (n == loops_.load(std::memory_order_relaxed) && most == pool_->most_loops.load()) return;
    for (int i = 0; i < n; ++i)
      if (!engines_[i]) engines_[i] = std::make_unique<engine>(host_, pool_);
    pool_->loops.store(adaptive ? std::clamp(pool_->loops.load(), 1, n) : n);
    pool_->most_loops.store(most);
    loops_.store(n, std::memory_order_release);
  }

  sdk::host host_;
  std::shared_ptr<engine::pool> pool_ = std::make_shared<engine::pool>();
  std::array<std::unique_ptr<engine>, engine::pool::max_members> engines_;
  std::atomic<int> loops_{0};  // engines_[0, loops_) are made (pool_->loops of them in use)
  int loops_set_ = 0;          // the smallest `loops` set on any check; 0: none set
  bool adaptive_ = false;      // every check that sets `loops` sets 0
  // The default CA store is the one libcurl was built with (SSL_CERT_FILE / SSL_CERT_DIR win).
  static net::ca_locations curl_ca();

  net::tls_cache tls_;
  int64_t max_in_flight_ = 0;  // the smallest value set on any check; 0: none set
  std::unordered_map<std::string, std::weak_ptr<const check_config>> shared_;
  size_t sweep_at_ = 64;
};

net::ca_locations http_check::curl_ca() {
  net::ca_locations out;
  if (CURL* e = curl_easy_init()) {
    char* built_in = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CAINFO, &built_in) == CURLE_OK && built_in)
      out.file = built_in;
    built_in = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CAPATH, &built_in) == CURLE_OK && built_in)
      out.dir = built_in;
    curl_easy_cleanup(e);
  }
  return out;
}

}  // namespace isitup::http

ISITUP_PLUGIN(isitup::sdk::plugin_def("http_check", "1.0.0",
                                      "HTTP(S) availability: status, body regex, timings, TLS "
                                      "expiry (libcurl + c-ares)")
                  .check<isitup::http::http_check>(isitup::http::declared_options()))
