// Test helpers for webhook_sink: events as the host would hand them, and the plugin's sink
// driven through its C table against the SDK's fake host (write_events, as the agent's event
// thread calls it).
#pragma once

#include <isitup/plugin.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "webhook_format.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace isitup::test {

constexpr int64_t dec_2_2026_18h = 1'796'234'400'000;  // 2026-12-02T18:00:00.000Z

// 32 hex digits, different for every (prefix, n).
inline std::string hex_id(unsigned prefix, unsigned n) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%016x", prefix, n, prefix * 2654435761u ^ n);
  return buf;
}

// An event of `check`; n numbers it (its event id and times follow from n).
inline webhook::event make_event(const std::string& check, const std::string& type, unsigned n) {
  webhook::event e;
  e.event_id = hex_id(0xe7e7, n);
  e.type = type;
  e.incident_id = hex_id(0x1c1d, static_cast<unsigned>(std::hash<std::string>{}(check)));
  e.check = check;
  e.plugin = "http_check";
  e.target = "https://" + check + ".example/";
  e.opened_at_ms = dec_2_2026_18h;
  e.at_ms = dec_2_2026_18h + 3'000 + int64_t{1'000} * n;
  if (type == "incident_resolved") e.resolved_at_ms = e.at_ms;
  e.error_kind = "connect";
  e.error_message = "connection refused";
  e.locations = {"eu-west", "us-east"};
  e.json = webhook::encode_json(e);
  return e;
}

// The ABI view of an event, pointing into it (and into its own locations text).
struct abi_event {
  explicit abi_event(const webhook::event& e) {
    locations = "[";
    for (const std::string& l : e.locations)
      locations += (locations.size() > 1 ? ",\"" : "\"") + l + "\"";
    locations += "]";
    v.struct_size = sizeof v;
    v.event_id = e.event_id.c_str();
    v.type = e.type.c_str();
    v.incident_id = e.incident_id.c_str();
    v.check = e.check.c_str();
    v.plugin = e.plugin.c_str();
    v.target = e.target.c_str();
    v.at_ms = e.at_ms;
    v.opened_at_ms = e.opened_at_ms;
    v.resolved_at_ms = e.resolved_at_ms;
    v.error_kind = e.error_kind.empty() ? nullptr : e.error_kind.c_str();
    v.error_message = e.error_message.empty() ? nullptr : e.error_message.c_str();
    v.locations_json = locations.c_str();
    v.json = e.json.c_str();
  }
  std::string locations;
  isitup_event_v1 v{};
};

// The completion of one write_events call.
class pending {
 public:
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_ > 0; });
  }
  uint32_t status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::string message() const {
    std::lock_guard lock(mu_);
    return message_;
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  static void done(void* ctx, uint32_t status, const char* message) {
    auto* self = static_cast<std::shared_ptr<pending>*>(ctx);
    {
      std::lock_guard lock((*self)->mu_);
      ++(*self)->calls_;
      (*self)->status_ = status;
      (*self)->message_ = message ? message : "";
      (*self)->cv_.notify_all();
    }
    delete self;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  uint32_t status_ = ISITUP_ERROR;
  std::string message_;
};

// webhook_sink created against a fake host with the given options.
class notifier {
 public:
  notifier(sdk::testing::fake_host& host, sdk::testing::option_map given)
      : ops_(isitup_plugin_entry()->sink) {
    options_ = std::make_unique<sdk::testing::fake_options>(ops_->options, ops_->option_count,
                                                            std::move(given));
    if (!options_->error().empty()) {
      error_ = options_->error();
      return;
    }
    char err[512] = "";
    if (ops_->create(host.table(), host.ctx(), options_->raw(), &instance_, err, sizeof err) !=
        ISITUP_OK) {
      error_ = err;
      instance_ = nullptr;
    }
  }
  ~notifier() { destroy(); }
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  bool ok() const { return instance_ != nullptr; }
  const std::string& error() const { return error_; }
  void* instance() const { return instance_; }
  const isitup_sink_ops_v1* ops() const { return ops_; }

  // Hands the events over as one write_events call; the events may die when this returns.
  std::shared_ptr<pending> send(const std::vector<webhook::event>& events) {
    std::vector<std::unique_ptr<abi_event>> views;
    std::vector<const isitup_event_v1*> ptrs;
    for (const webhook::event& e : events) {
      views.push_back(std::make_unique<abi_event>(e));
      ptrs.push_back(&views.back()->v);
    }
    auto p = std::make_shared<pending>();
    ops_->write_events(instance_, ptrs.data(), ptrs.size(), &pending::done,
                       new std::shared_ptr<pending>(p));
    return p;
  }
  void destroy() {
    if (instance_) ops_->destroy(instance_);
    instance_ = nullptr;
  }

 private:
  const isitup_sink_ops_v1* ops_;
  std::unique_ptr<sdk::testing::fake_options> options_;
  void* instance_ = nullptr;
  std::string error_;
};

}  // namespace isitup::test
