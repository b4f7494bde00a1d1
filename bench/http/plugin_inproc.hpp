// The plugin alone: http_check compiled into the benchmark and driven through its ABI by the
// SDK's fake host (no scheduler, pipeline or sink). Each of `in_flight` checks starts its
// next run from its completion, so the engine's loop is the only busy thread.
#pragma once

#include <string>
#include <vector>

#include "syscall_floor.hpp"

floor_result plugin_inproc(const std::vector<std::string>& urls, int seconds,
                           const std::string& engine);
