// icmp_check's packets and bookkeeping (icmp_packet.hpp).
#include "icmp_packet.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace isitup::icmp {
namespace {

constexpr unsigned char echo_request_v4 = 8, echo_reply_v4 = 0;
constexpr unsigned char echo_request_v6 = 128, echo_reply_v6 = 129;

uint16_t checksum(const unsigned char* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (n % 2) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(unsigned char* p, uint16_t v) {
  p[0] = static_cast<unsigned char>(v >> 8);
  p[1] = static_cast<unsigned char>(v);
}

uint16_t get16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

void build_echo(std::vector<unsigned char>& out, bool v6, uint16_t id, uint16_t seq, uint64_t token,
                uint32_t serial, size_t data_size) {
  data_size = std::max(data_size, payload_header);
  out.assign(8 + data_size, 0);
  out[0] = v6 ? echo_request_v6 : echo_request_v4;
  put16(&out[4], id);
  put16(&out[6], seq);
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<unsigned char>(token >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out[16 + i] = static_cast<unsigned char>(serial >> (24 - 8 * i));
  for (size_t i = 8 + payload_header; i < out.size(); ++i)
    out[i] = static_cast<unsigned char>(i);  // a recognizable filler, as ping's
  if (!v6) put16(&out[2], checksum(out.data(), out.size()));
}

std::optional<echo_reply> parse_echo_reply(const unsigned char* p, size_t n, bool v6,
                                           bool ip_header) {
  if (ip_header) {
    if (n < 20 || (p[0] >> 4) != 4) return {};
    const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > n) return {};
    p += ihl;
    n -= ihl;
  }
  if (n < 8 + payload_header || p[0] != (v6 ? echo_reply_v6 : echo_reply_v4) || p[1] != 0)
    return {};
  echo_reply r;
  r.id = get16(p + 4);
  r.seq = get16(p + 6);
  for (int i = 0; i < 8; ++i) r.token = (r.token << 8) | p[8 + i];
  for (int i = 0; i < 4; ++i) r.serial = (r.serial << 8) | p[16 + i];
  return r;
}

std::optional<uint16_t> probe_table::add(void* run, uint32_t serial, clock::time_point sent_at) {
  if (in_flight_ >= slots_.size()) return {};
  while (slots_[next_].run) ++next_;  // wraps at 65536; a free slot exists
  const uint16_t seq = next_++;
  slots_[seq] = probe{run, serial, sent_at};
  ++in_flight_;
  return seq;
}

std::optional<probe_table::probe> probe_table::take(uint16_t seq, uint32_t serial) {
  probe& p = slots_[seq];
  if (!p.run || p.serial != serial) return {};
  const probe found = p;
  p = probe{};
  --in_flight_;
  return found;
}

void probe_table::remove(uint16_t seq, void* run) {
  if (slots_[seq].run != run || !run) return;
  slots_[seq] = probe{};
  --in_flight_;
}

ping_summary summarize(uint32_t sent, const std::vector<double>& rtts_ms) {
  ping_summary s;
  s.sent = sent;
  s.received = static_cast<uint32_t>(std::min<size_t>(rtts_ms.size(), sent));
  s.loss_percent = sent == 0 ? 100.0 : 100.0 * (sent - s.received) / sent;
  if (rtts_ms.empty()) return s;
  const auto [lo, hi] = std::minmax_element(rtts_ms.begin(), rtts_ms.end());
  s.min_ms = *lo;
  s.max_ms = *hi;
  s.avg_ms = std::accumulate(rtts_ms.begin(), rtts_ms.end(), 0.0) / rtts_ms.size();
  double var = 0;
  for (double r : rtts_ms) var += (r - s.avg_ms) * (r - s.avg_ms);
  s.stddev_ms = std::sqrt(var / rtts_ms.size());
  return s;
}

}  // namespace isitup::icmp
