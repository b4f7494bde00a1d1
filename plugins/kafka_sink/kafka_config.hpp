// Shared by the kafka_sink producer and source: building a librdkafka configuration from the
// plugin's options, with user `properties` passed through only from an allowlist.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <isitup/plugin.hpp>

namespace isitup::kafka {

using property_list = std::vector<std::pair<std::string, std::string>>;

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

// Why the user property `name` may not be passed through (it loads code or runs a command,
// the plugin sets it itself, or it is not on the allowlist), or empty when it may.
std::string refusal(std::string_view name);

// Why `value` may not be given to the allowed property `name` (a Kerberos name with
// characters other than letters, digits and . _ - / @; a token URL that is not http(s)), or
// empty when it may.
std::string value_refusal(std::string_view name, std::string_view value);

// Adds property `name` = `value` to `list` unless the user set it: a plugin's default.
void set_default(property_list& list, std::string_view name, std::string_view value);

// A configuration with every user property applied (a refused one, or a value librdkafka
// rejects, throws std::invalid_argument naming the property), then the plugin's `fixed`
// settings, then the Kerberos refresh turned off: librdkafka never runs a command.
conf_ptr make_conf(const property_list& fixed, const property_list& user);

// Builds a client of `type` from make_conf(fixed, user) without its bootstrap.servers and
// destroys it again: refuses what librdkafka refuses only when a client is created (settings
// that conflict) while connecting nowhere, as --check-config requires. Throws
// std::invalid_argument naming `what` ("the Kafka producer").
void check_client_config(rd_kafka_type_t type, property_list fixed, const property_list& user,
                         const char* what);

// What a librdkafka handle's opaque points to: the host (for logs) and the plugin object that
// owns the handle (for its callbacks). Must outlive the handle.
struct callback_context {
  sdk::host host;
  void* owner;

  // Why OpenSSL last refused a broker's certificate ("hostname mismatch", "unable to get
  // local issuer certificate", ...), or "": written by librdkafka's broker threads.
  std::string verify_error() const {
    std::lock_guard lock(verify_mu);
    return last_verify_error;
  }
  mutable std::mutex verify_mu;
  std::string last_verify_error;
};

// Sets `ctx` as the handle's opaque and routes librdkafka's own log lines to the host log at
// debug level (the plugin itself reports connection state changes, once each). Also records
// in `ctx` why a broker certificate was refused (OpenSSL's verdict is kept: a refused
// certificate stays refused).
void route_logs(rd_kafka_conf_t* conf, callback_context* ctx);

// When a librdkafka error `reason` is a TLS failure (an "SSL routines" error), the reason
// preceded by what most likely causes it and which property to look at; otherwise "".
// `verify_error` (callback_context::verify_error) makes a certificate failure precise.
std::string tls_failure(std::string_view reason, std::string_view verify_error = {});

// Whether a repeated warning is logged now: a text different from the last one (digits aside),
// or the same text a minute later (librdkafka reports a failed connection at every reconnect). Not
// thread-safe: used by the thread that serves a handle's error callback.
class repeat_limiter {
 public:
  bool due(const std::string& text);

 private:
  std::string last_;
  std::chrono::steady_clock::time_point at_{};
};

// librdkafka syslog level -> host level.
sdk::level to_level(int syslog_level);

}  // namespace isitup::kafka
