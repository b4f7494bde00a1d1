// What the HTTP benchmark's cases share: the nginx they check (started on first use, on four
// loopback addresses, with TLS on each), a 145-certificate CA bundle, wrk's ceiling, and
// running the built agent on a config while measuring its results, CPU and RSS.
// Single-threaded (the benchmark's main thread).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "cpu_time.hpp"
#include "test_servers.hpp"

namespace isitup::bench {

extern const std::vector<std::string> addresses;  // 127.0.0.1-4
extern int phase_seconds;                         // --phase_seconds (default 5)

// nginx with two workers on `addresses` (http_port and https_port), slow answers in 2 s;
// exits the program when it cannot start.
http::testing::nginx_server& server();
// The system bundle plus the test CA (~145 certificates), in a temp dir.
const std::string& ca_bundle();

// "http://127.0.0.N:port/path?n=i" over the four addresses (https with `tls`).
std::string url(size_t i, const char* path, bool tls = false);

// wrk -t2 -c64 -H 'Connection: close' against `target` for `seconds`: requests/s (0: failed),
// and wrk's own CPU (user + sys, from this process's reaped children) per request.
struct wrk_figures {
  double rate = 0;
  double cpu_us = 0;
};
wrk_figures wrk_run(const std::string& target, int seconds);
double wrk_rate(const std::string& target, int seconds);  // wrk_run's rate

// The agent on `body` (checks; the agent, pipeline and sink sections are added), measured
// from 3 s after its start for `seconds`: results per second (those up, and those whose line
// contains `marker`, when given), CPU per result in microseconds, RSS at the end.
struct agent_figures {
  double rate = 0, up_rate = 0, marked_rate = 0;
  double scrapes = 0;  // /metrics answered with 200 during the window (scrape_ms > 0)
  cpu_time cpu_us;
  double rss_mib = 0;
  double sockets = 0;   // the agent's open sockets (its connections in flight), mean of samples
  double switches = 0;  // context switches of all its threads per result
};
// With scrape_ms > 0 the agent has agent.http on (per-check series too) and a thread of this
// process scrapes its /metrics every scrape_ms through the run.
agent_figures run_agent(const std::string& body, int seconds, const std::string& marker = "",
                        int scrape_ms = 0);

// The agent's RSS (KiB) with `checks` http checks configured (interval 1 h).
long agent_rss_with_checks(size_t checks);

long rss_kib(pid_t pid);

}  // namespace isitup::bench
