// webhook_sink: a notifier sink. It takes the agent's state transitions (incident opened,
// resolved, reminder) through write_events and POSTs each one to a URL as JSON, a Slack or a
// Discord message, signed with HMAC-SHA256 when a secret is set. Result batches are never
// sent (the host does not hand a notifier any; write() completes at once should one come).
// Uses only the public SDK; the network work is in webhook_sender.
#include <isitup/plugin.h>
#include <isitup/plugin.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "webhook_config.hpp"
#include "webhook_format.hpp"
#include "webhook_sender.hpp"

namespace {

namespace sdk = isitup::sdk;
namespace webhook = isitup::webhook;

std::string text_of(const char* s) { return s ? std::string(s) : std::string(); }

// The event's fields as owned strings. Every field up to `json` is in the first version of
// the struct; one too small to hold them gives an empty event, which the sender refuses.
webhook::event copy_event(const isitup_event_v1& e) {
  webhook::event out;
  if (e.struct_size < offsetof(isitup_event_v1, json) + sizeof e.json) return out;
  out.event_id = text_of(e.event_id);
  out.type = text_of(e.type);
  out.incident_id = text_of(e.incident_id);
  out.check = text_of(e.check);
  out.plugin = text_of(e.plugin);
  out.target = text_of(e.target);
  out.at_ms = e.at_ms;
  out.opened_at_ms = e.opened_at_ms;
  out.resolved_at_ms = e.resolved_at_ms;
  out.error_kind = text_of(e.error_kind);
  out.error_message = text_of(e.error_message);
  if (e.locations_json) webhook::parse_locations(e.locations_json, out.locations);
  out.json = text_of(e.json);
  return out;
}

class webhook_sink final : public sdk::sink {
 public:
  webhook_sink(const sdk::host& host, const sdk::options_view& options) : host_(host) {
    webhook::settings s = webhook::parse_settings(options);
    if (!s.tls_verify)
      host.log(sdk::level::warn,
               "tls_verify is off: the certificate of " + s.safe_url + " is not checked");
    sender_ = std::make_unique<webhook::sender>(std::move(s), host);
  }

  // A notifier is handed no results; should a host do so anyway, they are not for us.
  void write(const sdk::batch_view&, sdk::batch_done done) override { done(sdk::status::ok); }

  void write_events(sdk::event_span events, sdk::batch_done done) {
    std::vector<webhook::event> copies;
    copies.reserve(events.size());
    for (const isitup_event_v1* e : events)
      if (e) copies.push_back(copy_event(*e));
    sender_->submit(std::move(copies), std::move(done));
  }

  sdk::status flush(std::chrono::milliseconds timeout) override {
    return sender_->wait_idle(timeout) ? sdk::status::ok : sdk::status::retry;
  }

 private:
  sdk::host host_;
  std::unique_ptr<webhook::sender> sender_;
};

}  // namespace

ISITUP_PLUGIN(
    isitup::sdk::plugin_def("webhook_sink", "1.0.0",
                            "POSTs incident transitions to a webhook: JSON, Slack or Discord, "
                            "signed, retried")
        .sink<webhook_sink>(webhook::settings_map().options(), 64, ISITUP_SINK_NOTIFIER))
