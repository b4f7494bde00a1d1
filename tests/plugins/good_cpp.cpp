// A well-formed plugin written with the SDK's C++ wrapper: a blocking check and a sink, with
// options of every type. The check reports what its options say; the sink counts the records
// it is given through the host's counter_add and reports every batch durable at once; it also
// takes state transitions (write_events) and counts them.
#include <isitup/plugin.hpp>

#include <stdexcept>
#include <string>

namespace sdk = isitup::sdk;

namespace {

class echo_check : public sdk::blocking_check {
 public:
  echo_check(const sdk::host&, const sdk::check_spec& spec)
      : up_(spec.options.boolean("up")),
        code_(static_cast<int32_t>(spec.options.integer("code"))),
        message_(spec.options.string("message")) {
    if (spec.target.empty()) throw std::invalid_argument("a target is required");
  }

  sdk::result run(const sdk::run_info&) override {
    sdk::result r = up_ ? sdk::result::ok() : sdk::result::down("http_status", message_);
    r.http_code = code_;
    return r;
  }

 private:
  bool up_;
  int32_t code_;
  std::string message_;
};

class counting_sink : public sdk::sink {
 public:
  counting_sink(const sdk::host& h, const sdk::options_view& o) : host_(h) {
    if (o.string("prefix").empty()) throw std::invalid_argument("prefix must not be empty");
  }

  void write(const sdk::batch_view& batch, sdk::batch_done done) override {
    host_.counter_add("records", static_cast<int64_t>(batch.size()));
    done(sdk::status::ok);
  }

  // Takes state transitions too (wired by plugin_def::sink because it exists).
  void write_events(sdk::event_span events, sdk::batch_done done) {
    host_.counter_add("events", static_cast<int64_t>(events.size()));
    done(sdk::status::ok);
  }

  sdk::status flush(std::chrono::milliseconds) override { return sdk::status::ok; }

 private:
  sdk::host host_;
};

}  // namespace

ISITUP_PLUGIN(sdk::plugin_def("good_cpp", "1.2.3", "test plugin: a blocking check and a sink")
                  .check<echo_check>({
                      {"up", ISITUP_OPT_BOOL, "true", "report up (true) or down"},
                      {"code", ISITUP_OPT_INT, "200", "the HTTP status code to report"},
                      {"message", ISITUP_OPT_STRING, nullptr, "the error message when down"},
                      {"ratio", ISITUP_OPT_FLOAT, "0.5", "a number"},
                      {"delay", ISITUP_OPT_DURATION, "10ms", "a duration"},
                      {"expect", ISITUP_OPT_LIST, "[200, 204]", "a list"},
                      {"headers", ISITUP_OPT_MAP, "{}", "a map"},
                  })
                  .sink<counting_sink>({
                      {"prefix", ISITUP_OPT_STRING, "ignored", "a required option", true},
                  }))
