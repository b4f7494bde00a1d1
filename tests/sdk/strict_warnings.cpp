// Built (never run) with -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Werror as C++17,
// as a careful plugin author builds: every SDK header and every template a plugin instantiates
// (blocking and async checks, a sink with events, a catalog), and the fake host for plugin tests,
// must compile without a warning.
#include <isitup/config_map.hpp>
#include <isitup/duration.hpp>
#include <isitup/option_text.hpp>
#include <isitup/plugin.hpp>
#include <isitup/record.hpp>
#include <isitup/text.hpp>
#include <isitup/util/backoff.hpp>
#include <isitup/util/civil_time.hpp>
#include <isitup/util/clock.hpp>
#include <isitup/util/error_text.hpp>
#include <isitup/util/log_limit.hpp>
#include <isitup/util/utf8.hpp>

#include "fake_host.hpp"
#include "record_json.hpp"
#include "under_test.hpp"

#include <memory>
#include <optional>
#include <string>

namespace sdk = isitup::sdk;

namespace {

class strict_blocking : public sdk::blocking_check {
 public:
  strict_blocking(const sdk::host&, const sdk::check_spec& spec) : target_(spec.target) {}
  sdk::result run(const sdk::run_info&) override {
    return target_.empty() ? sdk::result::down("internal", "no target") : sdk::result::ok();
  }

 private:
  std::string target_;
};

struct strict_prepared : sdk::prepared_check {};

class strict_async : public sdk::async_checks {
 public:
  explicit strict_async(const sdk::host&) {}
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec&) override {
    return std::make_unique<strict_prepared>();
  }
  void start(sdk::prepared_check&, const sdk::run_info&, sdk::completion done) override {
    done(sdk::result::ok());
  }
};

class strict_sink : public sdk::sink {
 public:
  strict_sink(const sdk::host& h, const sdk::options_view&) : host_(h) {}
  void write(const sdk::batch_view& batch, sdk::batch_done done) override {
    host_.counter_add("records", static_cast<int64_t>(batch.size()));
    done(sdk::status::ok);
  }
  void write_events(sdk::event_span events, sdk::batch_done done) {
    host_.counter_add("events", static_cast<int64_t>(events.size()));
    done(sdk::status::ok);
  }
  sdk::status flush(std::chrono::milliseconds) override { return sdk::status::ok; }

 private:
  sdk::host host_;
};

class strict_catalog : public sdk::catalog {
 public:
  strict_catalog(const sdk::host&, const sdk::options_view&) {}
  void read_all(isitup_catalog_entry_fn, void*) override {}
  void publish(const isitup_catalog_entry_v1* const*, size_t) override {}
  void start(const isitup_catalog_events_v1&) override {}
  void stop() override {}
};

struct strict_settings {
  std::string name;
  int64_t count = 0;
  double share = 0;
  bool on = false;
  std::chrono::milliseconds wait{0};
  std::optional<std::string> note;
  bool count_given = false;
};

// Every kind of config_map entry, read once (instantiates each template).
strict_settings strict_read(const sdk::options_view& o) {
  static const auto map = sdk::config_map<strict_settings>()
                              .string("name", &strict_settings::name, "x", "a name")
                              .one_of({"x", "y"})
                              .non_empty()
                              .integer("count", &strict_settings::count, "1", "a count", 0, 10)
                              .required()
                              .given(&strict_settings::count_given)
                              .number("share", &strict_settings::share, "0.5", "a share", 0, 1)
                              .boolean("on", &strict_settings::on, "true", "a switch")
                              .duration("wait", &strict_settings::wait, "1s", "a wait",
                                        std::chrono::milliseconds(0), std::chrono::hours(1))
                              .string("note", &strict_settings::note, nullptr, "a note");
  return map.read(o);
}

}  // namespace

// Instantiates what ISITUP_PLUGIN would, without exporting an entry symbol.
const isitup_plugin_v1* strict_warnings_descriptors() {
  static sdk::plugin_def blocking =
      sdk::plugin_def("strict_blocking", "1", "test").check<strict_blocking>({});
  static sdk::plugin_def async = sdk::plugin_def("strict_async", "1", "test")
                                     .check<strict_async>({})
                                     .sink<strict_sink>({}, 1, ISITUP_SINK_NOTIFIER)
                                     .catalog<strict_catalog>({});
  return blocking.descriptor() != nullptr ? async.descriptor() : nullptr;
}

// The config_map instantiations above, reachable so that they are compiled.
int64_t strict_config_count(const sdk::options_view& o) { return strict_read(o).count; }
