// tcp_check: does host:port accept connections, and answer as expected? Connects (after a
// c-ares lookup), optionally asks for TLS with STARTTLS (smtp, imap, pop3) or does TLS at once,
// optionally sends bytes and reads until an RE2 pattern matches. One event loop per plugin
// instance (net::conn_engine in plugins/common) runs every check of the instance.
#include <isitup/config_map.hpp>
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

// A check's options: its own, then the connection options it shares with tls_check.
struct settings {
  std::string send, expect;
  int64_t read_limit = 4096;
  net::conn_settings conn;
};

const sdk::config_map<settings>& settings_map() {
  static const auto map =
      sdk::config_map<settings>()
          .string("send", &settings::send, nullptr,
                  "bytes sent once connected (and secured); escapes \\r \\n \\t \\0 \\\\ \\xHH")
          .string("expect", &settings::expect, nullptr,
                  "RE2 pattern the first bytes read must match (read until it matches)")
          .integer("read_limit", &settings::read_limit, "4096",
                   "bytes read at most for expect (up to 1048576)", 1, 1 << 20)
          .include(net::connection_map(true), &settings::conn);
  return map;
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
    const settings s = settings_map().read(spec.options);
    auto o = std::make_shared<net::conn_options>();
    net::apply_connection_settings(s.conn, true, tls_, *o);
    o->send = net::unescape(s.send);
    if (!s.expect.empty()) {
      re2::RE2::Options ro;
      ro.set_log_errors(false);
      ro.set_max_mem(8 << 20);
      o->expect = std::make_unique<re2::RE2>(s.expect, ro);
      if (!o->expect->ok())
        throw std::invalid_argument("expect: " + sdk::shown_value(o->expect->error()));
    }
    o->read_limit = static_cast<size_t>(s.read_limit);
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
                  .check<isitup::tcp::tcp_check>(isitup::tcp::settings_map().options()))
