#include "kafka_config.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace isitup::kafka {
namespace {

// Properties that load code or run a command: never accepted from a config file.
constexpr std::string_view dangerous[] = {"plugin.library.paths",    "ssl.engine.location",
                                          "ssl.engine.id",           "ssl.providers",
                                          "sasl.kerberos.kinit.cmd", "interceptors"};

// Passed through as given (TLS, SASL, networking, batching and group tuning).
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
    "allow.auto.create.topics", "debug", "log_level", "enable.ssl.certificate.verification",
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
    "auto.commit.interval.ms", "offset.store.method", "client.software.name"};

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
                                         "dr_cb"};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string refusal(std::string_view name) {
  const std::string n(name);
  if (std::find(std::begin(dangerous), std::end(dangerous), name) != std::end(dangerous))
    return "properties: '" + n +
           "' is refused: it makes librdkafka load code or run a command, which a config file "
           "must never be able to do";
  if (std::find(std::begin(reserved), std::end(reserved), name) != std::end(reserved))
    return "properties: '" + n +
           "' is set by kafka_sink itself (from its options brokers, topic, group, compression, "
           "linger, delivery_timeout, buffer_*, or by its delivery guarantees: idempotence, "
           "acks=all, manual commits) and cannot be overridden";
  if (std::find(std::begin(allowed), std::end(allowed), name) != std::end(allowed)) return "";
  if (starts_with(name, "ssl.") || starts_with(name, "sasl.")) return "";
  return "properties: '" + n +
         "' is not in kafka_sink's allowlist (TLS ssl.*, SASL sasl.*, security.protocol, "
         "client, socket, batching and consumer-group tuning); see the plugin's README";
}

conf_ptr make_conf(const property_list& fixed, const property_list& user) {
  conf_ptr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : user) {
    const std::string why = refusal(k);
    if (!why.empty()) throw std::invalid_argument(why);
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::invalid_argument("properties: '" + k + "': " + err);
  }
  for (const auto& [k, v] : fixed)
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::invalid_argument(k + "=" + v + ": " + err);
  return conf;
}

sdk::level to_level(int syslog_level) {
  if (syslog_level <= 3) return sdk::level::error;
  if (syslog_level == 4) return sdk::level::warn;
  if (syslog_level <= 6) return sdk::level::info;
  return sdk::level::debug;
}

void route_logs(rd_kafka_conf_t* conf, callback_context* ctx) {
  rd_kafka_conf_set_opaque(conf, ctx);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int, const char* fac, const char* buf) {
    if (const auto* c = static_cast<const callback_context*>(rd_kafka_opaque(rk)))
      c->host.log(sdk::level::debug, std::string("librdkafka ") + fac + ": " + buf);
  });
}

}  // namespace isitup::kafka
