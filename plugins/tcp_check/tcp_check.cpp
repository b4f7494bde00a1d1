// tcp_check: does host:port accept connections, and answer as expected? Connects (after a
// c-ares lookup), optionally asks for TLS with STARTTLS (smtp, imap, pop3) or does TLS at once,
// optionally sends bytes and reads until an RE2 pattern matches. One event loop per plugin
// instance (net::conn_engine in plugins/common) runs every check of the instance.
#include <isitup/plugin.hpp>
#include <isitup/text.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include "net/conn_config.hpp"
#include "net/conn_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::tcp {

namespace {

constexpr int64_t max_read_limit = 1 << 20;

std::vector<sdk::option> declared_options() {
  std::vector<sdk::option> out = {
      {"send", ISITUP_OPT_STRING, nullptr,
       "bytes sent once connected (and secured); escapes \\r \\n \\t \\0 \\\\ \\xHH"},
      {"expect", ISITUP_OPT_STRING, nullptr,
       "RE2 pattern the first bytes read must match (read until it matches)"},
      {"read_limit", ISITUP_OPT_INT, "4096", "bytes read at most for expect (up to 1048576)"},
  };
  for (const sdk::option& o : net::connection_options("false")) out.push_back(o);
  return out;
}

class prepared : public sdk::prepared_check {
 public:
  net::host_port target;
  std::shared_ptr<const net::conn_options> options;
};

}  // namespace

class tcp_check : public sdk::async_checks {
 public:
  explicit tcp_check(const sdk::host& h) : tls_(h, "tcp_check"), engine_(h, "tcp_check") {}

  // Main thread.
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec& spec) override {
    auto p = std::make_unique<prepared>();
    p->target = net::parse_host_port(spec.target, 0);
    auto o = std::make_shared<net::conn_options>();
    net::read_connection_options(spec.options, true, tls_, *o);
    o->send = net::unescape(spec.options.string("send"));
    if (spec.options.has_value("expect")) {
      re2::RE2::Options ro;
      ro.set_log_errors(false);
      ro.set_max_mem(8 << 20);
      o->expect = std::make_unique<re2::RE2>(spec.options.string("expect"), ro);
      if (!o->expect->ok())
        throw std::invalid_argument("expect: " + sdk::shown_value(o->expect->error()));
    }
    const int64_t limit = spec.options.integer("read_limit");
    if (limit < 1 || limit > max_read_limit)
      throw std::invalid_argument("read_limit: must be from 1 to 1048576");
    o->read_limit = static_cast<size_t>(limit);
    p->options = std::move(o);
    return p;
  }

  void start(sdk::prepared_check& check, const sdk::run_info& run, sdk::completion done) override {
    auto& p = static_cast<prepared&>(check);
    engine_.submit(p.target, p.options, run.timeout, std::move(done));
  }

 private:
  net::tls_cache tls_;
  net::conn_engine engine_;  // stopped first: no run uses the cache after that
};

}  // namespace isitup::tcp

ISITUP_PLUGIN(isitup::sdk::plugin_def("tcp_check", "1.0.0",
                                      "TCP port availability: connect, optional TLS or "
                                      "STARTTLS, send, expect (RE2); timings")
                  .check<isitup::tcp::tcp_check>(isitup::tcp::declared_options()))
