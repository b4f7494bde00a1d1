// dns_check's options: declared for the host (which validates them), and read once per check
// at prepare time into a dns_query, which every run of the check shares read-only.
#pragma once

#include <re2/re2.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <isitup/plugin.hpp>

namespace isitup::dns {

// What one check asks and expects. Built on the main thread, then immutable: any thread.
struct dns_query {
  std::string name;                 // the name asked for (a PTR of an IP: its reverse name)
  uint16_t type = 1;                // A
  std::vector<unsigned char> wire;  // the query message (id 0: c-ares sets it per send)
  std::string servers;              // "ip:port,..." for ares_set_servers_ports_csv; "": resolv.conf
  bool tcp = false;
  int attempts = 2;
  int expect_rcode = 0;
  int64_t expect_min_answers = 1;
  std::vector<std::unique_ptr<re2::RE2>> expect_answers;
  // Which c-ares channel runs the query: checks with equal keys share one.
  std::string channel_key(std::chrono::milliseconds try_timeout) const;
};

std::vector<sdk::option> declared_options();

// Reads a check's target and options; throws std::invalid_argument naming the option and
// what was expected.
std::shared_ptr<const dns_query> make_query(const std::string& target,
                                            const sdk::options_view& options);

// Answers kept in a result's `extra` at most, and characters of each answer's data kept there.
constexpr size_t max_answers_shown = 20;
constexpr size_t max_answer_chars = 256;

}  // namespace isitup::dns
