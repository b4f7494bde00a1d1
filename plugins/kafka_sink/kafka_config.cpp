#include "kafka_config.hpp"

#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <stdexcept>

namespace isitup::kafka {
namespace {

// Properties that load code or run a command: never accepted from a config file.
constexpr std::string_view dangerous[] = {"plugin.library.paths",    "ssl.engine.location",
                                          "ssl.engine.id",           "ssl.providers",
                                          "sasl.kerberos.kinit.cmd", "interceptors"};

// Passed through as given (TLS, SASL, networking, batching and group tuning). Each one was
// checked against librdkafka 2.0.2: none of them makes it load code or run a command; the
// *.location ones name files it opens and reads. The table in the README lists them all.
constexpr std::string_view allowed[] = {
    // connection and client identity
    "security.protocol", "client.id", "client.rack", "socket.timeout.ms",
    "socket.connection.setup.timeout.ms", "socket.keepalive.enable", "socket.nagle.disable",
    "socket.send.buffer.bytes", "socket.receive.buffer.bytes", "reconnect.backoff.ms",
    "reconnect.backoff.max.ms", "retry.backoff.ms", "connections.max.idle.ms",
    "broker.address.family", "broker.address.ttl", "api.version.request",
    "api.version.request.timeout.ms", "broker.version.fallback", "message.max.bytes",
    "receive.message.max.bytes", "metadata.max.age.ms", "topic.metadata.refresh.interval.ms",
    "topic.metadata.refresh.fast.interval.ms", "topic.metadata.propagation.max.ms",
    "allow.auto.create.topics", "debug", "log_level", "client.software.name",
    // TLS
    "enable.ssl.certificate.verification", "ssl.endpoint.identification.algorithm",
    "ssl.cipher.suites", "ssl.curves.list", "ssl.sigalgs.list", "ssl.key.location",
    "ssl.key.password", "ssl.key.pem", "ssl.certificate.location", "ssl.certificate.pem",
    "ssl.ca.location", "ssl.ca.pem", "ssl.crl.location", "ssl.keystore.location",
    "ssl.keystore.password",
    // SASL
    "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
    "sasl.oauthbearer.config", "enable.sasl.oauthbearer.unsecure.jwt", "sasl.oauthbearer.method",
    "sasl.oauthbearer.client.id", "sasl.oauthbearer.client.secret", "sasl.oauthbearer.scope",
    "sasl.oauthbearer.extensions",
    // producer batching
    "batch.num.messages", "batch.size", "compression.level", "sticky.partitioning.linger.ms",
    "request.timeout.ms", "partitioner", "message.copy.max.bytes",
    "queue.buffering.backpressure.threshold",
    // consumer group and fetching
    "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
    "partition.assignment.strategy", "group.instance.id", "group.protocol.type",
    "coordinator.query.interval.ms", "fetch.wait.max.ms", "fetch.min.bytes", "fetch.max.bytes",
    "fetch.message.max.bytes", "max.partition.fetch.bytes", "fetch.error.backoff.ms",
    "queued.min.messages", "queued.max.messages.kbytes", "isolation.level", "check.crcs",
    "auto.commit.interval.ms", "offset.store.method"};

// Kerberos names: passed through only when made of these characters (no shell metacharacter,
// no space, no quote), though with the kinit refresh off no shell ever sees them.
constexpr std::string_view kerberos_names[] = {"sasl.kerberos.principal",
                                               "sasl.kerberos.service.name"};

// Set by the plugin from its own options, or fixed by its delivery guarantees.
constexpr std::string_view reserved[] = {"bootstrap.servers",
                                         "metadata.broker.list",
                                         "group.id",
                                         "enable.auto.commit",
                                         "enable.auto.offset.store",
                                         "auto.offset.reset",
                                         "enable.partition.eof",
                                         "enable.idempotence",
                                         "acks",
                                         "request.required.acks",
                                         "max.in.flight.requests.per.connection",
                                         "max.in.flight",
                                         "retries",
                                         "message.send.max.retries",
                                         "message.timeout.ms",
                                         "delivery.timeout.ms",
                                         "compression.type",
                                         "compression.codec",
                                         "queue.buffering.max.messages",
                                         "queue.buffering.max.kbytes",
                                         "enable.gapless.guarantee",
                                         "transactional.id",
                                         "transaction.timeout.ms",
                                         "linger.ms",
                                         "queue.buffering.max.ms",
                                         "dr_msg_cb",
                                         "dr_cb",
                                         "sasl.kerberos.min.time.before.relogin"};

// Set on every handle after the user's properties: librdkafka's Kerberos refresh renders
// sasl.kerberos.kinit.cmd with config values and runs it through system(), at once when a
// GSSAPI handle is created. 0 turns the refresh off (no command is ever run, and broker
// connections do not wait for one); the command is replaced by one without placeholders as
// well, so that no config value could reach a shell even if it ran.
constexpr std::pair<const char*, const char*> no_commands[] = {
    {"sasl.kerberos.min.time.before.relogin", "0"}, {"sasl.kerberos.kinit.cmd", "/bin/false"}};

template <std::size_t N>
bool listed(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

bool kerberos_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == '@';
}

}  // namespace

std::string refusal(std::string_view name) {
  const std::string n(name);
  if (listed(dangerous, name))
    return "properties: '" + n +
           "' is refused: it makes librdkafka load code or run a command, which a config file "
           "must never be able to do";
  if (name == "sasl.kerberos.keytab")
    return "properties: 'sasl.kerberos.keytab' is refused: librdkafka only pastes it into its "
           "kinit command, which it runs through a shell, and kafka_sink never lets it run "
           "one. Keep the Kerberos ticket cache fresh outside the agent: set "
           "KRB5_CLIENT_KTNAME=<keytab> in the agent's environment (the Kerberos library then "
           "gets tickets from the keytab itself) or run k5start";
  if (listed(reserved, name))
    return "properties: '" + n +
           "' is set by kafka_sink itself (from its options brokers, topic, group, compression, "
           "linger, delivery_timeout, buffer_*, or by its delivery guarantees: idempotence, "
           "acks=all, manual commits, no kinit command) and cannot be overridden";
  if (listed(allowed, name) || listed(kerberos_names, name) ||
      name == "sasl.oauthbearer.token.endpoint.url")
    return "";
  return "properties: '" + n +
         "' is not in kafka_sink's allowlist (TLS, SASL, security.protocol, client, socket, "
         "batching and consumer-group tuning); see the plugin's README";
}

std::string value_refusal(std::string_view name, std::string_view value) {
  const std::string n(name);
  if (listed(kerberos_names, name)) {
    if (value.empty() || value.size() > 255 || value.front() == '-' ||
        !std::all_of(value.begin(), value.end(), kerberos_char))
      return "properties: '" + n +
             "': expected a Kerberos name of 1 to 255 ASCII letters, digits and . _ - / @ "
             "(like kafka-client/host.example.com@EXAMPLE.COM), not starting with '-'";
    return "";
  }
  if (name == "sasl.oauthbearer.token.endpoint.url") {
    const bool web = value.rfind("https://", 0) == 0 || value.rfind("http://", 0) == 0;
    const bool clean = std::none_of(value.begin(), value.end(), [](char c) {
      return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
    });
    if (!web || !clean || value.size() > 2048)
      return "properties: '" + n +
             "': expected an https:// (or http://) URL without spaces or control characters";
  }
  return "";
}

void set_default(property_list& list, std::string_view name, std::string_view value) {
  if (std::none_of(list.begin(), list.end(), [&](const auto& p) { return p.first == name; }))
    list.emplace_back(name, value);
}

conf_ptr make_conf(const property_list& fixed, const property_list& user) {
  conf_ptr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : user) {
    std::string why = refusal(k);
    if (why.empty()) why = value_refusal(k, v);
    if (!why.empty()) throw std::invalid_argument(why);
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::invalid_argument("properties: '" + k + "': " + err);
  }
  for (const auto& [k, v] : fixed)
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::invalid_argument(std::string(k).append("=").append(v).append(": ").append(err));
  for (const auto& [k, v] : no_commands)
    if (rd_kafka_conf_set(conf.get(), k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::logic_error(std::string(k) + "=" + v + ": " + err);
  return conf;
}

void check_client_config(rd_kafka_type_t type, property_list fixed, const property_list& user,
                         const char* what) {
  fixed.erase(std::remove_if(fixed.begin(), fixed.end(),
                             [](const auto& p) { return p.first == "bootstrap.servers"; }),
              fixed.end());
  conf_ptr conf = make_conf(fixed, user);
  // Quiet: without brokers librdkafka warns that it cannot connect, which is the point here.
  rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) throw std::invalid_argument(std::string("cannot create ") + what + ": " + err);
  static_cast<void>(conf.release());  // owned by rk now
  rd_kafka_destroy(rk);
}

std::string tls_failure(std::string_view reason, std::string_view verify_error) {
  if (reason.find("SSL routines") == std::string_view::npos) return "";
  if (reason.find("certificate verify failed") != std::string_view::npos && !verify_error.empty()) {
    std::string hint = "the broker's certificate was refused: " + std::string(verify_error);
    if (verify_error.find("mismatch") != std::string_view::npos)  // hostname, IP address
      hint += "; it does not name the host given in brokers";
    else if (verify_error.find("issuer") != std::string_view::npos ||
             verify_error.find("self-signed") != std::string_view::npos ||
             verify_error.find("self signed") != std::string_view::npos)
      hint += "; it is not issued by the CA in ssl.ca.location";
    return "TLS with Kafka failed (" + hint + "): " + std::string(reason);
  }
  const struct {
    std::string_view text, hint;
  } hints[] = {
      {"certificate verify failed",
       "the broker's certificate is not issued by the CA in ssl.ca.location, or does not name "
       "the host given in brokers, or has expired"},
      {"alert certificate required",
       "the broker requires a client certificate: set ssl.certificate.location and "
       "ssl.key.location"},
      {"alert certificate expired", "the broker refused the client certificate: it has expired"},
      {"alert unknown ca",
       "the broker does not trust the client certificate's issuer (ssl.certificate.location)"},
      {"alert bad certificate", "the broker refused the client certificate"},
      {"wrong version number",
       "the broker does not speak TLS on this port (security.protocol or the port in brokers)"},
  };
  for (const auto& h : hints)
    if (reason.find(h.text) != std::string_view::npos)
      return "TLS with Kafka failed (" + std::string(h.hint) + "): " + std::string(reason);
  return "TLS with Kafka failed: " + std::string(reason);
}

bool repeat_limiter::due(const std::string& text) {
  // Compared without digits: the same failure differs in ports and "after 2ms" timings.
  std::string shape;
  std::copy_if(text.begin(), text.end(), std::back_inserter(shape),
               [](char c) { return c < '0' || c > '9'; });
  const auto now = std::chrono::steady_clock::now();
  if (shape == last_ && now - at_ < std::chrono::minutes(1)) return false;
  last_ = std::move(shape);
  at_ = now;
  return true;
}

sdk::level to_level(int syslog_level) {
  if (syslog_level <= 3) return sdk::level::error;
  if (syslog_level == 4) return sdk::level::warn;
  if (syslog_level <= 6) return sdk::level::info;
  return sdk::level::debug;
}

void route_logs(rd_kafka_conf_t* conf, callback_context* ctx) {
  rd_kafka_conf_set_opaque(conf, ctx);
  // Called by librdkafka for each certificate of a broker's chain with OpenSSL's verdict in
  // x509_error; returning 0 refuses, exactly when OpenSSL refused.
  rd_kafka_conf_set_ssl_cert_verify_cb(
      conf,
      [](rd_kafka_t*, const char*, int32_t, int* x509_error, int, const char*, size_t, char* errstr,
         size_t errstr_size, void* opaque) -> int {
        if (*x509_error == X509_V_OK) return 1;
        const char* why = X509_verify_cert_error_string(*x509_error);
        std::snprintf(errstr, errstr_size, "%s", why);
        if (auto* c = static_cast<callback_context*>(opaque)) {
          std::lock_guard lock(c->verify_mu);
          c->last_verify_error = why;
        }
        return 0;
      });
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int, const char* fac, const char* buf) {
    if (const auto* c = static_cast<const callback_context*>(rd_kafka_opaque(rk)))
      c->host.log(sdk::level::debug, std::string("librdkafka ") + fac + ": " + buf);
  });
}

}  // namespace isitup::kafka
