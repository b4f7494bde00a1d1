// icmp_check: pings a host (ICMP echo) a few times per run and reports loss and round-trip
// times. One engine (an event-loop thread with one ICMP socket per address family) per plugin
// instance runs every check of the instance asynchronously.
#include <isitup/plugin.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include "icmp_config.hpp"
#include "icmp_engine.hpp"

namespace isitup::icmp {

class prepared : public sdk::prepared_check {
 public:
  explicit prepared(std::shared_ptr<const ping_config> c) : config(std::move(c)) {}
  std::shared_ptr<const ping_config> config;
};

class icmp_check : public sdk::async_checks {
 public:
  explicit icmp_check(const sdk::host& h) : engine_(h) {}

  // Main thread. A check that could never send is refused here, with the reason (the sysctl
  // and the capability), rather than failing every run.
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec& spec) override {
    auto c = make_config(spec.target, spec.options, spec.timeout);
    const bool first_v6 = c->literal ? c->literal_v6 : c->prefer_v6;
    const bool either = !c->literal && c->fallback;
    if (!engine_.unavailable(first_v6).empty() &&
        (!either || !engine_.unavailable(!first_v6).empty()))
      throw std::runtime_error(engine_.unavailable(first_v6));
    return std::make_unique<prepared>(std::move(c));
  }

  void start(sdk::prepared_check& check, const sdk::run_info& run, sdk::completion done) override {
    engine_.submit(static_cast<prepared&>(check).config, run.timeout, std::move(done));
  }

 private:
  engine engine_;
};

}  // namespace isitup::icmp

ISITUP_PLUGIN(isitup::sdk::plugin_def("icmp_check", "1.0.0",
                                      "ICMP echo (ping): packet loss and round-trip times")
                  .check<isitup::icmp::icmp_check>(isitup::icmp::declared_options()))
