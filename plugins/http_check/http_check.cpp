// http_check: the HTTP(S) check. One engine (event loop thread: libcurl multi + c-ares on
// epoll, and a lean HTTP/1.1 client for http:// and https://) per plugin instance runs every
// check of the instance asynchronously.
#include <curl/curl.h>

#include <isitup/plugin.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>

#include "http_config.hpp"
#include "http_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::http {

class prepared : public sdk::prepared_check {
 public:
  explicit prepared(check_target t) : target(std::move(t)) {}
  check_target target;
};

class http_check : public sdk::async_checks {
 public:
  explicit http_check(const sdk::host& h) : engine_(h), tls_(h, "http_check", curl_ca()) {}

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
    if (spec.options.is_set("max_in_flight")) {
      const int64_t n = t.config->max_in_flight;
      max_in_flight_ = max_in_flight_ == 0 ? n : std::min(max_in_flight_, n);
      engine_.set_max_in_flight(max_in_flight_);
    }
    return std::make_unique<prepared>(std::move(t));
  }

  void start(sdk::prepared_check& check, const sdk::run_info& run, sdk::completion done) override {
    engine_.submit(static_cast<prepared&>(check).target, run.timeout, std::move(done));
  }

 private:
  engine engine_;
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
