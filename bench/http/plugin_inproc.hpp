// The plugin alone: http_check compiled into the benchmark and driven through its ABI by the
// SDK's fake host (no scheduler, pipeline or sink). Each of `in_flight` checks starts its
// next run from its completion, so the engine's loop is the only busy thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "syscall_floor.hpp"

using check_options = std::map<std::string, std::string>;

floor_result plugin_inproc(const std::vector<std::string>& urls, int seconds,
                           const check_options& options);

// Memory per run in flight: this process's RSS with every check of `urls` in flight (one run
// each, started at once; slow answers keep them open) minus its RSS just before they started
// (checks prepared, free memory given back to the system first). `up` counts the runs that
// ended up.
struct in_flight_memory {
  double kib_per_run = 0;
  size_t up = 0;
};
in_flight_memory plugin_rss_in_flight(const std::vector<std::string>& urls,
                                      const check_options& options);
