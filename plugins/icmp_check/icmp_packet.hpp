// icmp_check's packets and bookkeeping, as pure code (no sockets, no clock; any thread):
// building an echo request, reading an echo reply, the table that matches replies to the
// probes in flight, and a run's statistics.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace isitup::icmp {

using clock = std::chrono::steady_clock;

// The payload of every echo request starts with these 12 bytes: the plugin instance's random
// token and the probe's serial number, so a reply is matched to exactly one probe even when
// another program pings with the same identifier or a sequence number wrapped around.
constexpr size_t payload_header = 12;

// An ICMP (v6: ICMPv6) echo request of `data_size` data bytes (>= payload_header) in `out`.
// The ICMPv4 checksum is computed; the kernel fills in ICMPv6's.
void build_echo(std::vector<unsigned char>& out, bool v6, uint16_t id, uint16_t seq, uint64_t token,
                uint32_t serial, size_t data_size);

struct echo_reply {
  uint16_t id = 0, seq = 0;
  uint64_t token = 0;
  uint32_t serial = 0;
};

// Reads an echo reply from what a socket received: `ip_header` when the packet starts with
// an IPv4 header (raw IPv4 sockets). nullopt for anything else (other ICMP types, short or
// foreign packets).
std::optional<echo_reply> parse_echo_reply(const unsigned char* p, size_t n, bool v6,
                                           bool ip_header);

// The probes of one socket in flight, by sequence number: at most 65536 at once (one per
// sequence number), so memory is bounded whatever the replies do.
class probe_table {
 public:
  struct probe {
    void* run = nullptr;  // the owner's per-run state; never dereferenced here
    uint32_t serial = 0;
    clock::time_point sent_at{};
  };
  probe_table() : slots_(65536) {}
  // A free sequence number for a new probe, or nullopt when all 65536 are in flight.
  std::optional<uint16_t> add(void* run, uint32_t serial, clock::time_point sent_at);
  // The probe a reply answers, removed from the table; nullopt for an unknown sequence
  // number, a serial that does not match (a stale or foreign reply) or a duplicate.
  std::optional<probe> take(uint16_t seq, uint32_t serial);
  // Forgets a probe (its run ended without its reply).
  void remove(uint16_t seq, void* run);
  size_t in_flight() const { return in_flight_; }

 private:
  std::vector<probe> slots_;  // run == nullptr: free
  uint16_t next_ = 0;
  size_t in_flight_ = 0;
};

// A run's figures. Times in milliseconds.
struct ping_summary {
  uint32_t sent = 0, received = 0;
  double loss_percent = 0;
  double min_ms = -1, avg_ms = -1, max_ms = -1, stddev_ms = -1;  // -1: nothing received
};
// `sent` probes, of which the round-trip times `rtts_ms` came back. The standard deviation
// is the population's (as ping's mdev).
ping_summary summarize(uint32_t sent, const std::vector<double>& rtts_ms);

}  // namespace isitup::icmp
