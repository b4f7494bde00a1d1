// dns_check: asks a DNS server for one record set and checks the reply. One engine (an event
// loop thread driving c-ares channels on epoll) per plugin instance runs every check of the
// instance asynchronously.
#include <isitup/plugin.hpp>

#include <memory>
#include <string>

#include "dns_config.hpp"
#include "dns_engine.hpp"

namespace isitup::dns {

class prepared : public sdk::prepared_check {
 public:
  explicit prepared(std::shared_ptr<const dns_query> q) : query(std::move(q)) {}
  std::shared_ptr<const dns_query> query;
};

class dns_check : public sdk::async_checks {
 public:
  explicit dns_check(const sdk::host& h) : engine_(h) {}

  // Main thread: reads the options, compiles the patterns and builds the query message once.
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec& spec) override {
    return std::make_unique<prepared>(make_query(spec.target, spec.options));
  }

  void start(sdk::prepared_check& check, const sdk::run_info& run, sdk::completion done) override {
    engine_.submit(static_cast<prepared&>(check).query, run.timeout, std::move(done));
  }

 private:
  engine engine_;
};

}  // namespace isitup::dns

ISITUP_PLUGIN(isitup::sdk::plugin_def("dns_check", "1.0.0",
                                      "DNS: asks a server for a record set, checks the response "
                                      "code and answers (c-ares)")
                  .check<isitup::dns::dns_check>(isitup::dns::declared_options()))
