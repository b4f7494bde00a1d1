// pg_sink's options (pg_sink_options.hpp: declarations, types, ranges) read and checked into
// what the sink's parts take: the writer's, maintenance's and the sink's own batching settings.
#pragma once

#include <isitup/plugin.hpp>

#include <chrono>
#include <cstdint>

#include "pg_maintenance.hpp"
#include "pg_writer.hpp"

namespace isitup::pg {

struct sink_settings {
  writer_options writer;  // its to_json is left to the caller
  maintenance_options maintenance;
  bool maintain = true;  // option `maintenance`
  int64_t batch_size = 5000;
  std::chrono::milliseconds batch_delay{0};
  std::chrono::milliseconds backoff_max{5000};
};

// Throws std::invalid_argument naming the option and what was expected ("<name>: ...", which
// the agent reports at that option's file:line:column).
sink_settings read_settings(const sdk::options_view& o);

}  // namespace isitup::pg
