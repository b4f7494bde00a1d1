// kafka_sink: Kafka as the transport between agents. One plugin, two kinds:
// - sink (probe agents): produces every result to a topic, durable on delivery report;
// - source (writer agents): consumes the topic in a group, commits after the sinks' ack;
// - catalog (probe fleets): the shared check catalog, read in a group per location.
// Uses only the public SDK and librdkafka.
#include <isitup/plugin.hpp>

#include "kafka_catalog.hpp"
#include "kafka_producer.hpp"
#include "kafka_source.hpp"

// Batches a sink holds at once: enough for the whole default buffer (120000 results) in
// batches of 100, so the buffer bound, not this number, is what limits the sink.
constexpr uint32_t kafka_sink_max_in_flight = 1200;

ISITUP_PLUGIN(isitup::sdk::plugin_def(
                  "kafka_sink", "1.0.0",
                  "Kafka transport: produces results to a topic (sink) and "
                  "consumes them in a group for writer agents (source); shares a check catalog "
                  "across a probe fleet (catalog)")
                  .sink<isitup::kafka::producer_sink>(isitup::kafka::producer_options(),
                                                      kafka_sink_max_in_flight)
                  .source<isitup::kafka::consumer_source>(isitup::kafka::source_options())
                  .catalog<isitup::kafka::kafka_catalog>(isitup::kafka::catalog_options()))
